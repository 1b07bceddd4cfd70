// The SIP plane's two status sections, as the node publishes them (NodeContext.addStatus): `sip` (registrations,
// calls, each node's proxy figures) and `media` (call legs against capacity.calls, relays, the engine's figures).
import type { SectionStatus } from '../../host/index.js';

/** The `sip` section, edge and core. */
export interface SipStatus extends SectionStatus {
  /** Registrations held through this node. */
  registrations: number;
  /** capacity.registrations: the registrations' capacity alarm reads them against it. */
  capacity: number;
  /** Call legs carried: what maintenance drain waits for. */
  calls: number;
  /** The newest legs, with their media. */
  callList: Array<Record<string, unknown>>;
  /** How legs ended, by cause. */
  callsEnded: Record<string, number>;
  callsUnreadable: number;
  /** Each node's own figures: its listener or routes, connections and counters. */
  [figure: string]: unknown;
}

/** The `media` section, edge and core. */
export interface MediaStatus extends SectionStatus {
  /** Call legs against capacity.calls (null: no limit): the calls' capacity alarm reads them. */
  calls: number;
  capacity: number | null;
  /** Relays open. */
  relays: number;
  /** The relays' counters, and the engine's figures (ports in use, packets, SRTP backend) when there is one. */
  [figure: string]: unknown;
}
