// The bench's table, its ratios against the targets, and its section of bench/RESULTS.md.
import { availableParallelism, release } from 'node:os';
import { writeSection } from '../results.js';
import { cpuModel } from './cpu.js';
import type { SearchResult } from './measure.js';
import type { Mode } from './subject.js';

export type SubjectKind = 'reflector' | 'ours' | 'rtpengine';

export interface Row {
  kind: SubjectKind;
  mode: Mode;
  size: number;
  result?: SearchResult;
  error?: string;
  restarts?: number;
}

export interface Ratio {
  what: string;
  value: number | null;
  target: number;
}

const PATH: Record<Mode, string> = {
  plain: 'RTP→RTP',
  'rtp-srtp': 'RTP→SRTP',
  'srtp-srtp': 'SRTP→SRTP',
  edge: 'SRTP pass-through',
};
const NAME: Record<SubjectKind, string> = {
  reflector: 'reflector (limit)',
  ours: 'ours',
  rtpengine: 'rtpengine (userspace)',
};
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

export function perCore(rows: Row[], kind: SubjectKind, mode: Mode, size: number): number | null {
  const r = rows.find((x) => x.kind === kind && x.mode === mode && x.size === size);
  return r?.result?.best?.ppsPerCore ?? null;
}

export function ratios(rows: Row[], sizes: number[]): Ratio[] {
  const out: Ratio[] = [];
  const div = (a: number | null, b: number | null): number | null => (a !== null && b !== null && b > 0 ? a / b : null);
  for (const size of sizes) {
    const ours = (m: Mode): number | null => perCore(rows, 'ours', m, size);
    const ref = (m: Mode): number | null => perCore(rows, 'rtpengine', m, size);
    out.push({
      what: `${size} B: ours plain / reflector`,
      value: div(ours('plain'), perCore(rows, 'reflector', 'plain', size)),
      target: 0.85,
    });
    out.push({
      what: `${size} B: ours RTP→SRTP / ours plain`,
      value: div(ours('rtp-srtp'), ours('plain')),
      target: 0.75,
    });
    out.push({
      what: `${size} B: ours SRTP→SRTP / ours plain`,
      value: div(ours('srtp-srtp'), ours('plain')),
      target: 0.65,
    });
    for (const m of ['plain', 'rtp-srtp', 'srtp-srtp'] as const) {
      out.push({
        what: `${size} B: ours / rtpengine, ${PATH[m]}`,
        value: div(ours(m), ref(m)),
        target: m === 'rtp-srtp' ? 2 : 1,
      });
    }
  }
  return out;
}

export function table(rows: Row[]): string {
  const head =
    '| relay | path | packet | loss-free pps (forwarded) | relay CPU (cores) | **pps per core** | loss | ' +
    'p50 / p99 latency at 20k pps | p50 / p99 at the loss-free rate | note |';
  const lines = [head, '|---|---|---:|---:|---:|---:|---:|---:|---:|---|'];
  for (const r of rows) {
    const b = r.result?.best;
    const low = r.result?.lowRate;
    const notes = [
      r.error ? `failed: ${r.error.split('\n')[0]!.slice(0, 120)}` : '',
      r.result && !b ? 'no loss-free rate found' : '',
      r.result?.generatorBound ? 'generator-bound: the relay was not saturated' : '',
      r.restarts ? `stopped forwarding after overload, restarted ${r.restarts}×` : '',
    ].filter(Boolean);
    const lat = (t: { p50Us: number; p99Us: number } | null | undefined): string =>
      t ? `${fmt(t.p50Us)} / ${fmt(t.p99Us)} µs` : '–';
    const cells = b
      ? [
          fmt(b.forwardedPps),
          b.cores.toFixed(2),
          `**${fmt(b.ppsPerCore)}**`,
          `${(b.loss * 100).toFixed(3)} %`,
          lat(low),
          lat(b),
        ]
      : ['–', '–', '–', '–', lat(low), '–'];
    lines.push(`| ${NAME[r.kind]} | ${PATH[r.mode]} | ${r.size} B | ${cells.join(' | ')} | ${notes.join('; ')} |`);
  }
  return lines.join('\n');
}

export function ratioLines(list: Ratio[]): string {
  return list
    .map((r) => {
      const v = r.value === null ? 'n/a' : `${r.value.toFixed(2)}×`;
      const verdict = r.value === null ? '' : r.value >= r.target ? ' (meets)' : ' (misses)';
      return `- ${r.what}: ${v} — target ≥ ${r.target}${verdict}`;
    })
    .join('\n');
}

export function machine(): string {
  return `${availableParallelism()} cores (nproc), ${cpuModel()}, Linux ${release()}`;
}

/** Replaces only this bench's section, so the other benches' sections stay as they are. */
export function writeResults(root: string, body: string): string {
  return writeSection(root, 'media', body);
}
