// Latency histogram with logarithmic buckets (5% wide from 10 µs up): fixed size, so worker threads can post it
// as a plain array and the main thread merges by adding, whatever the number of samples.

const BASE_MS = 0.01;
const GROWTH = 1.05;
const LOG_GROWTH = Math.log(GROWTH);
export const HISTOGRAM_BUCKETS = 420; // 0.01 ms × 1.05^420 ≈ 8 × 10^6 ms: beyond any timeout here

export class LatencyHistogram {
  readonly counts: number[];

  constructor(counts?: readonly number[]) {
    this.counts = counts ? [...counts] : new Array<number>(HISTOGRAM_BUCKETS).fill(0);
  }

  record(ms: number): void {
    const i = ms <= BASE_MS ? 0 : Math.min(HISTOGRAM_BUCKETS - 1, Math.ceil(Math.log(ms / BASE_MS) / LOG_GROWTH));
    this.counts[i]!++;
  }

  add(other: { counts: readonly number[] }): void {
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) this.counts[i]! += other.counts[i] ?? 0;
  }

  get total(): number {
    return this.counts.reduce((a, b) => a + b, 0);
  }

  /** The upper edge of the bucket holding the p-th percentile (0 < p ≤ 100); NaN when empty. */
  percentile(p: number): number {
    const total = this.total;
    if (total === 0) return NaN;
    const rank = Math.ceil((p / 100) * total);
    let seen = 0;
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return BASE_MS * GROWTH ** i;
    }
    return BASE_MS * GROWTH ** (HISTOGRAM_BUCKETS - 1);
  }
}
