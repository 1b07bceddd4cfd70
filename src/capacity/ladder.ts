// The sizes the search tries for one pair: doubling from `start` until a step fails (or `max`), then bisecting
// between the last step that passed and the first that failed. The capacity is the largest step that passed.
import type { StepResult } from './step.js';

export interface LadderOptions {
  start: number;
  max: number;
  /** Bisection steps after the first failure. */
  refine: number;
}

/** Rounds a size between two others to a figure a table reads easily (tens above 100, fives above 20). */
function between(lo: number, hi: number): number {
  const mid = (lo + hi) / 2;
  const unit = mid >= 100 ? 10 : mid >= 20 ? 5 : 1;
  const r = Math.round(mid / unit) * unit;
  return r > lo && r < hi ? r : Math.floor(mid);
}

export class StepLadder {
  readonly #o: LadderOptions;
  readonly results: StepResult[] = [];
  #pass = 0;
  #fail = Infinity;
  #refined = 0;
  #next: number | null;

  constructor(o: LadderOptions) {
    if (!Number.isInteger(o.start) || o.start < 1 || o.max < o.start)
      throw new RangeError(`a ladder needs 1 ≤ start ≤ max, got ${o.start}..${o.max}`);
    this.#o = o;
    this.#next = o.start;
  }

  /** The next size to try, or null when the search is done. */
  next(): number | null {
    return this.#next;
  }

  record(r: StepResult): void {
    this.results.push(r);
    if (r.pass) this.#pass = Math.max(this.#pass, r.calls);
    else this.#fail = Math.min(this.#fail, r.calls);
    this.#next = this.#choose(r);
  }

  #choose(r: StepResult): number | null {
    if (this.#fail === Infinity) {
      // Still passing: double, up to the largest size asked for.
      if (r.calls >= this.#o.max) return null;
      return Math.min(this.#o.max, r.calls * 2);
    }
    if (this.#pass === 0) {
      // Nothing passed yet: halve, down to one call.
      return r.calls > 1 ? Math.max(1, Math.floor(r.calls / 2)) : null;
    }
    if (this.#refined >= this.#o.refine || this.#fail - this.#pass <= 1) return null;
    const size = between(this.#pass, this.#fail);
    if (size <= this.#pass || size >= this.#fail) return null;
    this.#refined++;
    return size;
  }

  /** The largest size that passed (0 when none did). */
  get capacity(): number {
    return this.#pass;
  }

  /** Why the first size above the capacity failed, or that none did within `max`. */
  get limitedBy(): string {
    const failed = this.results.filter((r) => !r.pass).sort((a, b) => a.calls - b.calls)[0];
    return failed
      ? `${failed.calls} calls: ${failed.why.join('; ')}`
      : `none failed up to ${this.#o.max} calls (the largest step asked for)`;
  }

  /** The step at the capacity (its cost figures are the per-call cost the model uses). */
  get atCapacity(): StepResult | undefined {
    return this.results.find((r) => r.pass && r.calls === this.#pass);
  }
}
