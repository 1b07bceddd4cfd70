// rtpengine's cookie cache: a command retransmitted with the same cookie (Kamailio resends after its timeout) gets
// the reply the first one got, and runs once. Keyed by the source's address and the cookie, kept for a while.

export class CookieCache {
  readonly #entries = new Map<string, { reply: Buffer; at: number }>();

  constructor(
    private readonly keepMs: number,
    private readonly maxEntries = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  get(source: string, cookie: string): Buffer | undefined {
    const e = this.#entries.get(`${source} ${cookie}`);
    return e && this.now() - e.at < this.keepMs ? e.reply : undefined;
  }

  set(source: string, cookie: string, reply: Buffer): void {
    const now = this.now();
    // Insertion order is age order: expire from the front, and never hold more than maxEntries.
    for (const [k, e] of this.#entries) {
      if (now - e.at < this.keepMs && this.#entries.size < this.maxEntries) break;
      this.#entries.delete(k);
    }
    this.#entries.set(`${source} ${cookie}`, { reply, at: now });
  }
}
