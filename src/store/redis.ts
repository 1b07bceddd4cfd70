// The cluster's store: the Store interface on Redis (ioredis), shared by every peer of both roles. Each node also
// keeps what it wrote in a MemoryStore of its own (the mirror), so that while Redis is unreachable it serves what it
// holds: reads fall back to the mirror, writes land there and wait (latest per key) to be replayed. When Redis
// answers again the waiting writes are replayed; when it came back empty (restarted without persistence, or a
// failover to an empty replica: the epoch key is gone) every node republishes all it holds. docs/cluster.md says
// what can be lost.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log/index.js';
import { MemoryStore } from './memory.js';
import type { Fence, Lease, Store, StoreDescription, StoreHealth } from './store.js';
import { describeTarget, type StoreTarget } from './store-url.js';
import * as lua from './redis-scripts.js';

export interface RedisStoreOptions {
  target: Exclude<StoreTarget, { kind: 'memory' }>;
  /** Keys and channels start with `mra:<cluster>:`, so two clusters can share one Redis. */
  cluster: string;
  /** A command not answered this long fails and the node serves from its mirror (a partition, not a slow disk). */
  commandTimeoutMs: number;
  /** How often the health probe runs (and finds a partition when nothing else is asked). */
  probeMs: number;
  /** Password when not in the URL (cluster.store_password_file). */
  password?: string;
  log: Logger;
}

type RedisWithScripts = Redis & {
  mraSet(v: string, i: string, member: string, json: string, ttl: string, nx: string): Promise<number>;
  mraDelete(v: string, i: string, member: string): Promise<number>;
  mraIncr(v: string, i: string, member: string, ttl: string): Promise<number>;
  mraCount(i: string): Promise<number>;
  mraEntries(i: string, prefix: string): Promise<string[]>;
  mraAcquire(v: string, i: string, f: string, member: string, owner: string, ttl: string): Promise<string | null>;
  mraRenew(v: string, i: string, member: string, owner: string, token: string, ttl: string): Promise<number>;
  mraRelease(v: string, i: string, member: string, owner: string, token: string): Promise<number>;
  mraFenceFloor(f: string, token: string): Promise<number>;
  mraFenced(
    v: string,
    i: string,
    lease: string,
    member: string,
    json: string,
    ttl: string,
    owner: string,
    token: string,
  ): Promise<number>;
};

const SCRIPTS: Array<[string, string, number]> = [
  ['mraSet', lua.SET, 2],
  ['mraDelete', lua.DELETE, 2],
  ['mraIncr', lua.INCR, 2],
  ['mraCount', lua.COUNT, 1],
  ['mraEntries', lua.ENTRIES, 1],
  ['mraAcquire', lua.ACQUIRE, 3],
  ['mraRenew', lua.RENEW, 2],
  ['mraRelease', lua.RELEASE, 2],
  ['mraFenceFloor', lua.FENCE_FLOOR, 1],
  ['mraFenced', lua.FENCED, 3],
];

/** Redis could not be reached when the node started (and the configuration does not allow a degraded start). */
export class StoreUnavailable extends Error {
  readonly code = 'MRA_STORE_UNAVAILABLE';
}

export class RedisStore implements Store {
  readonly shared = true;
  readonly #opts: RedisStoreOptions;
  readonly #log: Logger;
  readonly #redis: RedisWithScripts;
  #subscriber: Redis | undefined;
  readonly #channels = new EventEmitter();
  readonly #mirror = new MemoryStore();
  /** Writes made while Redis did not answer: the latest per namespace and key, replayed from the mirror. */
  readonly #pending = new Map<string, { ns: string; key: string }>();
  readonly #prefix: string;
  readonly #known = new Set<string>();
  readonly #counts: Record<string, number> = {};
  readonly #reconciled: Array<(why: string) => void> = [];
  readonly #probe: NodeJS.Timeout;
  #health: StoreHealth = {
    state: 'down',
    since: new Date().toISOString(),
    latencyMs: null,
    errors: 0,
    pending: 0,
    reconciles: 0,
  };
  /** The epoch key's value as this node last saw it: another (or none) means Redis lost what it held. */
  #epoch: string | undefined;
  #reconciling: Promise<void> | undefined;
  #countedAt = 0;
  #closed = false;

  constructor(opts: RedisStoreOptions) {
    this.#opts = opts;
    this.#log = opts.log.child({ plane: 'store' });
    this.#prefix = `mra:${opts.cluster}:`;
    const t = opts.target;
    const common: RedisOptions = {
      db: t.db,
      ...(t.username ? { username: t.username } : {}),
      ...((t.password ?? opts.password) !== undefined ? { password: t.password ?? opts.password } : {}),
      // Fail at once rather than queue: the node answers from its mirror, and replays when Redis is back.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs,
      connectTimeout: Math.max(1000, opts.commandTimeoutMs),
      retryStrategy: (times) => Math.min(100 * times, 1000),
      lazyConnect: true,
    };
    this.#redis = (
      t.kind === 'sentinel'
        ? new Redis({
            ...common,
            sentinels: t.sentinels,
            name: t.master,
            ...((t.password ?? opts.password) ? { sentinelPassword: t.password ?? opts.password } : {}),
          })
        : new Redis({ ...common, host: t.host, port: t.port, ...(t.tls ? { tls: {} } : {}) })
    ) as RedisWithScripts;
    for (const [name, script, keys] of SCRIPTS) this.#redis.defineCommand(name, { numberOfKeys: keys, lua: script });
    this.#redis.on('error', (err: Error) => this.#failed(err));
    this.#redis.on('ready', () => void this.#cameBack());
    this.#redis.on('close', () => this.#down('connection closed'));
    this.#probe = setInterval(() => void this.#ping(), opts.probeMs);
    this.#probe.unref();
  }

  /** Connects; rejects with StoreUnavailable when Redis has not answered within `withinMs` (the node then keeps trying). */
  async connect(withinMs: number): Promise<void> {
    const ready = new Promise<void>((resolve) => this.#redis.once('ready', () => resolve()));
    this.#redis.connect().catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new StoreUnavailable(
              `${describeTarget(this.#opts.target)} did not answer within ${withinMs} ms${this.#health.lastError ? ` (${this.#health.lastError})` : ''}`,
            ),
          ),
        withinMs,
      );
    });
    try {
      await Promise.race([ready, late]);
      await this.#reconciling;
    } finally {
      clearTimeout(timer);
    }
  }

  health(): StoreHealth {
    return { ...this.#health, pending: this.#pending.size };
  }

  describe(): StoreDescription {
    if (this.#health.state === 'up' && Date.now() - this.#countedAt >= 1000) {
      this.#countedAt = Date.now();
      void this.#refreshCounts();
    }
    return { kind: describeTarget(this.#opts.target), ...this.health(), entries: { ...this.#counts } };
  }

  onReconciled(listener: (why: string) => void): void {
    this.#reconciled.push(listener);
  }

  async get<T>(ns: string, key: string): Promise<T | undefined> {
    return this.#read(
      async () => {
        const v = await this.#redis.get(this.#key(ns, key));
        return v === null ? undefined : (JSON.parse(v) as T);
      },
      () => this.#mirror.get<T>(ns, key),
    );
  }

  async set<T>(ns: string, key: string, value: T, ttlMs?: number): Promise<void> {
    await this.#mirror.set(ns, key, value, ttlMs);
    await this.#write(ns, key, () =>
      this.#redis.mraSet(this.#key(ns, key), this.#index(ns), key, JSON.stringify(value), String(ttlMs ?? 0), '0'),
    );
  }

  async setIfAbsent<T>(ns: string, key: string, value: T, ttlMs?: number): Promise<boolean> {
    this.#known.add(ns);
    if (this.#health.state === 'up') {
      try {
        const set =
          (await this.#redis.mraSet(
            this.#key(ns, key),
            this.#index(ns),
            key,
            JSON.stringify(value),
            String(ttlMs ?? 0),
            '1',
          )) === 1;
        if (set) await this.#mirror.set(ns, key, value, ttlMs);
        return set;
      } catch (err) {
        this.#failed(err as Error);
      }
    }
    const set = await this.#mirror.setIfAbsent(ns, key, value, ttlMs);
    if (set) this.#queue(ns, key);
    return set;
  }

  async delete(ns: string, key: string): Promise<boolean> {
    const local = await this.#mirror.delete(ns, key);
    let remote = false;
    await this.#write(
      ns,
      key,
      async () => (remote = (await this.#redis.mraDelete(this.#key(ns, key), this.#index(ns), key)) > 0),
    );
    return this.#health.state === 'up' ? remote : local;
  }

  async incr(ns: string, key: string, ttlMs: number): Promise<number> {
    const local = await this.#mirror.incr(ns, key, ttlMs);
    // Counters are not replayed: while Redis is away each node counts on its own (docs/cluster.md).
    return this.#read(
      () => this.#redis.mraIncr(this.#key(ns, key), this.#index(ns), key, String(ttlMs)),
      async () => local,
    );
  }

  async entries<T>(ns: string): Promise<Array<[string, T]>> {
    this.#known.add(ns);
    return this.#read(
      async () => {
        const flat = await this.#redis.mraEntries(this.#index(ns), this.#key(ns, ''));
        const out: Array<[string, T]> = [];
        for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, JSON.parse(flat[i + 1]!) as T]);
        return out;
      },
      () => this.#mirror.entries<T>(ns),
    );
  }

  async count(ns: string): Promise<number> {
    this.#known.add(ns);
    return this.#read(
      () => this.#redis.mraCount(this.#index(ns)),
      () => this.#mirror.count(ns),
    );
  }

  async acquire(ns: string, key: string, owner: string, ttlMs: number): Promise<Lease | null> {
    this.#known.add(ns);
    if (this.#health.state === 'up') {
      try {
        const v = await this.#redis.mraAcquire(
          this.#key(ns, key),
          this.#index(ns),
          `${this.#prefix}f:${ns}`,
          key,
          owner,
          String(ttlMs),
        );
        const lease = v === null ? null : (JSON.parse(v) as Lease);
        if (lease) await this.#mirror.set(ns, key, lease, ttlMs);
        return lease;
      } catch (err) {
        this.#failed(err as Error);
      }
    }
    // Partitioned: a lease this node holds is kept (it goes on serving its calls); none is taken over blind.
    const held = await this.#mirror.get<Lease>(ns, key);
    if (held?.owner !== owner) return null;
    await this.#mirror.set(ns, key, held, ttlMs);
    return held;
  }

  async renew(ns: string, key: string, lease: Lease, ttlMs: number): Promise<boolean> {
    if (this.#health.state === 'up') {
      try {
        const ok =
          (await this.#redis.mraRenew(
            this.#key(ns, key),
            this.#index(ns),
            key,
            lease.owner,
            String(lease.token),
            String(ttlMs),
          )) === 1;
        if (ok) await this.#mirror.set(ns, key, lease, ttlMs);
        else await this.#mirror.delete(ns, key);
        return ok;
      } catch (err) {
        this.#failed(err as Error);
      }
    }
    const held = await this.#mirror.get<Lease>(ns, key);
    if (held?.owner !== lease.owner || held.token !== lease.token) return false;
    await this.#mirror.set(ns, key, held, ttlMs);
    return true;
  }

  async release(ns: string, key: string, lease: Lease): Promise<boolean> {
    await this.#mirror.delete(ns, key);
    return this.#read(
      async () =>
        (await this.#redis.mraRelease(this.#key(ns, key), this.#index(ns), key, lease.owner, String(lease.token))) ===
        1,
      async () => false,
    );
  }

  async holder(ns: string, key: string): Promise<Lease | undefined> {
    return this.get<Lease>(ns, key);
  }

  async setFenced<T>(ns: string, key: string, value: T | undefined, fence: Fence, ttlMs?: number): Promise<boolean> {
    this.#known.add(ns);
    const { owner, token } = fence.lease;
    if (this.#health.state === 'up') {
      try {
        const ok =
          (await this.#redis.mraFenced(
            this.#key(ns, key),
            this.#index(ns),
            this.#key(fence.ns, fence.key),
            key,
            value === undefined ? '' : JSON.stringify(value),
            String(ttlMs ?? 0),
            owner,
            String(token),
          )) === 1;
        if (ok && value === undefined) await this.#mirror.delete(ns, key);
        else if (ok) await this.#mirror.set(ns, key, value, ttlMs);
        return ok;
      } catch (err) {
        this.#failed(err as Error);
      }
    }
    // Partitioned: a lease this node holds stays its own (acquire above), so it goes on writing what it drives; the
    // write waits to be replayed like any other.
    const ok = await this.#mirror.setFenced(ns, key, value, fence, ttlMs);
    if (ok) this.#queue(ns, key);
    return ok;
  }

  async publish(channel: string, message: string): Promise<void> {
    // At most once: a message published while Redis is away is lost (what it announces is in the store anyway).
    await this.#read(
      async () => void (await this.#redis.publish(this.#channel(channel), message)),
      async () => undefined,
    );
  }

  subscribe(channel: string, listener: (message: string) => void): () => void {
    if (!this.#subscriber) {
      const sub = (this.#subscriber = this.#redis.duplicate({
        enableOfflineQueue: true,
        commandTimeout: undefined,
        lazyConnect: false,
      }));
      sub.on('error', () => {}); // the main connection reports; this one reconnects and resubscribes by itself
      sub.on('message', (ch: string, message: string) => this.#channels.emit(ch, message));
    }
    const name = this.#channel(channel);
    if (this.#channels.listenerCount(name) === 0) void this.#subscriber.subscribe(name).catch(() => {});
    this.#channels.on(name, listener);
    return () => {
      this.#channels.off(name, listener);
      if (this.#channels.listenerCount(name) === 0) void this.#subscriber?.unsubscribe(name).catch(() => {});
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#probe);
    this.#channels.removeAllListeners();
    this.#subscriber?.disconnect();
    // Writes still waiting cannot be replayed any more: say how many, so a stop during an outage is visible.
    if (this.#pending.size > 0)
      this.#log.warn({ pending: this.#pending.size }, 'store closed with writes not replayed to Redis');
    this.#redis.disconnect();
    await this.#mirror.close();
  }

  #key(ns: string, key: string): string {
    return `${this.#prefix}v:${ns}:${key}`;
  }

  #index(ns: string): string {
    return `${this.#prefix}i:${ns}`;
  }

  #channel(name: string): string {
    return `${this.#prefix}c:${name}`;
  }

  async #read<T>(remote: () => Promise<T>, local: () => Promise<T>): Promise<T> {
    if (this.#health.state === 'up') {
      try {
        return await remote();
      } catch (err) {
        this.#failed(err as Error);
      }
    }
    return local();
  }

  async #write(ns: string, key: string, remote: () => Promise<unknown>): Promise<void> {
    this.#known.add(ns);
    if (this.#health.state === 'up') {
      try {
        await remote();
        return;
      } catch (err) {
        this.#failed(err as Error);
      }
    }
    this.#queue(ns, key);
  }

  #queue(ns: string, key: string): void {
    this.#pending.set(`${ns}\0${key}`, { ns, key });
  }

  #failed(err: Error): void {
    if (this.#closed) return;
    this.#health.errors++;
    this.#health.lastError = err.message;
    // A timeout is a partition or a Redis that hangs: the connection is dropped and made again, so the next
    // command does not wait out the timeout too, and 'ready' (reconcile) follows when Redis answers.
    if (/timed out/i.test(err.message) && this.#health.state === 'up') this.#redis.disconnect(true);
    this.#down(err.message);
  }

  #down(why: string): void {
    if (this.#closed || this.#health.state === 'down') return;
    this.#health = { ...this.#health, state: 'down', since: new Date().toISOString(), lastError: why };
    this.#log.error({ err: why }, 'store unreachable: serving what this node holds; its writes wait for Redis');
  }

  async #ping(): Promise<void> {
    if (this.#closed || this.#redis.status !== 'ready') return;
    const t = process.hrtime.bigint();
    try {
      await this.#redis.ping();
      this.#health.latencyMs = Number(process.hrtime.bigint() - t) / 1e6;
      if (this.#health.state === 'down') await this.#cameBack();
    } catch (err) {
      this.#failed(err as Error);
    }
  }

  #cameBack(): Promise<void> {
    this.#reconciling ??= this.#reconcile().finally(() => (this.#reconciling = undefined));
    return this.#reconciling;
  }

  /** Redis answers again: republish everything if it lost its data, else replay what was written meanwhile. */
  async #reconcile(): Promise<void> {
    try {
      const epochKey = `${this.#prefix}epoch`;
      await this.#redis.set(epochKey, randomUUID(), 'NX');
      const epoch = (await this.#redis.get(epochKey)) ?? '';
      const lost = this.#epoch !== undefined && epoch !== this.#epoch;
      const first = this.#epoch === undefined;
      this.#epoch = epoch;
      let replayed = 0;
      if (lost) {
        this.#pending.clear();
        for (const e of this.#mirror.snapshot()) replayed += await this.#republish(e.ns, e.key, e.value, e.expires);
      } else {
        for (const [id, { ns, key }] of [...this.#pending]) {
          this.#pending.delete(id);
          const snap = this.#mirror.snapshot().find((e) => e.ns === ns && e.key === key);
          if (snap) replayed += await this.#republish(ns, key, snap.value, snap.expires);
          else await this.#redis.mraDelete(this.#key(ns, key), this.#index(ns), key);
        }
      }
      const wasDown = this.#health.state === 'down';
      this.#health = { ...this.#health, state: 'up', since: wasDown ? new Date().toISOString() : this.#health.since };
      if (!first) {
        this.#health.reconciles++;
        const why = lost
          ? 'Redis came back without its data: this node republished what it holds'
          : 'Redis reachable again: writes made meanwhile replayed';
        this.#log.warn({ replayed, lost }, why);
        for (const l of this.#reconciled) l(why);
      } else this.#log.info({ store: describeTarget(this.#opts.target) }, 'store connected');
    } catch (err) {
      this.#failed(err as Error);
    }
  }

  /** One entry back into Redis with what is left of its TTL; a lease only if nobody took it meanwhile. */
  async #republish(ns: string, key: string, value: unknown, expires: number): Promise<number> {
    const ttl = expires === Infinity ? 0 : Math.round(expires - Date.now());
    if (expires !== Infinity && ttl <= 0) return 0;
    const isLease =
      typeof value === 'object' &&
      value !== null &&
      'owner' in value &&
      'token' in value &&
      Object.keys(value).length === 2;
    if (isLease) await this.#redis.mraFenceFloor(`${this.#prefix}f:${ns}`, String((value as Lease).token));
    await this.#redis.mraSet(
      this.#key(ns, key),
      this.#index(ns),
      key,
      JSON.stringify(value),
      String(ttl),
      isLease ? '1' : '0',
    );
    return 1;
  }

  async #refreshCounts(): Promise<void> {
    try {
      for (const ns of this.#known) this.#counts[ns] = await this.#redis.mraCount(this.#index(ns));
    } catch {
      /* the probe reports it */
    }
  }
}
