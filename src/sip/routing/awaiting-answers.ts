// Requests a stateless proxy sent on and that are not answered yet, by its own branch, oldest first. The
// proxy keeps nothing else per transaction; this is only so it can act when the answers cannot come (core
// drains before it stops; the edge answers 503 for a core channel that closed under them).

/** A request not answered in this long never will be (RFC 3261 Timer F: 64 × T1). */
const ANSWER_WAIT_MS = 32_000;

export class AwaitingAnswers<T> {
  readonly #items = new Map<string, { sent: number; value: T }>();

  get size(): number {
    return this.#items.size;
  }

  /** A retransmission waits from now, which keeps the map in time order; what waited past Timer F goes. */
  sent(branch: string, value: T, now = Date.now()): void {
    this.prune(now);
    this.#items.delete(branch);
    this.#items.set(branch, { sent: now, value });
  }

  /** A final answer came (a provisional one is not an answer here). */
  answered(branch: string): void {
    this.#items.delete(branch);
  }

  prune(now = Date.now()): void {
    for (const [branch, item] of this.#items) {
      if (now - item.sent < ANSWER_WAIT_MS) break;
      this.#items.delete(branch);
    }
  }

  /** Removes and returns the waiting requests that match. */
  take(match: (value: T) => boolean): T[] {
    const out: T[] = [];
    for (const [branch, item] of this.#items) {
      if (!match(item.value)) continue;
      this.#items.delete(branch);
      out.push(item.value);
    }
    return out;
  }
}
