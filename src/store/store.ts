/**
 * Shared state behind one small interface: registrations, flows, cached authorizations, rate counters, the calls'
 * legs and their leases. Async throughout so a cluster puts it on Redis (redis.ts) without changing a plane; the
 * embedded default is one process's memory (memory.ts). Namespaces keep planes apart.
 */
export interface Store {
  /** Whether other nodes share this store (Redis): a cluster. Memory is one process's own. */
  readonly shared: boolean;
  /**
   * The same reads and writes without a promise, on a store that lives in this process (memory); absent on one
   * that does not (Redis). A hot path (a REGISTER's admission and its count, at both nodes) uses it when there:
   * each awaited call cost a promise and a turn of the microtask queue, three per registration at the edge.
   */
  readonly local?: LocalStore;
  get<T>(ns: string, key: string): Promise<T | undefined>;
  /** ttlMs: the entry vanishes after this long (omitted: kept until deleted). */
  set<T>(ns: string, key: string, value: T, ttlMs?: number): Promise<void>;
  /** Sets only when no live entry is there (a cluster's shared secret: the first node makes it, the rest read it). */
  setIfAbsent<T>(ns: string, key: string, value: T, ttlMs?: number): Promise<boolean>;
  delete(ns: string, key: string): Promise<boolean>;
  /** Adds 1 and returns the new count; the window (ttlMs) starts with the first increment. */
  incr(ns: string, key: string, ttlMs: number): Promise<number>;
  entries<T>(ns: string): Promise<Array<[string, T]>>;
  count(ns: string): Promise<number>;
  /**
   * A lease on `key` for `owner` (a node): granted when nobody holds it or the holder's lapsed (then with a new,
   * higher fencing token), renewed when `owner` holds it already (same token); null when another live owner does.
   */
  acquire(ns: string, key: string, owner: string, ttlMs: number): Promise<Lease | null>;
  /** Extends a lease its holder still holds (owner and token match); false when it lapsed or was taken over. */
  renew(ns: string, key: string, lease: Lease, ttlMs: number): Promise<boolean>;
  /** Gives a lease up (only the holder's own: owner and token match). */
  release(ns: string, key: string, lease: Lease): Promise<boolean>;
  /** Who holds a lease now, if anyone. */
  holder(ns: string, key: string): Promise<Lease | undefined>;
  /**
   * Writes `value` (undefined: deletes the entry) only while the lease `fence` names is still held with its owner and
   * token, in one step: a node whose lease lapsed or was taken over can no longer write what the new holder drives (a
   * call, docs/cluster.md). False when refused.
   */
  setFenced<T>(ns: string, key: string, value: T | undefined, fence: Fence, ttlMs?: number): Promise<boolean>;
  /** Tells every node subscribed to `channel` (this one too); delivery is at most once, nothing is kept. */
  publish(channel: string, message: string): Promise<void>;
  /** Returns the unsubscribe. */
  subscribe(channel: string, listener: (message: string) => void): () => void;
  /** Whether the store answers, and how fast (the status page, /metrics and the store alarm read it). */
  health(): StoreHealth;
  /** Called when the state behind the store was lost and taken back from this node (redis.ts: Redis came back empty). */
  onReconciled(listener: (why: string) => void): void;
  close(): Promise<void>;
  /** Where the state lives and entries per namespace, for the status page (`store` section). */
  describe(): StoreDescription;
}

/** The synchronous face of an in-process store: the same semantics as the Store's methods of the same names. */
export interface LocalStore {
  get<T>(ns: string, key: string): T | undefined;
  set<T>(ns: string, key: string, value: T, ttlMs?: number): void;
  delete(ns: string, key: string): boolean;
  count(ns: string): number;
}

/** A lease's holder and its fencing token: a later holder always has a higher token, so a stale one is refused. */
export interface Lease {
  owner: string;
  token: number;
}

/** The lease a fenced write depends on: where it is, and the holder and token the writer has. */
export interface Fence {
  ns: string;
  key: string;
  lease: Lease;
}

export interface StoreHealth {
  /** up: answering; down: unreachable, the node serves what it holds (writes wait to be replayed). */
  state: 'up' | 'down';
  /** When the state last changed (ISO 8601). */
  since: string;
  /** Round trip of the last health probe. */
  latencyMs: number | null;
  /** Commands that failed (timeout, connection) since the start. */
  errors: number;
  /** Writes made while down, waiting to be replayed. */
  pending: number;
  /** Times the store came back and this node's writes were replayed (or republished after a loss). */
  reconciles: number;
  lastError?: string;
}

export interface StoreDescription extends StoreHealth {
  kind: string;
  entries: Record<string, number>;
}
