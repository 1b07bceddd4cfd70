// Trials and the loss-free search: offer a paced rate, count what comes out, charge the relay's CPU time.
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuSeconds } from './cpu.js';
import type { LoadGenerator } from './loadgen.js';

/** What a relay has spent so far: CPU seconds, and for the kernel rows what the BPF program itself ran. */
export interface CpuSample {
  seconds: number;
  bpfNs?: number;
  bpfRuns?: number;
}

/**
 * Reads a relay's CPU: its processes' time, and for the kernel rows (`softirq`) the NET_RX softirq time the
 * generator measures on the relay core outside those processes (bench/media/kernel/meter.ts).
 */
export interface CpuMeter {
  sample(): CpuSample;
  readonly softirq?: { core: number; pids: number[] };
}

/** utime + stime of one process, every thread. */
export const processMeter = (pid: number): CpuMeter => ({ sample: () => ({ seconds: cpuSeconds(pid) }) });

export const LOSS_FREE = 0.001; // "loss-free": under 0.1 % lost
const DRAIN_S = 0.3; // loadgen.c's DRAIN_MS: it keeps receiving that long after the last send

export interface Trial {
  offeredPps: number;
  /** What the generator managed to send; below the offer means the generator, not the relay, was the limit. */
  sentPps: number;
  forwardedPps: number;
  loss: number;
  /** Relay CPU seconds over the trial (all its threads). */
  cpuS: number;
  /** Relay CPU over the trial's wall time (sending plus the generator's 0.3 s drain): 1.0 is one core busy. */
  cores: number;
  ppsPerCore: number;
  p50Us: number;
  p99Us: number;
  silentStreams: number;
  /** Kernel rows: nanoseconds the BPF program ran per packet it ran for (kernel.bpf_stats_enabled). */
  bpfNsPerPacket?: number;
}

export interface SearchResult {
  best: Trial | null;
  trials: Trial[];
  /** The generator could not offer more than the relay took: the relay's own limit is higher. */
  generatorBound: boolean;
  /** The first trial (at startPps): latency compared at the same, unsaturated rate for every relay. */
  lowRate: Trial | null;
}

/** The relay as the search sees it: how to read its CPU, and how to get it forwarding again after an overload. */
export interface SearchTarget {
  readonly meter: CpuMeter;
  recover(): Promise<void>;
}

export interface SearchOptions {
  trialMs: number;
  startPps: number;
  growth: number;
  maxTrials: number;
  refineSteps: number;
  /** Epoch ms after which no new trial starts: the whole run is bounded in time. */
  deadline: number;
}

const lossFree = (t: Trial): boolean => t.loss < LOSS_FREE && t.silentStreams === 0;

/** Waits until the relay has stopped burning CPU (queues drained), so a trial pays only for its own packets. */
export async function settle(meter: CpuMeter, maxMs = 3000): Promise<void> {
  let last = meter.sample().seconds;
  for (let waited = 0; waited < maxMs; waited += 100) {
    await sleep(100);
    const now = meter.sample().seconds;
    if (now - last < 0.005) return;
    last = now;
  }
}

export async function trial(
  gen: LoadGenerator,
  meter: CpuMeter,
  pps: number,
  ms: number,
  size: number,
): Promise<Trial> {
  await settle(meter);
  if (meter.softirq) await gen.charge(meter.softirq.core, meter.softirq.pids);
  const before = meter.sample();
  const c = await gen.run(pps, ms, size);
  const after = meter.sample();
  const cpuS = after.seconds - before.seconds + (meter.softirq ? (c.netRxNs ?? 0) / 1e9 : 0);
  const runs = (after.bpfRuns ?? 0) - (before.bpfRuns ?? 0);
  return {
    offeredPps: pps,
    sentPps: c.sent / c.elapsedS,
    forwardedPps: c.received / c.elapsedS,
    loss: c.sent > 0 ? Math.max(0, 1 - c.received / c.sent) : 1,
    cpuS,
    cores: cpuS / (c.elapsedS + DRAIN_S),
    ppsPerCore: cpuS > 0 ? c.received / cpuS : 0,
    p50Us: c.p50Us,
    p99Us: c.p99Us,
    silentStreams: c.silentStreams,
    ...(runs > 0 ? { bpfNsPerPacket: ((after.bpfNs ?? 0) - (before.bpfNs ?? 0)) / runs } : {}),
  };
}

/**
 * Highest offered rate with loss < 0.1 %: grow geometrically until a trial loses (or the generator tops out),
 * then bisect between the last loss-free rate and the first lossy one. Bounded by maxTrials in all.
 * Growing from below, not probing from overload, so no relay is judged after an overload it has not recovered from.
 */
export async function lossFreeSearch(
  gen: LoadGenerator,
  target: SearchTarget,
  size: number,
  o: SearchOptions,
  onTrial: (t: Trial) => void = () => {},
): Promise<SearchResult> {
  const trials: Trial[] = [];
  let best: Trial | null = null;
  let generatorBound = false;
  let lo = 0;
  let hi = 0;
  const run = async (pps: number): Promise<Trial> => {
    const t = await trial(gen, target.meter, pps, o.trialMs, size);
    trials.push(t);
    onTrial(t);
    if (lossFree(t) && (!best || t.forwardedPps > best.forwardedPps)) best = t;
    if (!lossFree(t)) await target.recover();
    return t;
  };
  for (let pps = o.startPps; trials.length < o.maxTrials && Date.now() < o.deadline; pps *= o.growth) {
    const t = await run(pps);
    if (!lossFree(t)) {
      hi = pps;
      break;
    }
    lo = pps;
    // Short of the offer and no more than last time: the generator is at its ceiling (a busy machine can also
    // starve it for one trial, hence the second condition).
    const previous = trials.at(-2);
    if (t.sentPps < 0.9 * pps && (!previous || t.sentPps < 1.05 * previous.sentPps)) {
      generatorBound = true;
      break;
    }
  }
  for (let step = 0; hi > 0 && step < o.refineSteps && trials.length < o.maxTrials && Date.now() < o.deadline; step++) {
    const mid = (lo + hi) / 2;
    const t = await run(mid);
    if (lossFree(t)) lo = mid;
    else hi = mid;
  }
  return { best, trials, generatorBound, lowRate: trials[0] ?? null };
}
