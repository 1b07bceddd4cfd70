/**
 * Shared state behind one small interface: registrations, flows, cached authorizations, rate counters.
 * Async throughout so a cluster can put it on Redis without changing a plane. Namespaces keep planes apart.
 */
export interface Store {
  get<T>(ns: string, key: string): Promise<T | undefined>;
  /** ttlMs: the entry vanishes after this long (omitted: kept until deleted). */
  set<T>(ns: string, key: string, value: T, ttlMs?: number): Promise<void>;
  delete(ns: string, key: string): Promise<boolean>;
  /** Adds 1 and returns the new count; the window (ttlMs) starts with the first increment. */
  incr(ns: string, key: string, ttlMs: number): Promise<number>;
  entries<T>(ns: string): Promise<Array<[string, T]>>;
  count(ns: string): Promise<number>;
  close(): Promise<void>;
  /** Where the state lives and entries per namespace, for the status page (`store` section). */
  describe(): { kind: string; entries: Record<string, number> };
}
