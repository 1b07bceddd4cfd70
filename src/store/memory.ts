import { EventEmitter } from 'node:events';
import type { Fence, Lease, LocalStore, Store, StoreDescription, StoreHealth } from './store.js';

interface Entry {
  key: string;
  value: unknown;
  expires: number; // ms since epoch; Infinity when kept
}

/**
 * One namespace: its entries, and a min-heap (by expiry) of the entries that were set with a TTL. The heap lets
 * count() drop exactly what has expired without walking the map: admission control asks for the count on every
 * new registration, and a full sweep there made a reconnect storm quadratic. A refreshed or deleted entry stays
 * in the heap until its old expiry; popping it then finds the map holds another object (or none) and skips it.
 */
class Space {
  readonly map = new Map<string, Entry>();
  readonly #heap: Entry[] = [];

  put(e: Entry): void {
    this.map.set(e.key, e);
    if (e.expires === Infinity) return;
    this.#push(e);
    // Refreshes leave their old entries behind until those would have expired: a client refreshing far more
    // often than its TTL would grow the heap without bound. Rebuilt from the live entries past twice their
    // number (amortised O(1) per set).
    if (this.#heap.length > 2 * this.map.size + 1024) this.#rebuild();
  }

  get queued(): number {
    return this.#heap.length;
  }

  #rebuild(): void {
    const live = [...this.map.values()].filter((e) => e.expires !== Infinity).sort((a, b) => a.expires - b.expires);
    this.#heap.length = 0;
    // An array sorted by expiry is a valid min-heap.
    for (const e of live) this.#heap.push(e);
  }

  dropExpired(now: number): void {
    const h = this.#heap;
    while (h.length > 0 && h[0]!.expires <= now) {
      const e = this.#pop();
      if (this.map.get(e.key) === e) this.map.delete(e.key);
    }
  }

  #push(e: Entry): void {
    const h = this.#heap;
    let i = h.push(e) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.expires <= e.expires) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  #pop(): Entry {
    const h = this.#heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const c = l + 1 < h.length && h[l + 1]!.expires < h[l]!.expires ? l + 1 : l;
      if (h[c]!.expires >= last.expires) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }
}

/** The embedded default: one process, no other service. Expired entries are dropped on read, on count and by a sweep. */
export class MemoryStore implements Store {
  readonly shared = false;
  readonly #spaces = new Map<string, Space>();
  readonly #sweep: NodeJS.Timeout;
  readonly #channels = new EventEmitter();
  readonly #since = new Date().toISOString();
  /** Fencing tokens handed out, per lease namespace. */
  readonly #fences = new Map<string, number>();
  #closed = false;
  /** The store's own methods without their promises (store.ts LocalStore). */
  readonly local: LocalStore = {
    get: <T>(ns: string, key: string) => {
      this.#check();
      return this.#live(ns, key)?.value as T | undefined;
    },
    set: <T>(ns: string, key: string, value: T, ttlMs?: number) => {
      this.#check();
      this.#space(ns).put({ key, value, expires: ttlMs === undefined ? Infinity : this.now() + ttlMs });
    },
    delete: (ns: string, key: string) => {
      this.#check();
      // Whether a live entry was there: an expired one not yet dropped counts as gone already.
      return this.#live(ns, key) !== undefined && this.#spaces.get(ns)!.map.delete(key);
    },
    count: (ns: string) => {
      this.#check();
      const space = this.#spaces.get(ns);
      if (!space) return 0;
      space.dropExpired(this.now());
      return space.map.size;
    },
  };

  constructor(
    sweepMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {
    this.#sweep = setInterval(() => {
      const t = this.now();
      for (const space of this.#spaces.values()) space.dropExpired(t);
    }, sweepMs);
    this.#sweep.unref();
  }

  /** For the status page: where state lives and how many entries each namespace holds (expired ones until the sweep). */
  describe(): StoreDescription {
    return {
      kind: 'memory (this process)',
      ...this.health(),
      entries: Object.fromEntries([...this.#spaces].map(([ns, s]) => [ns, s.map.size])),
    };
  }

  health(): StoreHealth {
    return { state: 'up', since: this.#since, latencyMs: 0, errors: 0, pending: 0, reconciles: 0 };
  }

  onReconciled(): void {}

  /** Every live entry with its expiry (ms since epoch, Infinity when kept): what a Redis store republishes. */
  snapshot(): Array<{ ns: string; key: string; value: unknown; expires: number }> {
    const now = this.now();
    const out: Array<{ ns: string; key: string; value: unknown; expires: number }> = [];
    for (const [ns, space] of this.#spaces)
      for (const e of space.map.values())
        if (e.expires > now) out.push({ ns, key: e.key, value: e.value, expires: e.expires });
    return out;
  }

  #space(ns: string): Space {
    let s = this.#spaces.get(ns);
    if (!s) this.#spaces.set(ns, (s = new Space()));
    return s;
  }

  #live(ns: string, key: string): Entry | undefined {
    const space = this.#spaces.get(ns);
    const e = space?.map.get(key);
    if (e && e.expires <= this.now()) {
      space!.map.delete(key);
      return undefined;
    }
    return e;
  }

  #check(): void {
    if (this.#closed) throw new Error('store is closed');
  }

  async get<T>(ns: string, key: string): Promise<T | undefined> {
    return this.local.get<T>(ns, key);
  }

  async set<T>(ns: string, key: string, value: T, ttlMs?: number): Promise<void> {
    this.local.set(ns, key, value, ttlMs);
  }

  async setIfAbsent<T>(ns: string, key: string, value: T, ttlMs?: number): Promise<boolean> {
    this.#check();
    if (this.#live(ns, key) !== undefined) return false;
    await this.set(ns, key, value, ttlMs);
    return true;
  }

  async acquire(ns: string, key: string, owner: string, ttlMs: number): Promise<Lease | null> {
    this.#check();
    const held = this.#live(ns, key)?.value as Lease | undefined;
    if (held && held.owner !== owner) return null;
    const lease = held ?? { owner, token: this.#fence(ns) };
    this.#space(ns).put({ key, value: lease, expires: this.now() + ttlMs });
    return { ...lease };
  }

  async renew(ns: string, key: string, lease: Lease, ttlMs: number): Promise<boolean> {
    this.#check();
    const held = this.#live(ns, key)?.value as Lease | undefined;
    if (!held || held.owner !== lease.owner || held.token !== lease.token) return false;
    this.#space(ns).put({ key, value: held, expires: this.now() + ttlMs });
    return true;
  }

  async release(ns: string, key: string, lease: Lease): Promise<boolean> {
    this.#check();
    const held = this.#live(ns, key)?.value as Lease | undefined;
    if (!held || held.owner !== lease.owner || held.token !== lease.token) return false;
    return this.#spaces.get(ns)!.map.delete(key);
  }

  async holder(ns: string, key: string): Promise<Lease | undefined> {
    this.#check();
    const held = this.#live(ns, key)?.value as Lease | undefined;
    return held && { ...held };
  }

  async setFenced<T>(ns: string, key: string, value: T | undefined, fence: Fence, ttlMs?: number): Promise<boolean> {
    this.#check();
    const held = this.#live(fence.ns, fence.key)?.value as Lease | undefined;
    if (!held || held.owner !== fence.lease.owner || held.token !== fence.lease.token) return false;
    if (value === undefined) await this.delete(ns, key);
    else await this.set(ns, key, value, ttlMs);
    return true;
  }

  async publish(channel: string, message: string): Promise<void> {
    this.#check();
    this.#channels.emit(channel, message);
  }

  subscribe(channel: string, listener: (message: string) => void): () => void {
    this.#channels.on(channel, listener);
    return () => this.#channels.off(channel, listener);
  }

  #fence(ns: string): number {
    const n = (this.#fences.get(ns) ?? 0) + 1;
    this.#fences.set(ns, n);
    return n;
  }

  async delete(ns: string, key: string): Promise<boolean> {
    return this.local.delete(ns, key);
  }

  async incr(ns: string, key: string, ttlMs: number): Promise<number> {
    this.#check();
    const e = this.#live(ns, key);
    if (!e) {
      this.#space(ns).put({ key, value: 1, expires: this.now() + ttlMs });
      return 1;
    }
    e.value = (e.value as number) + 1;
    return e.value as number;
  }

  async entries<T>(ns: string): Promise<Array<[string, T]>> {
    this.#check();
    const space = this.#spaces.get(ns);
    if (!space) return [];
    space.dropExpired(this.now());
    return [...space.map.values()].map((e) => [e.key, e.value as T]);
  }

  async count(ns: string): Promise<number> {
    return this.local.count(ns);
  }

  /** @internal How many expiries wait in a namespace's queue, stale ones included (tests bound it). */
  expiryQueueLength(ns: string): number {
    return this.#spaces.get(ns)?.queued ?? 0;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweep);
    this.#spaces.clear();
    this.#channels.removeAllListeners();
  }
}
