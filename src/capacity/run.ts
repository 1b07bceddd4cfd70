// A capacity run: for each CPU share, the pairs asked for (ours, the reference) start in their cgroups in front of one
// call control; their searches alternate step by step (so that both see the same machine, whatever else it runs);
// at the largest share the set-up rates follow, and video calls when asked. The load side (this process, call
// control, the generator) runs outside the cgroups, the generator on the CPUs the nodes leave free.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { CallControl } from '../lab/index.js';
import { createLogger } from '../log/index.js';
import { CallGenerator, repoRoot } from './callgen.js';
import { CallLoad } from './call-load.js';
import { findHierarchy, planCpus } from './cgroup.js';
import { CapacityError } from './errors.js';
import { StepLadder, type LadderOptions } from './ladder.js';
import { startOurs } from './ours.js';
import type { PairKind, PairOptions, PairUnderTest } from './pair.js';
import { referenceMissing, startReference } from './reference.js';
import { runRate, runStep, type Progress, type RateResult, type StepResult } from './step.js';

export interface CapacityRunOptions {
  pairs: PairKind[];
  /** Cores each node of a pair is held to; one search per share. */
  shares: number[];
  ladder: LadderOptions;
  /** Set-up (and teardown) rate of the steps. */
  cps: number;
  settleMs: number;
  windowMs: number;
  /** Set-up rates to try at the largest share (none: skip). */
  rates: number[];
  rateSeconds: number;
  rateHoldMs: number;
  /** Also search with video calls (two m= lines) at the largest share. */
  video: boolean;
  /** What a step must meet (the issue's CRITERIA unless the operator names other limits). */
  criteria: { maxLossPercent: number; maxP99Ms: number };
  /** No new step starts once this much time has gone (the steps under way finish). */
  budgetMs?: number;
  /** Media port ranges per pair (the nodes' own: ours two, the reference one). */
  mediaPorts?: Partial<Record<PairKind, Array<[number, number]>>>;
  onProgress?: (p: Progress) => void;
  log?: (line: string) => void;
}

export interface PairShareRun {
  pair: PairKind;
  label: string;
  share: number;
  video: boolean;
  nodes: string[];
  cpus: number[][];
  steps: StepResult[];
  capacity: number;
  limitedBy: string;
  rates: RateResult[];
}

export interface CapacityRun {
  started: string;
  finished: string;
  machine: { cpus: number; model: string; mhz: number; kernel: string; cgroup: string };
  hostLoad: { start: number[]; end: number[] };
  generatorCpus: Record<string, number[]>;
  options: Omit<CapacityRunOptions, 'onProgress' | 'log'>;
  runs: PairShareRun[];
  /** Steps and searches the budget cut short. */
  cut: string[];
}

const DEFAULT_PORTS: Record<PairKind, Array<[number, number]>> = {
  ours: [
    [36000, 43999],
    [44000, 59999],
  ],
  reference: [[10000, 25999]],
};

function cpuInfo(): { model: string; mhz: number } {
  const text = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    model: /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? 'unknown',
    mhz: Number(/^cpu MHz\s*:\s*([\d.]+)$/m.exec(text)?.[1] ?? NaN),
  };
}

/** Refuses what cannot run before anything starts: no cgroups, no build, a reference whose packages are missing. */
export function preflight(o: Pick<CapacityRunOptions, 'pairs' | 'shares'>): string {
  const h = findHierarchy();
  if ('missing' in h) throw new CapacityError(`cannot hold the nodes to a share: ${h.missing}`);
  if (process.getuid?.() !== 0)
    throw new CapacityError('the capacity search makes cgroups for the nodes: run it as root');
  for (const s of o.shares) planCpus([s, s]);
  if (o.pairs.includes('ours') && !existsSync(join(repoRoot, 'dist/src/cli/main.js')))
    throw new CapacityError('our pair runs from the build: run `npm run build` first');
  if (o.pairs.includes('reference')) {
    const missing = referenceMissing();
    if (missing) throw new CapacityError(`the reference pair cannot run: ${missing}`);
  }
  return h.version === 1 ? 'cgroup v1 (cpu.cfs_quota_us, cpuset)' : 'cgroup v2 (cpu.max, cpuset)';
}

export async function runCapacity(o: CapacityRunOptions): Promise<CapacityRun> {
  const cgroup = preflight(o);
  const log = o.log ?? (() => {});
  const started = Date.now();
  const overBudget = () => o.budgetMs !== undefined && Date.now() - started > o.budgetMs;
  const info = cpuInfo();
  const run: CapacityRun = {
    started: new Date(started).toISOString(),
    finished: '',
    machine: { cpus: availableParallelism(), model: info.model, mhz: info.mhz, kernel: release(), cgroup },
    hostLoad: { start: loadavg(), end: [] },
    generatorCpus: {},
    options: {
      pairs: o.pairs,
      shares: o.shares,
      ladder: o.ladder,
      cps: o.cps,
      settleMs: o.settleMs,
      windowMs: o.windowMs,
      rates: o.rates,
      rateSeconds: o.rateSeconds,
      rateHoldMs: o.rateHoldMs,
      video: o.video,
      criteria: o.criteria,
      ...(o.budgetMs ? { budgetMs: o.budgetMs } : {}),
    },
    runs: [],
    cut: [],
  };
  const users: Record<string, string> = {};
  const callControl = await new CallControl({
    address: '127.0.0.1',
    port: 0,
    users,
    log: createLogger({ level: 'error', node: 'capacity-call-control' }),
  }).start();
  const largest = Math.max(...o.shares);
  try {
    for (const share of o.shares) {
      const plan = planCpus([share, share]);
      const wrap = [
        'taskset',
        '-c',
        plan.generator.join(','),
        ...(process.getuid?.() === 0 ? ['nice', '-n', '-15'] : []),
      ];
      const gen = await CallGenerator.start({ wrap });
      run.generatorCpus[String(share)] = plan.generator;
      log(
        `share ${share} core per node: nodes on CPU ${plan.nodes.map((c) => c.join('+')).join(' and ')}, generator on CPU ${plan.generator.join(',')}${plan.shared ? ' (shared with a node: the machine has no CPU to spare)' : ''}`,
      );
      const pairs: PairUnderTest[] = [];
      try {
        for (const kind of o.pairs) {
          const po: PairOptions = {
            callControl: { address: '127.0.0.1', port: callControl.ports.tcp },
            domain: 'example.com',
            shares: [share, share],
            cpus: [plan.nodes[0]!, plan.nodes[1]!],
            mediaPorts: o.mediaPorts?.[kind] ?? DEFAULT_PORTS[kind],
            maxCalls: o.ladder.max,
            tag: `${process.pid}-${kind}-${Math.round(share * 100)}`,
          };
          pairs.push(kind === 'ours' ? await startOurs(po) : await startReference(po));
          log(`${pairs.at(-1)!.label} up at ${share} core per node`);
        }
        const searches = [{ video: false }, ...(o.video && share === largest ? [{ video: true }] : [])];
        for (const { video } of searches) {
          const entries = pairs.map((pair) => ({
            pair,
            ladder: new StepLadder(o.ladder),
            load: new CallLoad({
              face: pair.face,
              domain: 'example.com',
              callControl,
              users,
              gen,
              prefix: `${pair.kind[0]}${Math.round(share * 100)}${video ? 'v' : 'a'}`,
              clientAddress: '127.0.0.1',
              insideAddress: '127.0.0.1',
              video,
            }),
            rates: [] as RateResult[],
          }));
          try {
            // Alternate: each pair's next step in turn, so drift in the machine's speed falls on both.
            while (entries.some((e) => e.ladder.next() !== null)) {
              for (const e of entries) {
                const calls = e.ladder.next();
                if (calls === null) continue;
                if (overBudget()) {
                  run.cut.push(`${e.pair.label} at ${share} core${video ? ' (video)' : ''}: ${calls} calls and beyond`);
                  e.ladder.record({ calls, pass: false, why: ['not run: the time budget was spent'] } as StepResult);
                  continue;
                }
                const r = await runStep(
                  { pair: e.pair, load: e.load, gen, ...(o.onProgress ? { onProgress: o.onProgress } : {}) },
                  { calls, cps: o.cps, settleMs: o.settleMs, windowMs: o.windowMs, criteria: o.criteria },
                );
                e.ladder.record(r);
                log(
                  `${e.pair.label} ${share} core${video ? ' video' : ''}: ${calls} calls ${r.pass ? 'pass' : `FAIL (${r.why.join('; ')})`}; loss ${Math.max(r.lossPercent.up, r.lossPercent.down).toFixed(3)} %, p99 ${r.latencyMs.p99.toFixed(2)} ms, cores ${Object.entries(
                    r.cores,
                  )
                    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
                    .join(' ')}, host load ${r.host.load1.toFixed(1)}`,
                );
              }
            }
            if (share === largest && !video && o.rates.length) {
              for (const cps of o.rates) {
                for (const e of entries) {
                  if (overBudget()) {
                    run.cut.push(`${e.pair.label}: set-up at ${cps} calls/s`);
                    continue;
                  }
                  const r = await runRate(
                    { pair: e.pair, load: e.load, gen, ...(o.onProgress ? { onProgress: o.onProgress } : {}) },
                    cps,
                    o.rateSeconds,
                    o.rateHoldMs,
                  );
                  e.rates.push(r);
                  log(
                    `${e.pair.label} set-up at ${cps}/s: achieved ${r.achievedCps.toFixed(0)}/s, p50 ${r.setup.p50Ms.toFixed(1)} ms, p99 ${r.setup.p99Ms.toFixed(1)} ms, failures ${JSON.stringify(r.failures)}`,
                  );
                }
              }
            }
          } finally {
            for (const e of entries) e.load.close();
          }
          for (const e of entries) {
            run.runs.push({
              pair: e.pair.kind,
              label: e.pair.label,
              share,
              video,
              nodes: e.pair.nodes.map((n) => n.name),
              cpus: plan.nodes,
              steps: e.ladder.results.filter((r) => r.window !== undefined),
              capacity: e.ladder.capacity,
              limitedBy: e.ladder.limitedBy,
              rates: e.rates,
            });
          }
        }
      } finally {
        for (const p of pairs) await p.close();
        await gen.close();
      }
    }
  } finally {
    await callControl.close();
  }
  run.hostLoad.end = loadavg();
  run.finished = new Date().toISOString();
  return run;
}
