// The kernel rows of bench:media: our engine forwarding in the kernel (RTP→RTP, and the edge's SRTP pass-through)
// against the userspace reflector, both in a namespace of their own fed over a veth pair by kgen.c, at 1,000 and
// 10,000 streams. Charged with meter.ts's bounds; the last trial of each search says whether the generator could
// push the relay to loss (it usually cannot: then the row says so, and pps per core comes from a relay that was
// not saturated, which only makes a per-packet cost look higher).
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { LoadGenerator } from '../loadgen.js';
import { lossFreeSearch, type SearchResult } from '../measure.js';
import { SubjectSession } from '../session.js';
import type { Placement } from '../child.js';
import type { Mode, Subject } from '../subject.js';
import { buildKernelTools, buildTools } from '../tools.js';
import { createLink, unavailable } from './netns.js';
import { KernelOursSubject, NetnsReflectorSubject } from './subjects.js';

export type KernelKind = 'reflector' | 'ours-kernel' | 'ours-user';
export interface KernelRow {
  kind: KernelKind;
  mode: Mode;
  streams: number;
  size: number;
  result?: SearchResult;
  error?: string;
  note?: string;
}

export interface KernelOptions {
  streams: number[];
  sizes: number[];
  trialMs: number;
  deadline: number;
}

const RX_PORT = 20000; // the generator's receive ports: RX_PORT (plain) or RX_PORT + 2i (the edge's mux legs)
const SRTP_TAG = 10;
const STATS = '/proc/sys/kernel/bpf_stats_enabled';

export async function kernelStage(
  o: KernelOptions,
  say: (m: string) => void,
): Promise<{ rows: KernelRow[] } | { skip: string }> {
  const why = unavailable();
  if (why) return { skip: why };
  const tools = buildKernelTools();
  if ('missing' in tools) return { skip: tools.missing };
  const reflector = buildTools().reflector;
  const statsBefore = readFileSync(STATS, 'utf8').trim();
  const restore = () => writeFileSync(STATS, statsBefore);
  writeFileSync(STATS, '1');
  process.once('exit', restore);
  const link = createLink();
  const rows: KernelRow[] = [];
  try {
    const maxStreams = Math.max(...o.streams);
    const gen = await LoadGenerator.start('ip', [
      'netns',
      'exec',
      link.genNs,
      tools.kgen,
      tools.sink,
      link.genIf,
      link.genAddress,
      link.relayAddress,
      link.relayMac,
      String(RX_PORT),
      String(RX_PORT + 2 * maxStreams - 1),
    ]);
    const place = (kernelPath: 'auto' | 'off'): Placement => ({
      ns: link.relayNs,
      relayAddress: link.relayAddress,
      genAddress: link.genAddress,
      kernelPath,
    });
    try {
      for (const streams of o.streams) {
        const range: [number, number] = [10000, 10000 + 4 * streams + 99];
        const plan: [KernelKind, Mode, () => Subject][] = [
          ['reflector', 'plain', () => new NetnsReflectorSubject(reflector, place('off'), link.relayCore)],
          ['ours-kernel', 'plain', () => new KernelOursSubject('plain', range, place('auto'), link.relayCore)],
          ['ours-kernel', 'edge', () => new KernelOursSubject('edge', range, place('auto'), link.relayCore)],
          // For context, once: the same engine with the kernel path off, under the same generator.
          ...(streams === o.streams[0]
            ? [
                ['ours-user', 'plain', () => new KernelOursSubject('plain', range, place('off'), link.relayCore)] as [
                  KernelKind,
                  Mode,
                  () => Subject,
                ],
              ]
            : []),
        ];
        for (const [kind, mode, make] of plan) {
          if (Date.now() > o.deadline) {
            for (const size of o.sizes)
              rows.push({ kind, mode, streams, size, error: "skipped: the run's time budget was spent" });
            continue;
          }
          await gen.setTrailer(mode === 'edge' ? SRTP_TAG : 0);
          const session = new SubjectSession(make, mode, gen, streams, say);
          const name = `${session.subject.name}, ${streams} streams`;
          try {
            say(`${name}: setting up`);
            await session.start();
            const ours =
              kind === 'ours-kernel' && session.subject instanceof KernelOursSubject ? session.subject : null;
            for (const size of o.sizes) {
              const before = await ours?.workerStats();
              const result = await lossFreeSearch(
                gen,
                session,
                size,
                { trialMs: o.trialMs, startPps: 20000, growth: 2, maxTrials: 9, refineSteps: 3, deadline: o.deadline },
                (t) =>
                  say(
                    `${name} ${size} B: offered ${Math.round(t.offeredPps)} sent ${Math.round(t.sentPps)} fwd ${Math.round(t.forwardedPps)} ` +
                      `loss ${(t.loss * 100).toFixed(3)}% cpu ${t.cores.toFixed(2)} → ${Math.round(t.ppsPerCore)} pps/core` +
                      `${t.bpfNsPerPacket ? ` bpf ${Math.round(t.bpfNsPerPacket)} ns/pkt` : ''} p50 ${t.p50Us}µs p99 ${t.p99Us}µs`,
                  ),
              );
              const after = await ours?.workerStats();
              const last = result.trials.at(-1);
              const cutShort =
                Date.now() > o.deadline && !result.generatorBound && last !== undefined && last.loss < 0.001;
              const notes = [
                cutShort
                  ? `cut short by the run's time budget after ${result.trials.length} trials: the relay was not pushed to loss`
                  : '',
                before && after
                  ? `user space read ${after.packetsIn - before.packetsIn} packets during the trials`
                  : '',
                // Each row's own: on a shared machine the load moves within a run.
                `load average (1 min) ${loadavg()[0]!.toFixed(1)} after its search`,
                ours && ours.pids.length > 1
                  ? `${ours.pids.length} engine processes (a process may hold 20,000 descriptors here), so a packet passes up to ${ours.pids.length} programs`
                  : '',
              ].filter(Boolean);
              const note = notes.length ? notes.join('; ') : undefined;
              rows.push({ kind, mode, streams, size, result, ...(note ? { note } : {}) });
            }
          } catch (err) {
            say(`${name}: ${(err as Error).message}`);
            for (const size of o.sizes)
              if (!rows.some((r) => r.kind === kind && r.mode === mode && r.streams === streams && r.size === size))
                rows.push({ kind, mode, streams, size, error: (err as Error).message });
          } finally {
            await session.close();
          }
        }
      }
    } finally {
      await gen.close();
    }
  } finally {
    link.destroy();
    restore();
  }
  return { rows };
}
