// `npm run bench:media`: the reflector (the limit), our relay (plain, RTP→SRTP, SRTP→SRTP) and rtpengine (the
// same three paths), one after another on loopback, each searched for its loss-free rate and charged its CPU time;
// then the kernel rows (kernel/stage.ts): our kernel path against the reflector across a veth pair.
// Options: --streams N (1000) --sizes 172,1200 --trial-ms 1500 --only reflector,ours,rtpengine,kernel
//          --kernel-streams 1000,10000 --no-write
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { LoadGenerator } from './loadgen.js';
import { lossFreeSearch, type Trial } from './measure.js';
import { machine, perCore, ratioLines, ratios, table, writeResults, type Row, type SubjectKind } from './report.js';
import { BENCH_NICE } from './child.js';
import type { Mode, Subject } from './subject.js';
import { SubjectSession } from './session.js';
import { OursSubject } from './subjects/ours.js';
import { ReflectorSubject } from './subjects/reflector.js';
import { RtpengineSubject } from './subjects/rtpengine.js';
import { buildTools, root } from './tools.js';
import { KERNEL_TARGET, kernelPerCore, kernelRatioLines, kernelTable } from './kernel/report.js';
import { kernelStage, type KernelRow } from './kernel/stage.js';

const BUDGET_MS = 9.5 * 60 * 1000; // the issue bounds the loopback rows at about 10 minutes
const KERNEL_BUDGET_MS = 24 * 60 * 1000; // and the kernel rows their own (10,000 streams take a while to set up)
const PORT_BASE = 20000; // below Linux's ephemeral range (32768+), where tests bind port 0
const say = (msg: string): void => {
  process.stderr.write(`[bench:media] ${msg}\n`);
};

function options() {
  const { values } = parseArgs({
    options: {
      streams: { type: 'string', default: '1000' },
      sizes: { type: 'string', default: '172,1200' },
      'trial-ms': { type: 'string', default: '1500' },
      only: { type: 'string', default: 'reflector,ours,rtpengine,kernel' },
      'kernel-streams': { type: 'string', default: '1000,10000' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const streams = Number(values.streams);
  // Both relays' port ranges (4 ports a stream each) must fit below the ephemeral range.
  if (!Number.isInteger(streams) || streams < 1 || streams > 3000) throw new TypeError('--streams must be 1..3000');
  const sizes = values.sizes.split(',').map(Number);
  if (sizes.some((s) => !Number.isInteger(s) || s < 12 || s > 1400))
    throw new TypeError('--sizes must be packet sizes 12..1400');
  const trialMs = Number(values['trial-ms']);
  if (!Number.isInteger(trialMs) || trialMs < 200 || trialMs > 10000)
    throw new TypeError('--trial-ms must be 200..10000');
  const only = new Set(values.only.split(','));
  for (const k of only)
    if (!['reflector', 'ours', 'rtpengine', 'kernel'].includes(k)) throw new TypeError(`--only: unknown relay ${k}`);
  const kernelStreams = values['kernel-streams'].split(',').map(Number);
  if (kernelStreams.some((n) => !Number.isInteger(n) || n < 1 || n > 10000))
    throw new TypeError('--kernel-streams must be counts 1..10000');
  return {
    streams,
    sizes,
    trialMs,
    only: only as Set<SubjectKind | 'kernel'>,
    kernelStreams,
    write: !values['no-write'],
  };
}

const describe = (t: Trial): string =>
  `offered ${Math.round(t.offeredPps)} sent ${Math.round(t.sentPps)} fwd ${Math.round(t.forwardedPps)} ` +
  `loss ${(t.loss * 100).toFixed(3)}% cpu ${t.cores.toFixed(2)} cores → ${Math.round(t.ppsPerCore)} pps/core p50 ${t.p50Us}µs p99 ${t.p99Us}µs` +
  (t.silentStreams ? ` silent streams ${t.silentStreams}` : '');

async function main(): Promise<void> {
  const o = options();
  const started = Date.now();
  // The machine is shared: the load average beside the figures says how much of it the run had.
  const load = (): string => loadavg()[0]!.toFixed(1);
  const loadStart = load();
  say(`load average (1 min) at start: ${loadStart}`);
  const tools = buildTools();
  const gen = await LoadGenerator.start(tools.loadgen);
  const ourRange: [number, number] = [PORT_BASE, PORT_BASE + 4 * o.streams + 99];
  const theirRange: [number, number] = [ourRange[1] + 1, ourRange[1] + 4 * o.streams + 100];
  const plan: [SubjectKind, Mode, () => Subject][] = [
    ['reflector', 'plain', () => new ReflectorSubject(tools.reflector)],
    ...(['plain', 'rtp-srtp', 'srtp-srtp'] as const).map((m): [SubjectKind, Mode, () => Subject] => [
      'ours',
      m,
      () => new OursSubject(m, ourRange),
    ]),
    ...(['plain', 'rtp-srtp', 'srtp-srtp'] as const).map((m): [SubjectKind, Mode, () => Subject] => [
      'rtpengine',
      m,
      () => new RtpengineSubject(m, theirRange),
    ]),
  ];
  const rows: Row[] = [];
  let backend = '';
  try {
    for (const [kind, mode, make] of plan) {
      if (!o.only.has(kind)) continue;
      if (Date.now() - started > BUDGET_MS) {
        for (const size of o.sizes) rows.push({ kind, mode, size, error: "skipped: the run's time budget was spent" });
        continue;
      }
      const session = new SubjectSession(make, mode, gen, o.streams, say);
      const name = session.subject.name;
      try {
        say(`${name}: setting up ${o.streams} streams`);
        await session.start();
        if (session.subject instanceof OursSubject) backend = session.subject.srtpBackend;
        for (const size of o.sizes) {
          const restartsBefore = session.restarts;
          const result = await lossFreeSearch(
            gen,
            session,
            size,
            {
              trialMs: o.trialMs,
              startPps: 20000,
              growth: 1.5,
              maxTrials: 9,
              refineSteps: 3,
              deadline: started + BUDGET_MS,
            },
            (t) => say(`${name} ${size} B: ${describe(t)}`),
          );
          rows.push({ kind, mode, size, result, restarts: session.restarts - restartsBefore });
        }
      } catch (err) {
        say(`${name}: ${(err as Error).message}`);
        for (const size of o.sizes)
          if (!rows.some((r) => r.kind === kind && r.mode === mode && r.size === size))
            rows.push({ kind, mode, size, error: (err as Error).message });
      } finally {
        await session.close();
      }
    }
  } finally {
    await gen.close();
  }

  const loadLoopback = load();
  let kernelRows: KernelRow[] = [];
  let kernelSkip = o.only.has('kernel') ? '' : 'not asked for (--only)';
  if (o.only.has('kernel')) {
    const stage = await kernelStage(
      {
        streams: o.kernelStreams,
        sizes: o.sizes,
        trialMs: Math.max(o.trialMs, 2000),
        deadline: Date.now() + KERNEL_BUDGET_MS,
      },
      say,
    );
    if ('skip' in stage) say(`kernel rows skipped: ${(kernelSkip = stage.skip)}`);
    else kernelRows = stage.rows;
  }

  const loadEnd = load();
  const headlineSize = o.sizes.includes(172) ? 172 : o.sizes[0]!;
  const ours = perCore(rows, 'ours', 'rtp-srtp', headlineSize);
  const reference = perCore(rows, 'rtpengine', 'rtp-srtp', headlineSize);
  const reflector = perCore(rows, 'reflector', 'plain', headlineSize);
  const ratio = ours !== null && reference !== null && reference > 0 ? ours / reference : 0;
  const command = `npm run bench:media${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const body = [
    '## bench:media — media relay, loopback',
    '',
    `Command: \`${command}\` · date: ${new Date().toISOString()} · machine: ${machine()} · load average (1 min) at ` +
      `start / after the loopback rows / end: ${loadStart} / ${loadLoopback} / ${loadEnd}`,
    '',
    `${o.streams} concurrent streams; each relay gets one worker thread pinned to the last core, the load generator ` +
      `the first${process.getuid?.() === 0 ? `, both at nice ${BENCH_NICE} (the machine is shared)` : ''}; pps per core = packets forwarded / relay CPU seconds (utime + stime of every relay thread) at the ` +
      `highest offered rate with loss < 0.1 % (${o.trialMs} ms trials). Packet sizes are the RTP packet before SRTP ` +
      `(SRTP adds a 10-byte tag). Our SRTP backend: ${backend || 'n/a'}. See bench/media/README.md.`,
    '',
    table(rows),
    '',
    'Ratios (pps per core):',
    '',
    ratioLines(ratios(rows, o.sizes)),
    '',
    `Headline (${headlineSize} B, RTP→SRTP, ${o.streams} streams): ours ${Math.round(ours ?? 0)} / rtpengine ` +
      `${Math.round(reference ?? 0)} pps per core = ${ratio.toFixed(2)}× (target ≥ 2).`,
    '',
    // The reflector does no work per packet beyond the kernel's: its figure over rtpengine's bounds any relay's.
    `Ceiling on this machine: reflector ${Math.round(reflector ?? 0)} / rtpengine RTP→SRTP ${Math.round(reference ?? 0)} = ` +
      `${reflector && reference ? (reflector / reference).toFixed(2) : 'n/a'}× (no userspace relay can show more than this ratio here). ` +
      'Figures move ±10-20 % between runs on this shared VM: compare ratios within one run.',
    '',
    kernelSection(kernelRows, kernelSkip, o.sizes, o.kernelStreams),
  ].join('\n');
  process.stdout.write(`\n${body}\n\n`);
  if (o.write) say(`wrote ${writeResults(root, body)}`);
  const kOurs = kernelPerCore(kernelRows, 'ours-kernel', 'plain', headlineSize, o.kernelStreams[0]!);
  const kRef = kernelPerCore(kernelRows, 'reflector', 'plain', headlineSize, o.kernelStreams[0]!);
  if (o.only.has('kernel')) {
    process.stdout.write(
      `RESULT bench:media-kernel ours=${Math.round(kOurs ?? 0)} reference=${Math.round(kRef ?? 0)} ratio=${kOurs && kRef ? (kOurs / kRef).toFixed(2) : '0.00'}\n`,
    );
  }
  process.stdout.write(
    `RESULT bench:media ours=${Math.round(ours ?? 0)} reference=${Math.round(reference ?? 0)} ratio=${ratio.toFixed(2)}\n`,
  );
  if (ours === null || reference === null) process.exitCode = 1;
}

function kernelSection(rows: KernelRow[], skip: string, sizes: number[], streams: number[]): string {
  if (skip) return `### Kernel path\n\nNot measured in this run: ${skip}.`;
  return [
    '### Kernel path: our engine forwarding in the kernel against the userspace reflector, across a veth pair',
    '',
    'The relay in a network namespace of its own on the last core, the generator (bench/media/kernel/kgen.c: Ethernet frames ' +
      'through an AF_PACKET socket bypassing the qdisc; what comes back counted and dropped by a BPF program on its own link) ' +
      "in another on the first, joined by a veth pair, each side's receive processing steered to its own core (RPS). " +
      "Relay CPU, for every relay alike: its processes' CPU time plus the NET_RX softirq time on the relay core outside " +
      "their context (irq:softirq_entry/exit tracepoints, to the nanosecond; anyone else's network work on that core " +
      'counts too). BPF program per packet: ' +
      "run_time_ns / run_cnt with kernel.bpf_stats_enabled. SRTP pass-through is the edge's relay (external leg → mux leg, " +
      "no key) carrying packets of an SRTP packet's size (a 10-byte tag after the payload). Every kernel-path stream went " +
      'through user space for its first packets and was in the kernel before timing. See bench/media/README.md.',
    '',
    kernelTable(rows),
    '',
    `Ratios (pps per core, target ≥ ${KERNEL_TARGET}):`,
    '',
    kernelRatioLines(rows, sizes, streams),
  ].join('\n');
}

main().catch((err: unknown) => {
  say(`failed: ${(err as Error).stack ?? String(err)}`);
  process.stdout.write('RESULT bench:media ours=0 reference=0 ratio=0.00\n');
  process.exit(1);
});
