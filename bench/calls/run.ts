// bench:calls — concurrent SRTP audio calls through our pair (edge + core) against Kamailio + rtpengine, in one run:
// the capacity search of `mra-edge capacity` (src/capacity) at the 1-core share (each node held to one core by its
// cgroup), the two pairs' steps alternating, then the set-up rates; bounded by a time budget (about 15 minutes with
// start-up and the report). The report and its plots go to bench/calls/, a summary into bench/RESULTS.md.
// Last line: RESULT bench:calls ours=<calls per core of edge+core> reference=<calls per core of Kamailio+rtpengine>.
import { loadavg } from 'node:os';
import { join } from 'node:path';
import {
  CapacityError,
  CRITERIA,
  callsPerCore,
  runCapacity,
  atCapacity,
  writeReport,
  type CapacityRun,
  type PairShareRun,
} from '../../src/capacity/index.js';
import { writeSection } from '../results.js';

const root = process.env.MRA_ROOT ?? process.cwd();
const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const SHARE = Number(opt('--share', '1'));
const BUDGET_MIN = Number(opt('--budget', '12'));
const START = Number(opt('--start', '100'));
const MAX = Number(opt('--max-calls', '3200'));
const WINDOW_S = Number(opt('--window', '8'));
const RATES = opt('--rates', '50,100,200').split(',').map(Number);
const write = !args.includes('--no-write');
const OUT = join(root, 'bench/calls');
const TARGETS = { ratio: 3, perCore: 500, cps: 100 };

const f = (x: number, d = 0) =>
  Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : '–';
const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');

/** The highest offered set-up rate a pair carried with every call answered. */
function bestRate(r: PairShareRun): number {
  return Math.max(0, ...r.rates.filter((x) => x.pass).map((x) => x.cps));
}

function summary(run: CapacityRun, command: string, perCore: { ours: number; reference: number }): string {
  const audio = run.runs.filter((r) => !r.video && r.share === SHARE);
  const L = [
    '## bench:calls — concurrent SRTP audio calls through edge + core, against Kamailio + rtpengine',
    '',
    `\`${command}\` · ${run.started} → ${run.finished} · ${run.machine.cpus} CPUs (${run.machine.model}), ${run.machine.cgroup} · **load average (1 / 5 / 15 min) at start ${load(run.hostLoad.start)}, at end ${load(run.hostLoad.end)}** (other engineers' tests share the machine).`,
    '',
    `Each node held by its cgroup to ${SHARE} core (cpu quota + cpuset); the load side (call control with the inside phones, the TLS clients, callgen) outside the cgroups. A call: TLS client registered through the pair, INVITE with SDES AES_CM_128_HMAC_SHA1_80, inside phone answering RTP/AVP, G.711 20 ms both ways. A step passes with loss < ${CRITERIA.maxLossPercent} %, p99 added latency < ${CRITERIA.maxP99Ms} ms, no failed set-up; steps doubled from ${START} (at most ${MAX}), bisected twice; the pairs' steps alternate. Calls per core = calls up ÷ the cores the pair's nodes used at its capacity step (cgroup CPU time over the window).`,
    '',
    '| pair | capacity (calls, 1 core per node) | cores used (per node) | calls per core | CPU per call (ms/s per node) | memory per call (KB per node) | above it | best set-up rate carried (calls/s) |',
    '|---|---:|---|---:|---|---|---|---:|',
  ];
  for (const r of audio) {
    const s = atCapacity(r);
    const nodes = r.nodes;
    L.push(
      `| ${r.label} | ${f(r.capacity)} | ${s ? nodes.map((n) => `${n} ${f(s.cores[n] ?? NaN, 2)}`).join(', ') : '–'} | ${f(callsPerCore(r))} | ${s ? nodes.map((n) => `${n} ${f(s.cpuMsPerCallSecond[n] ?? NaN, 3)}`).join(', ') : '–'} | ${s ? nodes.map((n) => `${n} ${f(s.memoryPerCallKb[n] ?? NaN, 1)}`).join(', ') : '–'} | ${r.limitedBy} | ${f(bestRate(r))} |`,
    );
  }
  const ours = audio.find((r) => r.pair === 'ours');
  const ratio = perCore.reference > 0 ? perCore.ours / perCore.reference : NaN;
  L.push(
    '',
    `Targets (issue 19): ratio ≥ ${TARGETS.ratio} — got ${f(ratio, 2)}; ≥ ${TARGETS.perCore} calls per core — got ${f(perCore.ours)}; set-up ≥ ${TARGETS.cps} calls/s — carried ${ours ? f(bestRate(ours)) : '–'}.`,
    '',
    `The full report (every step, set-up rates, cost against load, per Expressway size, measured and derived rows): [bench/calls/capacity.md](calls/capacity.md).`,
    '',
    ...['capacity-vs-share', 'loss-vs-calls', 'p99-vs-calls', 'cpu-per-call', 'setup-vs-rate'].map(
      (p) => `![${p}](calls/${p}.svg)`,
    ),
    '',
    '```',
    `RESULT bench:calls ours=${perCore.ours.toFixed(0)} reference=${perCore.reference.toFixed(0)} ratio=${Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a'}`,
    '```',
  );
  return L.join('\n');
}

async function main(): Promise<void> {
  const command = `npm run bench:calls${args.length ? ` -- ${args.join(' ')}` : ''}`;
  process.stderr.write(`[bench:calls] load average ${load(loadavg())}; budget ${BUDGET_MIN} min\n`);
  const run = await runCapacity({
    pairs: ['ours', 'reference'],
    shares: [SHARE],
    ladder: { start: START, max: MAX, refine: 2 },
    cps: 100,
    settleMs: 2000,
    windowMs: WINDOW_S * 1000,
    rates: RATES,
    rateSeconds: 4,
    rateHoldMs: 2000,
    video: false,
    criteria: { ...CRITERIA },
    budgetMs: BUDGET_MIN * 60_000,
    log: (line) => process.stderr.write(`[bench:calls] ${line}\n`),
    onProgress: (() => {
      let last = 0;
      return (p) => {
        if (Date.now() - last < 5000) return;
        last = Date.now();
        process.stderr.write(
          `[bench:calls] ${p.pair}: step ${p.calls} · ${p.phase} · ${p.up} up${p.lossPercent === undefined ? '' : ` · loss ${p.lossPercent.toFixed(3)} %`}\n`,
        );
      };
    })(),
  });
  const report = await writeReport(run, write ? OUT : join(root, 'build/bench-calls'), command);
  const text = summary(run, command, report.perCore);
  if (write) process.stderr.write(`[bench:calls] wrote ${writeSection(root, 'calls', text)} and ${OUT}/capacity.md\n`);
  // The RESULT line closes the output (it sits in the section's last code block too).
  process.stdout.write(`${text.replace(/\n```\nRESULT[^\n]*\n```$/, '')}\n${text.split('\n').at(-2)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `bench:calls: ${err instanceof CapacityError ? err.message : ((err as Error).stack ?? String(err))}\n`,
  );
  process.exit(1);
});
