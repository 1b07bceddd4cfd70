import type { Logger } from '../log/index.js';
import type { Store } from '../store/index.js';
import type { AlarmSeverity } from './alarms.js';
import type { TlsFiles } from './tls.js';

/**
 * What a composition root hands each plane it wires: configuration already validated, the logger, the shared
 * store, the node's TLS material, a place to publish status, and a place to register what must stop on exit.
 * Planes receive only this, never another plane's object. The composition root (src/node/context.ts) makes it.
 */
export interface NodeContext<C> {
  cfg: C;
  log: Logger;
  /** When set (a HEP feed to Homer), the SIP planes hand it each message they take in or send outside the link. */
  sipTap?: (
    direction: 'in' | 'out',
    data: Buffer | string,
    conn: { remote: string; localAddress: string; localPort: number; transport: 'tcp' | 'tls' },
  ) => void;
  store: Store;
  tls: TlsFiles;
  /**
   * Adds a section to GET /api/status (and so to the status page and metrics). A plane reads it as a type of its
   * own that extends SectionStatus (status.ts): drain and the alarms read those figures and no others.
   */
  addStatus(section: string, read: () => unknown): void;
  /** Registers a stop step; steps run in reverse order of registration when the node drains. */
  onClose(step: () => Promise<void> | void): void;
  /**
   * Maintenance mode: when true, refuse NEW registrations, sign-ins and calls (SIP 503, HTTP 503,
   * XMPP service-unavailable) and keep existing ones. Read it at the moment a new one arrives.
   */
  maintenance(): boolean;
  /** Called when maintenance mode turns on or off (e.g. to stop accepting, or to drain). */
  onMaintenance(cb: (on: boolean) => void): void;
  /** Raises an alarm shown on the status page and in /metrics until cleared; ids are "<plane>.<what>". */
  alarm(id: string, severity: AlarmSeverity, message: string): void;
  clearAlarm(id: string): void;
  /** Offers an operator action as POST /api/actions/<name> on the admin API (e.g. discovery-refresh); `input` is the JSON body. */
  addAction(name: string, run: (input: Record<string, unknown>) => Promise<unknown>): void;
  /** Offers a list too long for the status document as GET /api/<name> (e.g. registrations). */
  addQuery(name: string, run: () => Promise<unknown[]> | unknown[]): void;
}
