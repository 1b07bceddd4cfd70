import { parentPort, workerData } from 'node:worker_threads';
import { RegisteringClient, type RegisterOutcome } from './registering-client.js';
import { LatencyHistogram } from './histogram.js';
import type { Counts, WorkerCommand, WorkerPlan, WorkerReply, WorkerStats } from './protocol.js';

// One load worker thread: its share of the clients, each with its own TLS connection. The main thread sends
// commands (protocol.ts); every loop here is bounded by a count or a deadline.

const plan = workerData as WorkerPlan;

class Tally {
  ok = 0;
  failures: Record<string, number> = {};
  histogram = new LatencyHistogram();

  note(r: RegisterOutcome): boolean {
    if (r.status >= 200 && r.status < 300) {
      this.ok++;
      this.histogram.record(r.latencyMs);
      return true;
    }
    this.fail(String(r.status));
    return false;
  }

  fail(key: string): void {
    this.failures[key] = (this.failures[key] ?? 0) + 1;
  }

  counts(): Counts {
    return { ok: this.ok, failures: { ...this.failures }, histogram: [...this.histogram.counts] };
  }
}

const total = new Tally();

/** A client plus what holding it registered needs: whether its last registration stands, and its next timer. */
interface Keeper {
  client: RegisteringClient;
  registered: boolean;
  timer: NodeJS.Timeout | null;
  busy: boolean;
}

const keepers: Keeper[] = plan.indices.map((i) => {
  const client = new RegisteringClient({
    target: plan.target,
    ...(plan.alternates ? { alternates: plan.alternates } : {}),
    identity: { user: `${plan.prefix}${i}`, domain: plan.domain, password: plan.password },
    expiresS: plan.expiresS,
    timeoutMs: plan.timeoutMs,
  });
  const k: Keeper = { client, registered: false, timer: null, busy: false };
  client.onClose(() => {
    k.registered = false;
    if (holding) schedule(k, Math.random() * holding.reconnectJitterMs);
  });
  return k;
});

let holding: { refreshMs: number; retryMs: number; reconnectJitterMs: number } | null = null;

function schedule(k: Keeper, ms: number): void {
  if (k.timer) clearTimeout(k.timer);
  k.timer = setTimeout(() => {
    k.timer = null;
    void keep(k);
  }, ms);
}

/** Connects if needed and registers; on success the next refresh is booked, on failure a retry. */
async function keep(k: Keeper): Promise<void> {
  if (k.busy || !holding) return;
  k.busy = true;
  try {
    if (!k.client.connected) {
      try {
        await k.client.connect(plan.connectTimeoutMs);
      } catch {
        total.fail('connect');
        k.registered = false;
        schedule(k, holding.retryMs * (0.5 + Math.random()));
        return;
      }
    }
    const r = await k.client.register();
    k.registered = total.note(r);
    if (!holding) return;
    // A server that names a time with Retry-After gets at least that long, spread so the retries do not return
    // as one wave; otherwise retry after about retryMs.
    const retry =
      r.retryAfterS !== undefined
        ? r.retryAfterS * 1000 * (1 + 0.5 * Math.random())
        : holding.retryMs * (0.5 + Math.random());
    schedule(k, k.registered ? holding.refreshMs : retry);
  } finally {
    k.busy = false;
  }
}

/** Runs `fn` over every keeper with at most `limit` in flight. */
async function eachLimited(limit: number, fn: (k: Keeper) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, keepers.length)) }, async () => {
    while (next < keepers.length) await fn(keepers[next++]!);
  });
  await Promise.all(lanes);
}

async function run(c: WorkerCommand): Promise<unknown> {
  switch (c.cmd) {
    case 'connect': {
      const errors: string[] = [];
      await eachLimited(c.concurrency, async (k) => {
        try {
          await k.client.connect(plan.connectTimeoutMs);
        } catch (err) {
          total.fail('connect');
          if (errors.length < 5) errors.push((err as Error).message);
        }
      });
      return { connected: keepers.filter((k) => k.client.connected).length, errors };
    }
    case 'register-once': {
      const t = new Tally();
      await eachLimited(c.concurrency, async (k) => {
        const r = await k.client.register();
        k.registered = t.note(r);
        total.note(r);
      });
      return t.counts();
    }
    case 'loop': {
      // Closed loop: each client registers again as soon as its last registration ended, until the deadline.
      const t = new Tally();
      const end = performance.now() + c.durationMs;
      await Promise.all(
        keepers.map(async (k) => {
          while (performance.now() < end && k.client.connected) {
            const r = await k.client.register();
            k.registered = t.note(r);
            total.note(r);
          }
        }),
      );
      return t.counts();
    }
    case 'hold': {
      holding = { refreshMs: c.refreshMs, retryMs: c.retryMs, reconnectJitterMs: c.reconnectJitterMs };
      // Spread the first refreshes over one period, as clients that registered at different times would.
      for (const k of keepers) schedule(k, k.registered && k.client.connected ? Math.random() * c.refreshMs : 0);
      return null;
    }
    case 'refresh-now': {
      for (const k of keepers) {
        k.registered = false;
        schedule(k, 0);
      }
      return null;
    }
    case 'stats': {
      const received: Record<string, number> = {};
      for (const k of keepers) for (const [m, n] of k.client.received) received[m] = (received[m] ?? 0) + n;
      const s: WorkerStats = {
        ...total.counts(),
        clients: keepers.length,
        connected: keepers.filter((k) => k.client.connected).length,
        registered: keepers.filter((k) => k.registered && k.client.connected).length,
        received,
      };
      return s;
    }
    case 'close': {
      holding = null;
      for (const k of keepers) {
        if (k.timer) clearTimeout(k.timer);
        k.client.close();
      }
      return null;
    }
  }
}

parentPort!.on('message', (msg: { id: number; command: WorkerCommand }) => {
  run(msg.command).then(
    (result) => parentPort!.postMessage({ id: msg.id, ok: true, result } satisfies WorkerReply),
    (err: unknown) =>
      parentPort!.postMessage({
        id: msg.id,
        ok: false,
        error: (err as Error)?.message ?? String(err),
      } satisfies WorkerReply),
  );
});
