// `npm run bench:turn`: our TURN server against coturn in the same run. Each holds 6,000 allocations (Expressway-E
// large's TURN relays) made by its own C load generator, with memory per allocation read from the server process;
// then rounds alternate between the two, each round a loss-free search of the relayed packet rate, charged the
// server's CPU time: relayed packets per core, the median round of each, and their ratio.
// Options: --allocations N (6000) --rounds N (3) --trial-ms N (2000) --size N (172) --no-write
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { freeTurnPort } from '../../test/support/coturn.js';
import { writeSection } from '../results.js';
import { cpuSeconds } from '../media/cpu.js';
import { machine } from '../media/report.js';
import { BENCH_NICE } from '../media/child.js';
import { root } from '../media/tools.js';
import { buildLoadgen, TurnLoadGenerator, type TurnTrial } from './loadgen.js';
import { Coturn, OursTurn, SECRET, type TurnSubject } from './subjects.js';

const say = (msg: string): void => {
  process.stderr.write(`[bench:turn ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};
const LOSS_FREE = 0.001;
// Relay ranges of their own, inside the product's media range (above the tests' slices).
const OUR_RANGE: [number, number] = [40000, 51999];
const COTURN_RANGE: [number, number] = [52000, 63999];

function options() {
  const { values } = parseArgs({
    options: {
      allocations: { type: 'string', default: '6000' },
      rounds: { type: 'string', default: '3' },
      'trial-ms': { type: 'string', default: '2000' },
      size: { type: 'string', default: '172' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const allocations = Number(values.allocations);
  if (!Number.isInteger(allocations) || allocations < 1 || allocations > 6000)
    throw new TypeError('--allocations must be 1..6000 (both relay ranges hold 6,000)');
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9) throw new TypeError('--rounds must be 1..9');
  const trialMs = Number(values['trial-ms']);
  if (!Number.isInteger(trialMs) || trialMs < 500 || trialMs > 10000)
    throw new TypeError('--trial-ms must be 500..10000');
  const size = Number(values.size);
  if (!Number.isInteger(size) || size < 8 || size > 1200) throw new TypeError('--size must be 8..1200 bytes');
  return { allocations, rounds, trialMs, size, write: !values['no-write'] };
}

/** Busy and stolen jiffies of all CPUs (/proc/stat), to say how much else the machine was doing. */
function machineTicks(): { busy: number; steal: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, steal: f[7] ?? 0, total };
}

interface Measured {
  offeredPps: number;
  relayedPps: number;
  loss: number;
  cores: number;
  ppsPerCore: number;
  p50Us: number;
  p99Us: number;
  silent: number;
  generatorBound: boolean;
}

interface Side {
  subject: TurnSubject;
  gen: TurnLoadGenerator;
  setupMs: number;
  rssPerAllocation: number;
  verify?: Measured;
  rounds: Measured[];
}

async function trial(side: Side, pps: number, ms: number, size: number): Promise<Measured> {
  const c0 = cpuSeconds(side.subject.pid);
  const t0 = performance.now();
  const t: TurnTrial = await side.gen.run(pps, ms, size);
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(side.subject.pid) - c0;
  const relayed = t.toPeer + t.toClient;
  return {
    offeredPps: pps,
    relayedPps: relayed / t.elapsedS,
    loss: t.sent > 0 ? Math.max(0, 1 - relayed / t.sent) : 1,
    cores: cpu / wall,
    ppsPerCore: cpu > 0 ? relayed / cpu : 0,
    p50Us: t.p50Us,
    p99Us: t.p99Us,
    silent: t.silentAllocations,
    // The generator sends from one thread: when it could not send what was asked, it, not the server, was the limit.
    generatorBound: t.sent + t.sendErrors < 0.97 * pps * t.elapsedS,
  };
}

const describe = (m: Measured) =>
  `offered ${Math.round(m.offeredPps)} relayed ${Math.round(m.relayedPps)} loss ${(m.loss * 100).toFixed(3)}% ` +
  `cpu ${m.cores.toFixed(2)} cores → ${Math.round(m.ppsPerCore)} pps/core p50 ${m.p50Us}µs p99 ${m.p99Us}µs` +
  `${m.silent ? ` silent allocations ${m.silent}` : ''}${m.generatorBound ? ' (generator-bound)' : ''}`;

const ok = (m: Measured) => m.loss < LOSS_FREE && m.silent === 0;

/**
 * A trial at `pps`; one that loses is run once more and counts as lossy only if that loses too: on a shared
 * machine a neighbour's burst can stall either process for a moment, and the search must not stop on it.
 */
async function confirmed(side: Side, pps: number, ms: number, size: number): Promise<Measured> {
  let m = await trial(side, pps, ms, size);
  say(`${side.subject.name}: ${describe(m)}`);
  if (!ok(m)) {
    m = await trial(side, pps, ms, size);
    say(`${side.subject.name}: again: ${describe(m)}`);
  }
  return m;
}

/** From 20,000 packets/s up by ×1.5 until a rate loses (≥ 0.1 %, or an allocation hears nothing), then three bisections. */
async function lossFreeSearch(side: Side, ms: number, size: number): Promise<Measured | undefined> {
  let good: Measured | undefined;
  let bad: number | undefined;
  let pps = 20000;
  for (let n = 0; n < 10 && bad === undefined; n++, pps *= 1.5) {
    const m = await confirmed(side, pps, ms, size);
    if (!ok(m)) bad = pps;
    else {
      good = m;
      if (m.generatorBound) break; // more cannot be offered
    }
  }
  for (let step = 0; step < 3 && good && bad !== undefined; step++) {
    const mid = (good.offeredPps + bad) / 2;
    const m = await confirmed(side, mid, ms, size);
    if (ok(m)) good = m;
    else bad = mid;
  }
  return good;
}

const median = (xs: Measured[]): Measured =>
  [...xs].sort((a, b) => a.ppsPerCore - b.ppsPerCore)[Math.floor(xs.length / 2)]!;
const n0 = (v: number) => Math.round(v).toLocaleString('en-US');

async function main(): Promise<void> {
  const o = options();
  const load0 = loadavg()[0]!;
  say(`machine: ${machine()}, load average ${load0.toFixed(2)}`);
  const binary = buildLoadgen();
  const coturnPort = await freeTurnPort();
  const sides: Side[] = [];
  try {
    const oursServer = await OursTurn.start(0, OUR_RANGE, o.allocations);
    sides.push({
      subject: oursServer,
      gen: await TurnLoadGenerator.start(binary),
      setupMs: 0,
      rssPerAllocation: 0,
      rounds: [],
    });
    const coturn = await Coturn.start(coturnPort, COTURN_RANGE, o.allocations);
    sides.push({
      subject: coturn,
      gen: await TurnLoadGenerator.start(binary),
      setupMs: 0,
      rssPerAllocation: 0,
      rounds: [],
    });

    // Allocations held: each server takes them all, then relays for every one of them both ways.
    for (const [i, side] of sides.entries()) {
      const rss0 = side.subject.rss();
      const made = await side.gen.setup(side.subject.port, SECRET, o.allocations, 1 + 2 * i, 2 + 2 * i);
      side.setupMs = made.ms;
      side.rssPerAllocation = (side.subject.rss() - rss0) / o.allocations;
      side.verify = await trial(side, Math.max(20000, 4 * o.allocations), 1500, o.size);
      say(
        `${side.subject.name}: ${made.allocations} allocations in ${made.ms.toFixed(0)} ms, ${(side.rssPerAllocation / 1024).toFixed(2)} KiB resident each; every one relayed: ${describe(side.verify)}`,
      );
      if (side.verify.silent > 0)
        throw new Error(`${side.subject.name}: ${side.verify.silent} allocations relayed nothing`);
    }

    const m0 = machineTicks();
    for (let round = 1; round <= o.rounds; round++) {
      // Rounds alternate, and so does who goes first, so the machine's other load falls on both alike.
      for (const side of round % 2 ? sides : [...sides].reverse()) {
        const best = await lossFreeSearch(side, o.trialMs, o.size);
        if (!best) throw new Error(`${side.subject.name}: not even 20,000 packets/s without loss`);
        side.rounds.push(best);
        say(`round ${round} ${side.subject.name}: ${describe(best)}`);
      }
    }
    const m1 = machineTicks();
    const busy = (availableParallelism() * (m1.busy - m0.busy)) / Math.max(1, m1.total - m0.total);
    const steal = (availableParallelism() * (m1.steal - m0.steal)) / Math.max(1, m1.total - m0.total);

    for (const side of sides) {
      const done = await side.gen.teardown();
      if (done.deleted !== o.allocations)
        throw new Error(`${side.subject.name}: ${done.deleted} of ${o.allocations} allocations deleted`);
    }
    const after = await oursServer.stats();
    if (after.allocations !== 0 || after.relayPorts !== 0 || after.portPairsInUse !== 0)
      throw new Error(`ours still holds something after teardown: ${JSON.stringify(after)}`);

    const load1 = loadavg()[0]!;
    const [ours, reference] = sides.map((s) => median(s.rounds));
    const ratio = ours!.ppsPerCore / reference!.ppsPerCore;
    const command = `npm run bench:turn${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
    const rows = sides.flatMap((s) =>
      s.rounds.map(
        (m, i) =>
          `| ${s.subject.label} | ${i + 1} | ${n0(m.offeredPps)} | ${n0(m.relayedPps)} | ${(m.loss * 100).toFixed(3)} % | ${m.cores.toFixed(2)} | **${n0(m.ppsPerCore)}** | ${n0(m.p50Us)} / ${n0(m.p99Us)} µs | ${m.generatorBound ? 'generator-bound: the server was not saturated' : ''} |`,
      ),
    );
    const body = [
      '## bench:turn — TURN relay, ours against coturn, loopback',
      '',
      `Command: \`${command}\` · date: ${new Date().toISOString()} · machine: ${machine()} · load average (1 min) at start / end: ${load0.toFixed(1)} / ${load1.toFixed(1)} · during the rounds the machine was busy ${busy.toFixed(2)} of ${availableParallelism()} cores (the bench's own server and generator included), steal ${steal.toFixed(2)}`,
      '',
      `Each server runs in a process of its own pinned to the last core, each load generator (bench/turn/loadgen.c, one thread) on the first${process.getuid?.() === 0 ? `, all at nice ${BENCH_NICE} in their own autogroup (the machine is shared)` : ''}. ` +
        `${n0(o.allocations)} allocations each (client i at 127.x.0.0+i, channel 0x4001 bound to its own peer), credentials from the shared secret. ` +
        `A trial sends ${o.size}-byte payloads round-robin over all allocations, half as ChannelData from the clients to their peers, half from the peers to the relayed addresses (arriving as ChannelData); ` +
        `the rate is searched per round from 20,000 packets/s up (×1.5, then three bisections) for the highest with loss < 0.1 % and no allocation silent (${o.trialMs} ms trials; a lossy trial is run once more and counts only if it loses again). ` +
        "pps per core = packets relayed / the server process's CPU seconds (utime + stime, every thread) over that trial. Rounds alternate between the servers and so does who goes first; each server's figure is its median round.",
      '',
      '| server | round | loss-free offered pps | relayed pps | loss | server CPU (cores) | **pps per core** | p50 / p99 latency | note |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---|',
      ...rows,
      '',
      `**Relayed packets per core (median round): ours ${n0(ours!.ppsPerCore)}, coturn ${n0(reference!.ppsPerCore)}: ${ratio.toFixed(2)}×** (target ≥ 2).`,
      ...(sides.some((s) => s.rounds.some((m) => m.generatorBound))
        ? [
            '',
            "A generator-bound row: the one-thread load generator, which pays the kernel's cost of sending and receiving every packet on the other core, " +
              'could not offer more, so that server was not saturated and its pps per core comes from a partly idle core (fewer packets per system call: the figure is conservative).',
          ]
        : []),
      '',
      '### Allocations held',
      '',
      '| server | allocations | set up in (Allocate with its 401, ChannelBind) | resident memory per allocation | all relayed both ways (gentle rate) |',
      '|---|---:|---:|---:|---|',
      ...sides.map(
        (s) =>
          `| ${s.subject.label} | ${n0(o.allocations)} | ${(s.setupMs / 1000).toFixed(1)} s | ${(s.rssPerAllocation / 1024).toFixed(2)} KiB | ${s.verify!.silent === 0 ? 'yes' : `no: ${s.verify!.silent} silent`}, loss ${(s.verify!.loss * 100).toFixed(3)} % at ${n0(s.verify!.offeredPps)} pps |`,
      ),
      '',
      "Resident memory is the server process's VmRSS after the allocations minus before, over their number: user-space memory only; each allocation also holds one UDP socket in the kernel (both servers alike). After the rounds every allocation was deleted (Refresh 0) and ours held no allocation, relay port or port pair.",
    ].join('\n');
    process.stdout.write(`\n${body}\n\n`);
    if (o.write) say(`wrote ${writeSection(root, 'turn', body)}`);
    process.stdout.write(
      `RESULT bench:turn ours=${Math.round(ours!.ppsPerCore)} reference=${Math.round(reference!.ppsPerCore)} ratio=${ratio.toFixed(2)}\n`,
    );
  } finally {
    for (const s of sides) {
      await s.gen.close().catch(() => undefined);
      await s.subject.close().catch(() => undefined);
    }
  }
}

main().catch((err: unknown) => {
  say(`failed: ${(err as Error).stack ?? String(err)}`);
  process.stdout.write('RESULT bench:turn ours=0 reference=0 ratio=0.00\n');
  process.exit(1);
});
