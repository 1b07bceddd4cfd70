import type { StreamsStatus } from './status.js';

/** Newest first, this many in a status section's streamList: the count is exact, the list a sample. */
export const STREAM_LIST_MAX = 50;

/**
 * The streams a node carries, for its xmpp status section: `streams` is the count maintenance drain waits for,
 * `refused` the streams ended by a refusal or a stream error, by reason.
 */
export class StreamBook<S> {
  readonly #streams = new Set<S>();
  readonly #refused: Record<string, number> = {};
  #total = 0;

  add(s: S): void {
    this.#streams.add(s);
    this.#total++;
  }

  remove(s: S, reason?: string): void {
    if (!this.#streams.delete(s)) return;
    if (reason) this.refused(reason);
  }

  refused(reason: string): void {
    this.#refused[reason] = (this.#refused[reason] ?? 0) + 1;
  }

  all(): S[] {
    return [...this.#streams];
  }

  status<T>(view: (s: S) => T): StreamsStatus<T> {
    // A Set keeps insertion order: the newest are at its end.
    const newest = [...this.#streams].slice(-STREAM_LIST_MAX).reverse();
    return {
      streams: this.#streams.size,
      total: this.#total,
      refused: { ...this.#refused },
      streamList: newest.map(view),
    };
  }
}
