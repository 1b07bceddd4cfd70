import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { LatencyHistogram } from './histogram.js';
import type { SipTarget } from './registering-client.js';
import type { Counts, WorkerCommand, WorkerPlan, WorkerReply, WorkerStats } from './protocol.js';

export interface LoadClientsOptions {
  target: SipTarget;
  /** The other servers each client was given, tried in turn when its connection drops (a cluster's edges). */
  alternates?: SipTarget[];
  domain: string;
  password: string;
  /** Users are `${prefix}${n}` for n in [first, first + count). */
  users: { prefix: string; count: number; first?: number };
  expiresS: number;
  /** Per-transaction deadline in the clients. */
  timeoutMs?: number;
  /** TCP connect plus TLS handshake deadline (default 10 s). */
  connectTimeoutMs?: number;
  /** Worker threads; by default one per core. */
  workers?: number;
}

export interface LoadSummary {
  ok: number;
  failures: Record<string, number>;
  latency: { p50: number; p90: number; p99: number; max: number };
}

export interface LoadStats extends LoadSummary {
  clients: number;
  connected: number;
  registered: number;
  received: Record<string, number>;
}

function summarise(parts: Counts[]): LoadSummary {
  const h = new LatencyHistogram();
  const failures: Record<string, number> = {};
  let ok = 0;
  for (const p of parts) {
    ok += p.ok;
    h.add({ counts: p.histogram });
    for (const [k, n] of Object.entries(p.failures)) failures[k] = (failures[k] ?? 0) + n;
  }
  return {
    ok,
    failures,
    latency: { p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99), max: h.percentile(100) },
  };
}

class LoadWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 1;
  #dead: Error | null = null;

  constructor(plan: WorkerPlan) {
    this.#worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: plan });
    this.#worker.on('message', (r: WorkerReply) => {
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if (r.ok) p.resolve(r.result);
      else p.reject(new Error(`load worker: ${r.error}`));
    });
    const fail = (err: Error) => {
      this.#dead = err;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`load worker exited with code ${code}`)));
  }

  call<T>(command: WorkerCommand): Promise<T> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#worker.postMessage({ id, command });
    });
  }

  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }
}

/**
 * Many remote clients, each on its own TLS connection, spread round-robin over worker threads so that the
 * load itself is not the bottleneck of a single event loop.
 */
export class LoadClients {
  readonly #workers: LoadWorker[];
  readonly count: number;

  private constructor(workers: LoadWorker[], count: number) {
    this.#workers = workers;
    this.count = count;
  }

  static create(opts: LoadClientsOptions): LoadClients {
    const count = opts.users.count;
    if (!Number.isInteger(count) || count < 1)
      throw new RangeError(`users.count must be a positive integer, got ${count}`);
    const n = Math.max(1, Math.min(opts.workers ?? availableParallelism(), count));
    const first = opts.users.first ?? 0;
    const workers: LoadWorker[] = [];
    for (let w = 0; w < n; w++) {
      const indices: number[] = [];
      for (let i = w; i < count; i += n) indices.push(first + i);
      workers.push(
        new LoadWorker({
          target: opts.target,
          ...(opts.alternates ? { alternates: opts.alternates } : {}),
          domain: opts.domain,
          password: opts.password,
          prefix: opts.users.prefix,
          indices,
          expiresS: opts.expiresS,
          timeoutMs: opts.timeoutMs ?? 32_000,
          connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
        }),
      );
    }
    return new LoadClients(workers, count);
  }

  #all<T>(command: WorkerCommand): Promise<T[]> {
    return Promise.all(this.#workers.map((w) => w.call<T>(command)));
  }

  /** Opens every client's connection, at most `concurrency` handshakes in flight per worker. */
  async connect(concurrency = 200): Promise<{ connected: number; errors: string[] }> {
    const parts = await this.#all<{ connected: number; errors: string[] }>({ cmd: 'connect', concurrency });
    return { connected: parts.reduce((a, p) => a + p.connected, 0), errors: parts.flatMap((p) => p.errors) };
  }

  /** Every client registers once. */
  async registerOnce(concurrency = 200): Promise<LoadSummary> {
    return summarise(await this.#all<Counts>({ cmd: 'register-once', concurrency }));
  }

  /** Closed loop for `durationMs`: each client re-registers as soon as the last one ended. */
  async loop(durationMs: number): Promise<LoadSummary & { perSecond: number }> {
    const started = performance.now();
    const s = summarise(await this.#all<Counts>({ cmd: 'loop', durationMs }));
    return { ...s, perSecond: s.ok / ((performance.now() - started) / 1000) };
  }

  /** From now on clients refresh every `refreshMs` and reconnect (after a random delay) when dropped. */
  async hold(refreshMs: number, opts: { retryMs?: number; reconnectJitterMs?: number } = {}): Promise<void> {
    await this.#all({
      cmd: 'hold',
      refreshMs,
      retryMs: opts.retryMs ?? 1000,
      reconnectJitterMs: opts.reconnectJitterMs ?? 1000,
    });
  }

  /** Every client forgets that it is registered and registers now (retrying while holding). */
  async refreshNow(): Promise<void> {
    await this.#all({ cmd: 'refresh-now' });
  }

  async stats(): Promise<LoadStats> {
    const parts = await this.#all<WorkerStats>({ cmd: 'stats' });
    const received: Record<string, number> = {};
    for (const p of parts) for (const [m, n] of Object.entries(p.received)) received[m] = (received[m] ?? 0) + n;
    return {
      ...summarise(parts),
      clients: parts.reduce((a, p) => a + p.clients, 0),
      connected: parts.reduce((a, p) => a + p.connected, 0),
      registered: parts.reduce((a, p) => a + p.registered, 0),
      received,
    };
  }

  /**
   * Milliseconds until every client is registered again, polled every `everyMs`; null if not within
   * `timeoutMs`. `onPoll` sees each count on the way (for time-to-50 % and the like).
   */
  async waitAllRegistered(
    timeoutMs: number,
    everyMs = 100,
    onPoll?: (registered: number, ms: number) => void,
  ): Promise<number | null> {
    const started = performance.now();
    while (performance.now() - started < timeoutMs) {
      const { registered } = await this.stats();
      onPoll?.(registered, performance.now() - started);
      if (registered === this.count) return performance.now() - started;
      await new Promise((r) => setTimeout(r, everyMs));
    }
    return null;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#workers.map((w) => w.call({ cmd: 'close' })));
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
