// The capacity report: Markdown with the plots beside it as SVG files. What each figure is, and which rows are
// measured on this machine and which are derived by the model in sizes.ts, is written into the report itself.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { plots } from './plots.js';
import type { CapacityRun, PairShareRun } from './run.js';
import type { StepResult } from './step.js';
import { EXPRESSWAY_SIZES, deriveCalls, deriveRegistrations, type MeasuredCapacity, type SizeKey } from './sizes.js';
import type { PairKind } from './pair.js';

const n0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const fails = (r: Record<string, number>) =>
  Object.keys(r).length
    ? Object.entries(r)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ')
    : 'none';

/** The step a pair's capacity was read at. */
export function atCapacity(r: PairShareRun): StepResult | undefined {
  return r.steps.find((s) => s.pass && s.calls === r.capacity);
}

/** Concurrent calls per core the pair's nodes used at its capacity step (the RESULT line's figure). */
export function callsPerCore(r: PairShareRun): number {
  const s = atCapacity(r);
  if (!s) return 0;
  const cores = Object.values(s.cores).reduce((a, b) => a + b, 0);
  return cores > 0 ? s.up / cores : 0;
}

/** How a pair's CPU per call moves from its smallest to its largest passing step, node by node. */
export function linearity(r: PairShareRun): string {
  const passing = r.steps.filter((s) => s.pass && s.up > 0).sort((a, b) => a.calls - b.calls);
  if (passing.length < 2) return 'one passing step: no trend to read';
  const [lo, hi] = [passing[0]!, passing.at(-1)!];
  const parts = Object.keys(hi.cpuMsPerCallSecond).map((node) => {
    const a = lo.cpuMsPerCallSecond[node]!;
    const b = hi.cpuMsPerCallSecond[node]!;
    const change = (100 * (b - a)) / a;
    const verdict =
      Math.abs(change) <= 15
        ? 'linear'
        : change < 0
          ? 'cheaper per call with load (fixed costs spread, batching)'
          : 'dearer per call with load: NOT linear';
    return `${node} ${f(a, 3)} → ${f(b, 3)} ms/s per call (${change >= 0 ? '+' : ''}${f(change, 0)} %, ${verdict})`;
  });
  return `from ${lo.calls} to ${hi.calls} calls: ${parts.join('; ')}`;
}

function measuredFor(run: CapacityRun, pair: PairKind): MeasuredCapacity[] {
  return run.runs
    .filter((r) => r.pair === pair)
    .flatMap((r) => {
      const s = atCapacity(r);
      return s
        ? [
            {
              share: r.share,
              calls: r.capacity,
              coresPerCall: Object.values(s.cores).map((c) => c / Math.max(1, s.up)),
              video: r.video,
              bounded: r.steps.some((x) => !x.pass && x.calls > r.capacity),
            },
          ]
        : [];
    });
}

/** CPU (ms) and memory (KB) per registration of the pair, from the steps that registered new clients (the largest batch). */
function registrationCost(run: CapacityRun, pair: PairKind): { cpuMs: number; memoryKb: number } | null {
  const regs = run.runs
    .filter((r) => r.pair === pair)
    .flatMap((r) => r.steps.map((s) => s.registration).filter((x) => x !== undefined));
  const big = regs.sort((a, b) => b.count - a.count)[0];
  if (!big) return null;
  // Per node: the busier node bounds the pair; memory adds up (each node keeps its own state).
  return {
    cpuMs: Math.max(...Object.values(big.cpuMsPer)),
    memoryKb: Math.max(0, Math.max(...Object.values(big.memoryKbPer))),
  };
}

function stepRows(r: PairShareRun): string[] {
  const nodes = r.nodes;
  const rows = [
    `| calls | up | set-up p50 / p99 (ms) | failures | loss up / down (%) | latency p50 / p99 / max (ms) | jitter mean / max (ms) | ${nodes.map((n) => `${n} cores`).join(' | ')} | ${nodes.map((n) => `${n} KB/call`).join(' | ')} | throttled (% of periods) | load side (cores) | host busy (cores) / load | verdict |`,
    `|${'---:|'.repeat(8 + 2 * nodes.length)}---:|---:|---|`,
  ];
  for (const s of r.steps) {
    rows.push(
      `| ${s.calls} | ${s.up} | ${f(s.setup.p50Ms, 1)} / ${f(s.setup.p99Ms, 1)} | ${fails(s.failures)} | ${f(s.lossPercent.up, 3)} / ${f(s.lossPercent.down, 3)} | ${f(s.latencyMs.p50)} / ${f(s.latencyMs.p99)} / ${f(s.latencyMs.max, 1)} | ${f(s.jitterMs.mean)} / ${f(s.jitterMs.max)} | ${nodes.map((n) => f(s.cores[n] ?? NaN)).join(' | ')} | ${nodes.map((n) => f(s.memoryPerCallKb[n] ?? NaN, 1)).join(' | ')} | ${nodes.map((n) => f(s.throttledPercent[n] ?? NaN, 0)).join(' / ')} | ${f(s.generatorCores)} | ${f(s.host.busyCores)} / ${f(s.host.load1, 1)} | ${s.pass ? 'pass' : `fail: ${s.why.join('; ')}`} |`,
    );
  }
  return rows;
}

export interface WrittenReport {
  markdown: string;
  files: string[];
  /** ours and the reference in concurrent SRTP audio calls per core at the largest share (0 when not run). */
  perCore: { ours: number; reference: number; share: number };
}

/** Writes `<dir>/<name>.md` and its SVG plots; `command` is what produced the run. */
export async function writeReport(
  run: CapacityRun,
  dir: string,
  command: string,
  o: { name?: string; sizes?: SizeKey[] } = {},
): Promise<WrittenReport> {
  const name = o.name ?? 'capacity';
  mkdirSync(dir, { recursive: true });
  const figures = await plots(run);
  for (const p of figures) writeFileSync(join(dir, p.file), p.svg);
  const md = reportMarkdown(
    run,
    command,
    figures.map((p) => ({ file: p.file, title: p.title })),
    o.sizes ?? [],
  );
  writeFileSync(join(dir, `${name}.md`), md.markdown);
  return { ...md, files: [`${name}.md`, ...figures.map((p) => p.file)] };
}

export function reportMarkdown(
  run: CapacityRun,
  command: string,
  figures: Array<{ file: string; title: string }>,
  sizes: SizeKey[] = [],
): Omit<WrittenReport, 'files'> {
  const L: string[] = [];
  const largest = Math.max(...run.runs.map((r) => r.share));
  const audio = run.runs.filter((r) => !r.video);
  const m = run.machine;
  L.push(
    `# Capacity: calls through the pair${run.runs.some((r) => r.pair === 'reference') ? ', against Kamailio + rtpengine' : ''}`,
    '',
  );
  L.push(
    `Command: \`${command}\` · ${run.started} → ${run.finished} · machine: ${m.cpus} CPUs (${m.model}, ${f(m.mhz, 0)} MHz), Linux ${m.kernel}, ${m.cgroup} · host load (1, 5, 15 min) at start ${run.hostLoad.start.map((x) => f(x)).join(' ')}, at end ${run.hostLoad.end.map((x) => f(x)).join(' ')}`,
    '',
  );
  if (run.cut.length) L.push(`**Cut short by the time budget:** ${run.cut.join('; ')}.`, '');
  L.push(
    '## What a step is',
    '',
    `Each node of a pair runs in its own cgroup, held to a CPU quota of the share named ("cores per node") on its own cpuset; the load side (call control with the inside phones, the TLS clients, the media generator) runs outside them, the generator pinned to the CPUs the nodes leave free (${Object.entries(
      run.generatorCpus,
    )
      .map(([s, c]) => `${s} core: CPU ${c.join(',')}`)
      .join(
        '; ',
      )}). A step registers N remote clients over TLS through the pair (once; later steps add clients), sets up N calls at ${run.options.cps} calls/s (each client calls its own inside phone behind the lab's call control: INVITE with an SDES SRTP offer, ${'AES_CM_128_HMAC_SHA1_80'}; the phone answers RTP/AVP), lets them settle ${run.options.settleMs / 1000} s, and measures a ${run.options.windowMs / 1000} s window: G.711 at 20 ms (172-byte RTP packets, 50 a second each way per call), SRTP on the client's side, plain RTP inside${run.options.video ? '; the video search adds a second m= line with 1,200-byte packets at 1.5 Mbit/s each way' : ''}. Then media stops, what is in flight arrives, and every client sends BYE.`,
    '',
    `A step **passes** with loss < ${run.options.criteria.maxLossPercent} % in each direction, p99 latency < ${run.options.criteria.maxP99Ms} ms in each direction, and no failed set-up. The search doubles the calls from ${run.options.ladder.start} until a step fails (or ${run.options.ladder.max}), then bisects ${run.options.ladder.refine} times; the **capacity** is the largest step that passed.`,
    '',
    '- **loss**: packets stamped (sent) in the window that never arrived, or arrived failing SRTP authentication, over packets sent in the window (counted after a 300 ms drain).',
    "- **latency**: send → receive at the generator, through the whole pair (client → edge → core → inside, and back; for the reference client → rtpengine → inside), loopback and the generator's own receive path included (a few tens of µs here). The send time rides in the RTP timestamp, which SRTP authenticates but does not encrypt.",
    "- **jitter**: RFC 3550 interarrival jitter (J += (|D| − J)/16) per call and direction, on transit times from the send stamps: the jitter the pair adds, not the sender's pacing. The mean and the worst over the calls up at the window's end.",
    "- **CPU**: each node's cgroup CPU time over the window (every thread and child); **per call** = cores ÷ calls, in ms of CPU per second per call. **Memory**: the Pss of the cgroup's processes during the window, per call = its growth since before the step ÷ calls. **Throttled**: the share of quota periods in which the kernel held the node back (a node at its share shows it). **Load side**: the generator plus this process. **Host busy**: every CPU's busy time over the window (anything above the pair and the load side is other work on this machine).",
    '',
  );

  L.push('## Capacity per CPU share', '');
  L.push(
    '| pair | calls | cores per node (CPUs) | **capacity** (concurrent calls) | what failed above it | cores used at capacity | CPU per call (ms/s) | CPU per call set-up (ms) | memory per call (KB) | **calls per core** of the pair |',
    '|---|---|---|---:|---|---|---|---|---|---:|',
  );
  for (const r of run.runs) {
    const s = atCapacity(r);
    L.push(
      `| ${r.label} | ${r.video ? 'video' : 'SRTP audio'} | ${r.share} (${r.cpus.map((c) => c.join('+')).join(', ')}) | **${n0(r.capacity)}** | ${r.limitedBy} | ${s ? r.nodes.map((n) => `${n} ${f(s.cores[n]!)}`).join(', ') : '–'} | ${s ? r.nodes.map((n) => `${n} ${f(s.cpuMsPerCallSecond[n]!, 3)}`).join(', ') : '–'} | ${s ? r.nodes.map((n) => `${n} ${f(s.setupCpuMsPerCall[n]!, 2)}`).join(', ') : '–'} | ${s ? r.nodes.map((n) => `${n} ${f(s.memoryPerCallKb[n]!, 1)}`).join(', ') : '–'} | **${n0(callsPerCore(r))}** |`,
    );
  }
  L.push(
    '',
    '"Calls per core" = concurrent calls at capacity ÷ the cores the pair\'s two nodes used then (measured, not the quota): the figure that compares pairs whose nodes were not both saturated. "CPU per call set-up" is what each node spent per call while the step\'s calls were set up (SIP, the relays\' creation, and the media of the calls already up). Memory per call is noisy at small steps (a garbage collection in the window moves a Node process by megabytes).',
    '',
  );

  const ours = audio.find((r) => r.pair === 'ours' && r.share === largest);
  const ref = audio.find((r) => r.pair === 'reference' && r.share === largest);
  const perCore = { ours: ours ? callsPerCore(ours) : 0, reference: ref ? callsPerCore(ref) : 0, share: largest };
  if (ours && ref) {
    L.push('## Ours against the reference', '');
    for (const share of [...new Set(audio.map((r) => r.share))]) {
      const a = audio.find((r) => r.pair === 'ours' && r.share === share);
      const b = audio.find((r) => r.pair === 'reference' && r.share === share);
      if (a && b)
        L.push(
          `- ${share} core per node: ours ${n0(a.capacity)} calls (${n0(callsPerCore(a))} per core), Kamailio + rtpengine ${n0(b.capacity)} (${n0(callsPerCore(b))} per core): **${f(callsPerCore(a) / Math.max(1e-9, callsPerCore(b)))}×** per core, ${f(a.capacity / Math.max(1, b.capacity))}× in calls.`,
        );
    }
    L.push(
      '',
      "Our pair crosses two relays per call (the edge's pass-through and core's SRTP B2BUA) where the reference crosses one (rtpengine), and two SIP proxies where the reference has one.",
      '',
    );
  }

  L.push('## How the cost grows with load', '');
  for (const r of audio) L.push(`- ${r.label}, ${r.share} core per node: ${linearity(r)}.`);
  L.push('');

  const rateRuns = run.runs.filter((r) => r.rates.length);
  if (rateRuns.length) {
    L.push(
      `## Set-up rate (${largest} core per node)`,
      '',
      `Each call is held ${run.options.rateHoldMs / 1000} s with media, then ended; the calls of ${run.options.rateSeconds} s at the offered rate. A rate is carried when every call is set up and they came up at ≥ 90 % of it.`,
      '',
    );
    L.push(
      '| pair | offered (calls/s) | calls | achieved (calls/s) | set-up p50 / p99 / max (ms) | failures | carried |',
      '|---|---:|---:|---:|---|---|---|',
    );
    for (const r of rateRuns)
      for (const x of r.rates)
        L.push(
          `| ${r.label} | ${x.cps} | ${x.calls} | ${f(x.achievedCps, 0)} | ${f(x.setup.p50Ms, 1)} / ${f(x.setup.p99Ms, 1)} / ${f(x.setup.maxMs, 1)} | ${fails(x.failures)} | ${x.pass ? 'yes' : 'no'} |`,
        );
    L.push('');
  }

  L.push('## Per Expressway size', '');
  const model = { ours: deriveFor(run, 'ours'), reference: deriveFor(run, 'reference') };
  L.push(
    "Cisco's figures per node: the seeds' X8 scalability table (calls and MRA registrations), and in brackets current releases' (X14 admin guide, shared/digest/anchors.md §0.1). Our pair is two nodes of the size (an edge and a core, as Expressway-E and -C); the reference is Kamailio and rtpengine at the same shares.",
    '',
    '| row | cores per node | Cisco audio | Cisco video | Cisco MRA registrations | ours: audio | ours: video | ours: registrations | reference: audio | reference: video | how |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  );
  for (const share of [...new Set(run.runs.map((r) => r.share))].sort((a, b) => a - b)) {
    const cell = (pair: PairKind, video: boolean) => {
      const r = run.runs.find((x) => x.pair === pair && x.share === share && x.video === video);
      return r ? n0(r.capacity) : '–';
    };
    const regs = (pair: PairKind) => {
      const most = Math.max(
        0,
        ...run.runs.filter((x) => x.pair === pair && x.share === share).flatMap((x) => x.steps.map((s) => s.up)),
      );
      return most ? `${n0(most)} held (the most the run asked for)` : '–';
    };
    L.push(
      `| this machine at ${share} core per node | ${share} | | | | ${cell('ours', false)} | ${cell('ours', true)} | ${regs('ours')} | ${cell('reference', false)} | ${cell('reference', true)} | **measured** |`,
    );
  }
  for (const size of Object.values(EXPRESSWAY_SIZES).filter((x) => !sizes.length || sizes.includes(x.key))) {
    const c = size.cisco;
    const o = model.ours;
    const rf = model.reference;
    const oc = o ? deriveCalls(o.measured, size.vcpu) : null;
    const rc = rf ? deriveCalls(rf.measured, size.vcpu) : null;
    const oregs = o?.regs && oc ? deriveRegistrations(o.regs.cpuMs, o.regs.memoryKb, size, oc.utilisation) : NaN;
    L.push(
      `| ${size.label} (${size.vcpu} vCPU${size.ghz ? ` × ${size.ghz} GHz` : ''}${size.vcpuNote ? `; ${size.vcpuNote}` : ''}) | ${size.vcpu} | ${n0(c.audio)} (${n0(c.x14.audio)}) | ${n0(c.video)} (${n0(c.x14.video)}) | ${n0(c.registrations)} (${n0(c.x14.registrations)}) | ${oc ? n0(oc.audio) : '–'} | ${oc ? n0(oc.video) : '–'} | ${n0(oregs)} | ${rc ? n0(rc.audio) : '–'} | ${rc ? n0(rc.video) : '–'} | derived |`,
    );
  }
  L.push('');
  L.push(
    "**The model for the derived rows** (src/capacity/sizes.ts): a vCPU of the size counts as one core of this machine (its clock is above; Cisco's sizes name 1.8 to 3.2 GHz). A call costs each node what it cost at the capacity step of the largest share measured, the same for every call (the section above says where the cost is not linear). A node is usable to the fraction of its share the run reached at capacity (utilisation: the busier node's cores at capacity ÷ its quota, the mean over the shares measured). Calls = floor(vCPU × utilisation ÷ the busier node's cores per call). Video: measured when the run searched with video, else an audio call's cost scaled by packets (50 + 156 a second each way against 50). Registrations: the lower of what CPU allows with every client refreshing every 115 s (at the CPU a registration cost the busier node when the run registered its clients) and what half the size's reserved RAM holds at the memory each cost; Cisco's registration figures are product limits, not CPU limits.",
    '',
  );
  for (const [name, mdl] of [
    ['ours', model.ours],
    ['reference', model.reference],
  ] as const) {
    if (!mdl) continue;
    const d = deriveCalls(mdl.measured, 1);
    L.push(
      `- ${name}: ${f(d.coresPerCall * 1000, 3)} ms of CPU per second per call on the busier node, utilisation ${Number.isFinite(d.utilisation) ? f(d.utilisation) : "unknown (no share's search reached a failing step, so nothing is derived: raise --max-calls)"}${mdl.regs ? `; a registration ${f(mdl.regs.cpuMs, 3)} ms of CPU and ${f(mdl.regs.memoryKb, 1)} KB on the busier node` : ''}.`,
    );
  }
  L.push('');

  L.push('## Every step', '');
  for (const r of run.runs) {
    L.push(`### ${r.label}, ${r.share} core per node${r.video ? ', video' : ''}`, '', ...stepRows(r), '');
  }
  if (figures.length) {
    L.push('## Plots', '');
    for (const p of figures) L.push(`### ${p.title}`, '', `![${p.title}](${p.file})`, '');
  }
  return { markdown: `${L.join('\n').trimEnd()}\n`, perCore };
}

function deriveFor(
  run: CapacityRun,
  pair: PairKind,
): { measured: MeasuredCapacity[]; regs: { cpuMs: number; memoryKb: number } | null } | null {
  const measured = measuredFor(run, pair);
  return measured.length ? { measured, regs: registrationCost(run, pair) } : null;
}
