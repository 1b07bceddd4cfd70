/**
 * Alarms: conditions an operator must act on. Some are raised by whoever sees them (a certificate problem at
 * start-up, a publisher that does not answer); the rest are read off the status document each time it is
 * built (link down, capacity, staleness), so they clear by themselves when the figure recovers.
 */
import {
  capacityOf,
  linkFigures,
  sectionFigures,
  type Alarm,
  type AlarmSeverity,
  type StatusDocument,
} from '../host/index.js';

export type { Alarm, AlarmSeverity };

export class AlarmBoard {
  readonly #alarms = new Map<string, Alarm>();

  /** Raises (or re-words) an alarm; `since` stays at the first time it was raised. */
  raise(id: string, severity: AlarmSeverity, message: string): void {
    const prev = this.#alarms.get(id);
    this.#alarms.set(id, { id, severity, message, since: prev?.since ?? new Date().toISOString() });
  }

  clear(id: string): void {
    this.#alarms.delete(id);
  }

  /** Clears every alarm whose id starts with `prefix` (a plane re-raising its whole set). */
  clearPrefix(prefix: string): void {
    for (const id of [...this.#alarms.keys()]) if (id.startsWith(prefix)) this.#alarms.delete(id);
  }

  list(): Alarm[] {
    return [...this.#alarms.values()];
  }

  readonly #acks = new Map<string, string>();

  /** Remembers an operator's acknowledgement of an alarm id until that alarm is no longer active. */
  acknowledge(id: string): void {
    if (!this.#acks.has(id)) this.#acks.set(id, new Date().toISOString());
  }

  /**
   * The active alarms with their acknowledgement; an acknowledgement of an alarm that cleared is forgotten, so
   * the same condition coming back later is new again (as Expressway's alarms are).
   */
  acknowledged(active: Alarm[]): Alarm[] {
    const ids = new Set(active.map((a) => a.id));
    for (const id of [...this.#acks.keys()]) if (!ids.has(id)) this.#acks.delete(id);
    return active.map((a) => (this.#acks.has(a.id) ? { ...a, acknowledged: this.#acks.get(a.id)! } : a));
  }
}

/** Capacity above this share of a section's limit raises an alarm (the seeds' 80% warning). */
export const CAPACITY_ALARM_SHARE = 0.8;
/** The link may be down this long (a reconnect) before it is an alarm. */
export const LINK_DOWN_GRACE_MS = 10_000;

/**
 * Alarms that follow from the status document itself, read by the figures every section type shares
 * (SectionStatus, LinkSection in src/host/status.ts): the traversal link's state, each section's capacity
 * and staleness.
 */
export function statusAlarms(doc: StatusDocument, now = Date.now()): Alarm[] {
  const out: Alarm[] = [];
  const link = linkFigures(doc.traversal);
  if (link && link.state !== 'up') {
    const since = link.since !== undefined ? Date.parse(link.since) : NaN;
    const started = typeof doc.started === 'string' ? Date.parse(doc.started) : NaN;
    const downSince = Number.isNaN(since) ? started : since;
    if (Number.isNaN(downSince) || now - downSince >= LINK_DOWN_GRACE_MS) {
      const sinceIso = Number.isNaN(downSince) ? new Date(now).toISOString() : new Date(downSince).toISOString();
      const why = link.lastError !== undefined ? `: ${link.lastError}` : '';
      out.push({
        id: 'traversal.link-down',
        severity: 'error',
        message: `traversal link is ${link.state}${why}`,
        since: sinceIso,
      });
    }
  }
  const store = doc.store as { state?: unknown; since?: unknown; lastError?: unknown } | undefined;
  if (store?.state === 'down') {
    const why = typeof store.lastError === 'string' ? `: ${store.lastError}` : '';
    out.push({
      id: 'store.unreachable',
      severity: 'error',
      message: `shared store unreachable${why}; serving what this node holds, its writes wait to be replayed`,
      since: typeof store.since === 'string' ? store.since : new Date(now).toISOString(),
    });
  }
  for (const [name, section] of Object.entries(doc)) {
    const figures = sectionFigures(section);
    const cap = capacityOf(figures);
    if (cap && cap.limit > 0 && cap.used / cap.limit > CAPACITY_ALARM_SHARE) {
      const pct = Math.round((cap.used / cap.limit) * 100);
      const label = cap.what ? `${name} ${cap.what}` : name;
      out.push({
        id: `${name}.capacity`,
        severity: 'warning',
        message: `${label}: ${cap.used} of ${cap.limit} in use (${pct}%, above ${CAPACITY_ALARM_SHARE * 100}%)`,
        since: new Date(now).toISOString(),
      });
    }
    if (figures.stale) {
      const why = figures.staleReason ?? 'not refreshed in time';
      out.push({
        id: `${name}.stale`,
        severity: 'warning',
        message: `${name} is stale: ${why}`,
        since: new Date(now).toISOString(),
      });
    }
  }
  return out;
}
