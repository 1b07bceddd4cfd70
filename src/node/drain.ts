/**
 * Drain in maintenance mode: the seeds' "existing calls and chat sessions continue; as users end them the node
 * comes to carry no traffic". Read off the status document, so any plane that publishes a top-level `calls`
 * or `streams` count in its section takes part without knowing about maintenance mode.
 */
type Doc = Record<string, unknown>;

/** Counts of traffic that holds a node up: a call's media, an XMPP stream (chat session). */
const TRAFFIC = ['calls', 'streams'] as const;
/** Shown beside the traffic but not waited for: clients move their registrations when they next refresh. */
const HELD = ['registrations'] as const;

export interface DrainReport {
  since: string;
  /** "<section>.<field>" → count, for every traffic figure still above zero. */
  active: Record<string, number>;
  /** Registrations still held here (informative). */
  registrations: number;
  /** No call and no chat session left: the node can be stopped without cutting anyone off. */
  drained: boolean;
}

const isObject = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);

export function drainReport(doc: Doc, since: string): DrainReport {
  const active: Record<string, number> = {};
  let registrations = 0;
  for (const [name, section] of Object.entries(doc)) {
    if (!isObject(section)) continue;
    for (const field of TRAFFIC) {
      const v = section[field];
      if (typeof v === 'number' && v > 0) active[`${name}.${field}`] = v;
    }
    for (const field of HELD) {
      const v = section[field];
      if (typeof v === 'number') registrations = Math.max(registrations, v);
    }
  }
  return { since, active, registrations, drained: Object.keys(active).length === 0 };
}
