/**
 * The status document (GET /api/status, the status page, /metrics): a header (node, role, started, maintenance)
 * and one section per plane. A plane publishes its section through NodeContext.addStatus with a type of its own
 * (SipStatus, MediaStatus, TraversalStatus, ... in each plane's face); the figures below are the ones the node
 * itself acts on, named and typed once here, and every plane's section type extends them.
 */
export type StatusDocument = Record<string, unknown>;

/** A count against its configured limit. */
export interface Capacity {
  used: number;
  limit: number;
}

/** What a section's count is counted against its capacity by: the first of these it has. */
export const CAPACITY_COUNTS = ['registrations', 'calls', 'sessions'] as const;
export type CapacityCount = (typeof CAPACITY_COUNTS)[number];

/** Traffic that keeps a node up in maintenance mode: drain waits until none is left. */
export const TRAFFIC = ['calls', 'streams'] as const;
export type Traffic = (typeof TRAFFIC)[number];

/**
 * A section's figures that drain (src/node/drain.ts) and the alarms (src/admin/alarms.ts) read. What a plane
 * publishes under these names must mean this; anything else in its section is its own.
 */
export interface SectionStatus {
  /** Call legs carried (traffic: drain waits for none). */
  calls?: number;
  /** XMPP streams, i.e. chat sessions (traffic: drain waits for none). */
  streams?: number;
  /** Registrations held here: shown by drain, not waited for (clients move them at their next refresh). */
  registrations?: number;
  /** Sessions counted against a capacity. */
  sessions?: number;
  /**
   * The section's capacity: used of limit, or, flat, the configured limit of its count (the first of
   * CAPACITY_COUNTS it has). Above CAPACITY_ALARM_SHARE of it is an alarm "<section>.capacity".
   */
  capacity?: number | Capacity | null;
  /** The section's answer is out of date: an alarm "<section>.stale" saying why (staleReason). */
  stale?: boolean;
  staleReason?: string;
}

/** The traversal section as the link-down alarm reads it. */
export interface LinkSection {
  state: 'up' | 'down' | 'connecting';
  /** When the state last changed (ISO 8601); without it, since the node started. */
  since?: string;
  lastError?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/**
 * A section as SectionStatus: what is no object (a list, a section that failed to read) has no figures, and a
 * figure not of its type is left out rather than taken for something it is not.
 */
export function sectionFigures(section: unknown): SectionStatus {
  if (!isObject(section)) return {};
  const out: SectionStatus = {};
  for (const k of ['calls', 'streams', 'registrations', 'sessions'] as const) {
    const v = num(section[k]);
    if (v !== undefined) out[k] = v;
  }
  const cap = section.capacity;
  if (typeof cap === 'number') out.capacity = cap;
  else if (isObject(cap) && typeof cap.used === 'number' && typeof cap.limit === 'number')
    out.capacity = { used: cap.used, limit: cap.limit };
  if (section.stale === true) out.stale = true;
  if (typeof section.staleReason === 'string') out.staleReason = section.staleReason;
  return out;
}

/** The traversal section's link figures, when it has them. */
export function linkFigures(section: unknown): LinkSection | undefined {
  if (!isObject(section) || (section.state !== 'up' && section.state !== 'down' && section.state !== 'connecting'))
    return undefined;
  return {
    state: section.state,
    ...(typeof section.since === 'string' ? { since: section.since } : {}),
    ...(typeof section.lastError === 'string' ? { lastError: section.lastError } : {}),
  };
}

/** A section's count against its capacity, with what it counts when the capacity is a flat limit. */
export function capacityOf(s: SectionStatus): (Capacity & { what?: CapacityCount }) | undefined {
  const cap = s.capacity;
  if (typeof cap === 'object' && cap !== null) return cap;
  if (typeof cap !== 'number') return undefined;
  const what = CAPACITY_COUNTS.find((k) => s[k] !== undefined);
  return what ? { used: s[what]!, limit: cap, what } : undefined;
}
