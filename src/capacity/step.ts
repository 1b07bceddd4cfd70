// One step of the search: N calls set up through a pair at a given rate, held until steady, measured over a window,
// torn down. What a step measures: set-up time and failures, loss / latency / jitter over the window (packets
// stamped in it, counted after a drain), every node's CPU and memory, the load side's own CPU and the host's.
import { loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import type { CallGenerator, WindowFigures } from './callgen.js';
import { isLive, type CallOutcome, type LiveCall } from './call-load.js';
import type { PairUnderTest } from './pair.js';

/** The capacity criteria: a step passes with less loss, a lower p99 and no failed set-up. */
export const CRITERIA = { maxLossPercent: 0.1, maxP99Ms: 10 } as const;

export interface StepPlan {
  calls: number;
  /** Calls set up (and torn down) per second. */
  cps: number;
  /** After the last call is up, before the window: the pair settles. */
  settleMs: number;
  windowMs: number;
  /** The criteria unless a caller says otherwise (a test that plants a throughput limit judges by loss). */
  criteria?: { maxLossPercent: number; maxP99Ms: number };
}

export interface Progress {
  pair: string;
  phase: 'registering' | 'setting up' | 'measuring' | 'tearing down';
  calls: number;
  up: number;
  lossPercent?: number;
  cpu?: Record<string, number>;
}

export interface StepResult {
  pair: string;
  calls: number;
  cps: number;
  /** Calls that were up during the window. */
  up: number;
  setup: { p50Ms: number; p99Ms: number; maxMs: number; achievedCps: number };
  /** Failed set-ups by the INVITE's status (or "media"), and failed BYEs ("bye <status>"). */
  failures: Record<string, number>;
  window: WindowFigures;
  lossPercent: { up: number; down: number };
  latencyMs: { p50: number; p99: number; max: number };
  jitterMs: { mean: number; max: number };
  /** Per call over its whole life (set-up to BYE): the worst loss any call saw, in percent. */
  worstCallLossPercent: number;
  /** Cores each node used during the window, and its CPU per call (ms of CPU per second per call). */
  cores: Record<string, number>;
  cpuMsPerCallSecond: Record<string, number>;
  /**
   * CPU each node spent per call while the calls were set up (ms): the signalling and the relays' creation, and the
   * media of the calls already up (about half the ramp's calls on average).
   */
  setupCpuMsPerCall: Record<string, number>;
  /** Memory of each node during the window, and what it grew by per call since before the step. */
  memoryBytes: Record<string, number>;
  memoryPerCallKb: Record<string, number>;
  /** Periods each node was held back by its quota during the window (a node at its share). */
  throttledPercent: Record<string, number>;
  generatorCores: number;
  host: { load1: number; busyCores: number };
  /** Clients registered before this step (new ones only): CPU and memory each cost the nodes. */
  registration?: { count: number; ms: number; cpuMsPer: Record<string, number>; memoryKbPer: Record<string, number> };
  pass: boolean;
  why: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Busy CPU time of the whole machine (every CPU, every process: /proc/stat), in seconds. */
export function machineBusySeconds(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  return (cpu.reduce((a, b) => a + b, 0) - idle) / 100;
}

function cpuOfPid(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** The load side's CPU: this process and the generator. */
function loadSideSeconds(gen: CallGenerator): number {
  const own = process.cpuUsage();
  return (own.user + own.system) / 1e6 + cpuOfPid(gen.pid);
}

/** What a step needs of the load: CallLoad (SIP through the pair), or a test's load that opens relays directly. */
export interface StepLoad {
  ensureClients(n: number): Promise<{ added: number; failures: Record<string, number>; ms: number }>;
  place(i: number): Promise<LiveCall | CallOutcome>;
  quiet(call: LiveCall): Promise<void>;
  end(call: LiveCall): Promise<CallOutcome>;
}

export interface StepEnv {
  pair: Pick<PairUnderTest, 'label' | 'nodes'>;
  load: StepLoad;
  gen: CallGenerator;
  onProgress?: (p: Progress) => void;
}

/** Runs `fn(i)` for i in [0, n) started at `cps` per second; resolves with every result. */
async function paced<T>(n: number, cps: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const started = performance.now();
  const runs: Array<Promise<T>> = [];
  for (let i = 0; i < n; i++) {
    const due = started + (i * 1000) / cps;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    runs.push(fn(i));
  }
  return Promise.all(runs);
}

export async function runStep(env: StepEnv, plan: StepPlan): Promise<StepResult> {
  const { pair, load, gen } = env;
  const name = pair.label;
  const progress = (p: Omit<Progress, 'pair' | 'calls'>) => env.onProgress?.({ pair: name, calls: plan.calls, ...p });
  progress({ phase: 'registering', up: 0 });
  const regCpu0 = Object.fromEntries(pair.nodes.map((n) => [n.name, n.cpuSeconds()]));
  const regMem0 = Object.fromEntries(pair.nodes.map((n) => [n.name, n.memoryBytes()]));
  const reg = await load.ensureClients(plan.calls);
  const registration =
    reg.added > 0
      ? {
          count: reg.added,
          ms: reg.ms,
          cpuMsPer: Object.fromEntries(
            pair.nodes.map((n) => [n.name, (1000 * (n.cpuSeconds() - regCpu0[n.name]!)) / reg.added]),
          ),
          memoryKbPer: Object.fromEntries(
            pair.nodes.map((n) => [n.name, (n.memoryBytes() - regMem0[n.name]!) / 1024 / reg.added]),
          ),
        }
      : undefined;
  const failures: Record<string, number> = {};
  const fail = (k: string) => (failures[k] = (failures[k] ?? 0) + 1);
  for (const [k, n] of Object.entries(reg.failures)) failures[`register ${k}`] = n;
  const memBefore = Object.fromEntries(pair.nodes.map((n) => [n.name, n.memoryBytes()]));

  // Set-up, paced; a ticker reports calls up.
  let up = 0;
  const ticker = setInterval(() => progress({ phase: 'setting up', up }), 1000);
  const rampCpu0 = Object.fromEntries(pair.nodes.map((n) => [n.name, n.cpuSeconds()]));
  const rampStart = performance.now();
  let lastUp = rampStart;
  const placed = await paced(plan.calls, plan.cps, async (i) => {
    const r = await load.place(i);
    if (isLive(r)) {
      up++;
      lastUp = performance.now();
    } else fail(r.failure ?? String(r.status));
    return r;
  });
  clearInterval(ticker);
  const live = placed.filter(isLive) as LiveCall[];
  const setupCpuMsPerCall = Object.fromEntries(
    pair.nodes.map((n) => [n.name, (1000 * (n.cpuSeconds() - rampCpu0[n.name]!)) / Math.max(1, live.length)]),
  );
  const setupTimes = [...placed.map((r) => r.setupMs).filter((x): x is number => x !== undefined)].sort(
    (a, b) => a - b,
  );

  await sleep(plan.settleMs);
  // The window: CPU, memory and the generator's counters over the same span.
  const cpu0 = Object.fromEntries(pair.nodes.map((n) => [n.name, n.cpuSeconds()]));
  const thr0 = Object.fromEntries(pair.nodes.map((n) => [n.name, n.throttled().periods]));
  const side0 = loadSideSeconds(gen);
  const busy0 = machineBusySeconds();
  const load1 = loadavg()[0]!;
  const w0 = performance.now();
  await gen.windowStart();
  const memory: Record<string, number> = {};
  const windowTicks = Math.max(1, Math.round(plan.windowMs / 1000));
  for (let t = 0; t < windowTicks; t++) {
    await sleep(plan.windowMs / windowTicks);
    const elapsed = (performance.now() - w0) / 1000;
    progress({
      phase: 'measuring',
      up: live.length,
      cpu: Object.fromEntries(pair.nodes.map((n) => [n.name, (n.cpuSeconds() - cpu0[n.name]!) / elapsed])),
    });
    if (t === Math.floor(windowTicks / 2)) for (const n of pair.nodes) memory[n.name] = n.memoryBytes();
  }
  await gen.windowEnd();
  const seconds = (performance.now() - w0) / 1000;
  const cores = Object.fromEntries(pair.nodes.map((n) => [n.name, (n.cpuSeconds() - cpu0[n.name]!) / seconds]));
  const periods = (seconds * 1e6) / 100_000;
  const throttledPercent = Object.fromEntries(
    pair.nodes.map((n) => [n.name, (100 * (n.throttled().periods - thr0[n.name]!)) / periods]),
  );
  const generatorCores = (loadSideSeconds(gen) - side0) / seconds;
  const busyCores = (machineBusySeconds() - busy0) / seconds;
  await sleep(300); // what was stamped in the window and is still on its way
  const window = await gen.windowRead();

  // Teardown: media stops, what is in flight arrives, then BYE at the set-up rate.
  progress({ phase: 'tearing down', up: live.length });
  for (const c of live) await load.quiet(c);
  await sleep(300);
  const ended: CallOutcome[] = await paced(live.length, plan.cps * 2, (i) => load.end(live[i]!));
  let worstCallLoss = 0;
  for (const e of ended) {
    if (e.failure) fail(e.failure);
    for (const s of e.media?.streams ?? []) {
      for (const f of [s.up, s.down])
        if (f.sent > 0) worstCallLoss = Math.max(worstCallLoss, (100 * (f.sent - f.received)) / f.sent);
    }
  }

  const loss = (d: WindowFigures['up']) => (d.sent > 0 ? (100 * Math.max(0, d.sent - d.received)) / d.sent : 0);
  const lossPercent = { up: loss(window.up), down: loss(window.down) };
  const latencyMs = {
    p50: Math.max(window.up.p50Us, window.down.p50Us) / 1000,
    p99: Math.max(window.up.p99Us, window.down.p99Us) / 1000,
    max: Math.max(window.up.maxUs, window.down.maxUs) / 1000,
  };
  const why: string[] = [];
  const criteria = plan.criteria ?? CRITERIA;
  const setupFailures = Object.entries(failures)
    .filter(([k]) => !k.startsWith('bye'))
    .reduce((a, [, n]) => a + n, 0);
  if (setupFailures > 0) why.push(`${setupFailures} failed set-up${setupFailures > 1 ? 's' : ''}`);
  const worstLoss = Math.max(lossPercent.up, lossPercent.down);
  if (!(worstLoss < criteria.maxLossPercent)) why.push(`loss ${worstLoss.toFixed(3)} % ≥ ${criteria.maxLossPercent} %`);
  if (!(latencyMs.p99 < criteria.maxP99Ms)) why.push(`p99 ${latencyMs.p99.toFixed(1)} ms ≥ ${criteria.maxP99Ms} ms`);
  if (window.up.sent === 0) why.push('no media was sent');
  const n = Math.max(1, live.length);
  return {
    pair: name,
    calls: plan.calls,
    cps: plan.cps,
    up: live.length,
    setup: {
      p50Ms: percentile(setupTimes, 50),
      p99Ms: percentile(setupTimes, 99),
      maxMs: setupTimes.at(-1) ?? NaN,
      achievedCps: live.length / Math.max(0.001, (lastUp - rampStart) / 1000),
    },
    failures,
    window,
    lossPercent,
    latencyMs,
    jitterMs: {
      mean: Math.max(window.up.jitterMeanUs, window.down.jitterMeanUs) / 1000,
      max: Math.max(window.up.jitterMaxUs, window.down.jitterMaxUs) / 1000,
    },
    worstCallLossPercent: worstCallLoss,
    cores,
    setupCpuMsPerCall,
    cpuMsPerCallSecond: Object.fromEntries(Object.entries(cores).map(([k, c]) => [k, (1000 * c) / n])),
    memoryBytes: memory,
    memoryPerCallKb: Object.fromEntries(Object.entries(memory).map(([k, m]) => [k, (m - memBefore[k]!) / 1024 / n])),
    throttledPercent,
    generatorCores,
    host: { load1, busyCores },
    ...(registration ? { registration } : {}),
    pass: why.length === 0,
    why,
  };
}

export interface RateResult {
  pair: string;
  /** Offered calls per second. */
  cps: number;
  calls: number;
  achievedCps: number;
  setup: { p50Ms: number; p99Ms: number; maxMs: number };
  failures: Record<string, number>;
  /** Each call is held this long, so about cps × hold calls are up at once. */
  holdMs: number;
  pass: boolean;
}

/**
 * Set-up at a rate: `cps × seconds` calls, each held `holdMs` with media and then ended, at `cps` per second. The rate
 * is carried when every call is set up and the calls came up at no less than 90 % of the offered rate.
 */
export async function runRate(env: StepEnv, cps: number, seconds: number, holdMs: number): Promise<RateResult> {
  const { load } = env;
  const calls = Math.max(1, Math.round(cps * seconds));
  // Enough clients that one is free when its turn comes even if set-up takes seconds: hold + 3 s of calls.
  const concurrent = Math.min(calls, Math.ceil((cps * (holdMs + 3000)) / 1000));
  await load.ensureClients(concurrent);
  const failures: Record<string, number> = {};
  const fail = (k: string) => (failures[k] = (failures[k] ?? 0) + 1);
  const times: number[] = [];
  const started = performance.now();
  let lastUp = started;
  // Client i % concurrent: a client is free again once its call has ended (the hold is shorter than the cycle).
  const busy = new Set<number>();
  await paced(calls, cps, async (i) => {
    const slot = i % concurrent;
    if (busy.has(slot)) return fail('client still in its last call (set-up or teardown over 3 s)');
    busy.add(slot);
    try {
      const r = await load.place(slot);
      if (r.setupMs !== undefined) times.push(r.setupMs);
      if (!isLive(r)) return fail(r.failure ?? String(r.status));
      lastUp = performance.now();
      env.onProgress?.({ pair: env.pair.label, phase: 'setting up', calls, up: times.length });
      await sleep(holdMs);
      await load.quiet(r);
      await sleep(100);
      const e = await load.end(r);
      if (e.failure) fail(e.failure);
    } finally {
      busy.delete(slot);
    }
  });
  times.sort((a, b) => a - b);
  const achievedCps = times.length / Math.max(0.001, (lastUp - started) / 1000);
  const setupFailed = Object.entries(failures).filter(([k]) => !k.startsWith('bye')).length > 0;
  return {
    pair: env.pair.label,
    cps,
    calls,
    achievedCps,
    setup: { p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), maxMs: times.at(-1) ?? NaN },
    failures,
    holdMs,
    pass: !setupFailed && achievedCps >= 0.9 * cps,
  };
}
