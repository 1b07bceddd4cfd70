import type { Alarm, NodeContext } from '../host/index.js';
import { AlarmBoard, statusAlarms } from '../admin/index.js';
import { drainReport } from './drain.js';

/** The composition root's hold on a node context: the side of it planes never see. */
export interface ContextHandle<C> {
  ctx: NodeContext<C>;
  status(): Record<string, unknown>;
  close(): Promise<void>;
  setMaintenance(on: boolean): void;
  action(name: string): ((input?: Record<string, unknown>) => Promise<unknown>) | undefined;
  query(name: string): (() => Promise<unknown[]> | unknown[]) | undefined;
  alarms(): Alarm[];
  /** Marks an active alarm as seen by an operator; false when no such alarm is active. */
  acknowledge(id: string): boolean;
}

type ContextMethods =
  | 'addStatus'
  | 'onClose'
  | 'maintenance'
  | 'onMaintenance'
  | 'alarm'
  | 'clearAlarm'
  | 'addAction'
  | 'addQuery';

export function createContext<C>(
  base: Omit<NodeContext<C>, ContextMethods>,
  header: Record<string, unknown>,
): ContextHandle<C> {
  const sections = new Map<string, () => unknown>();
  const steps: Array<() => Promise<void> | void> = [];
  const board = new AlarmBoard();
  const actions = new Map<string, (input: Record<string, unknown>) => Promise<unknown>>();
  const queries = new Map<string, () => Promise<unknown[]> | unknown[]>();
  const maintenanceWatchers: Array<(on: boolean) => void> = [];
  let maintenance = (base.cfg as { maintenance_mode?: boolean }).maintenance_mode === true;
  let maintenanceSince = maintenance ? new Date().toISOString() : undefined;
  let drainedLogged = false;
  let drainWatch: NodeJS.Timeout | undefined;
  const readSections = () => {
    const doc: Record<string, unknown> = { ...header, maintenance };
    for (const [name, read] of sections) {
      try {
        doc[name] = read();
      } catch (err) {
        // One broken section must not take the whole page down with it.
        doc[name] = { error: (err as Error).message };
      }
    }
    if (maintenance) {
      const drain = drainReport(doc, maintenanceSince!);
      doc.drain = drain;
      if (drain.drained && !drainedLogged) {
        drainedLogged = true;
        base.log.warn(
          { maintenance: true, registrations: drain.registrations },
          'maintenance mode: drained, no calls or chat sessions left; the node can be stopped',
        );
      }
    }
    return doc;
  };
  // The drained log line must come even when nobody watches the status page.
  const watchDrain = (on: boolean) => {
    clearInterval(drainWatch);
    drainWatch = undefined;
    drainedLogged = false;
    if (!on) return;
    drainWatch = setInterval(() => readSections(), 2000);
    drainWatch.unref();
  };
  if (maintenance) watchDrain(true);
  const ctx: NodeContext<C> = {
    ...base,
    addStatus(section, read) {
      if (sections.has(section)) throw new Error(`status section ${section} registered twice`);
      sections.set(section, read);
    },
    onClose(step) {
      steps.push(step);
    },
    maintenance: () => maintenance,
    onMaintenance(cb) {
      maintenanceWatchers.push(cb);
    },
    alarm: (id, severity, message) => board.raise(id, severity, message),
    clearAlarm: (id) => board.clear(id),
    addAction(name, run) {
      if (actions.has(name)) throw new Error(`admin action ${name} registered twice`);
      actions.set(name, run);
    },
    addQuery(name, run) {
      if (queries.has(name)) throw new Error(`admin query ${name} registered twice`);
      queries.set(name, run);
    },
  };
  const alarmsOf = (doc: Record<string, unknown>) => board.acknowledged([...board.list(), ...statusAlarms(doc)]);
  const alarms = () => alarmsOf(readSections());
  return {
    ctx,
    status() {
      const doc = readSections();
      doc.alarms = alarmsOf(doc);
      return doc;
    },
    alarms,
    setMaintenance(on) {
      if (on === maintenance) return;
      maintenance = on;
      maintenanceSince = on ? new Date().toISOString() : undefined;
      watchDrain(on);
      base.log.warn(
        { maintenance: on },
        on ? 'maintenance mode on: refusing new registrations, sign-ins and calls' : 'maintenance mode off',
      );
      for (const cb of maintenanceWatchers) {
        try {
          cb(on);
        } catch (err) {
          base.log.error({ err: (err as Error).message }, 'maintenance watcher failed');
        }
      }
    },
    action: (name) => {
      const run = actions.get(name);
      return run && ((input = {}) => run(input));
    },
    query: (name) => queries.get(name),
    acknowledge(id) {
      const active = alarms().some((a) => a.id === id);
      if (active) {
        board.acknowledge(id);
        base.log.info({ alarm: id }, 'alarm acknowledged');
      }
      return active;
    },
    async close() {
      watchDrain(false);
      for (const step of steps.reverse()) {
        try {
          await step();
        } catch (err) {
          base.log.error({ err: (err as Error).message }, 'error while stopping');
        }
      }
      steps.length = 0;
    },
  };
}
