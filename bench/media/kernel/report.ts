// The kernel rows' table, their ratios against the issue's target (≥ 3 × the userspace reflector per core), and
// the figures of the `RESULT bench:media-kernel` line.
import type { Trial } from '../measure.js';
import type { Mode } from '../subject.js';
import type { KernelKind, KernelRow } from './stage.js';

const NAME: Record<KernelKind, string> = {
  reflector: 'reflector (userspace limit)',
  'ours-kernel': 'ours, kernel path',
  'ours-user': 'ours, user space',
};
const PATH: Partial<Record<Mode, string>> = { plain: 'RTP→RTP', edge: 'SRTP pass-through (edge: external → mux)' };
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
export const KERNEL_TARGET = 3;

export function kernelPerCore(
  rows: KernelRow[],
  kind: KernelKind,
  mode: Mode,
  size: number,
  streams: number,
): number | null {
  return (
    rows.find((r) => r.kind === kind && r.mode === mode && r.size === size && r.streams === streams)?.result?.best
      ?.ppsPerCore ?? null
  );
}

export function kernelTable(rows: KernelRow[]): string {
  const lines = [
    '| relay | path | streams | packet | loss-free pps (forwarded) | relay core CPU (cores) | **pps per core** | BPF program per packet | loss | p50 / p99 at 20k pps | p50 / p99 at the loss-free rate | note |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  const lat = (t: Trial | null | undefined): string => (t ? `${fmt(t.p50Us)} / ${fmt(t.p99Us)} µs` : '–');
  for (const r of rows) {
    const b = r.result?.best;
    const notes = [
      r.error ? `failed: ${r.error.split('\n')[0]!.slice(0, 120)}` : '',
      r.result && r.result.trials.length === 0
        ? "skipped: the run's time budget was spent"
        : r.result && !b
          ? 'no loss-free rate found'
          : '',
      // Short of the offer at the best rate also means the generator, not the relay, stopped there.
      r.result?.generatorBound || (b && b.sentPps < 0.9 * b.offeredPps)
        ? 'generator-bound: the generator could not saturate it'
        : '',
      r.note ?? '',
    ].filter(Boolean);
    const cells = b
      ? [
          fmt(b.forwardedPps),
          b.cores.toFixed(2),
          `**${fmt(b.ppsPerCore)}**`,
          b.bpfNsPerPacket ? `${fmt(b.bpfNsPerPacket)} ns` : '–',
          `${(b.loss * 100).toFixed(3)} %`,
          lat(r.result?.lowRate),
          lat(b),
        ]
      : ['–', '–', '–', '–', '–', lat(r.result?.lowRate), '–'];
    lines.push(
      `| ${NAME[r.kind]} | ${PATH[r.mode] ?? r.mode} | ${fmt(r.streams)} | ${r.size} B | ${cells.join(' | ')} | ${notes.join('; ')} |`,
    );
  }
  return lines.join('\n');
}

export function kernelRatioLines(rows: KernelRow[], sizes: number[], streams: number[]): string {
  const out: string[] = [];
  for (const n of streams) {
    for (const size of sizes) {
      const ref = kernelPerCore(rows, 'reflector', 'plain', size, n);
      for (const mode of ['plain', 'edge'] as const) {
        const ours = kernelPerCore(rows, 'ours-kernel', mode, size, n);
        const v = ours !== null && ref ? ours / ref : null;
        const verdict = v === null ? '' : v >= KERNEL_TARGET ? ' (meets)' : ' (misses)';
        out.push(
          `- ${fmt(n)} streams, ${size} B: ours kernel path ${PATH[mode]} / reflector: ${v === null ? 'n/a' : `${v.toFixed(2)}×`} — target ≥ ${KERNEL_TARGET}${verdict}`,
        );
      }
    }
  }
  return out.join('\n');
}
