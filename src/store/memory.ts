import type { Store } from './store.js';

interface Entry {
  value: unknown;
  expires: number; // ms since epoch; Infinity when kept
}

/** The embedded default: one process, no other service. Expired entries are dropped on read and by a sweep. */
export class MemoryStore implements Store {
  readonly #spaces = new Map<string, Map<string, Entry>>();
  readonly #sweep: NodeJS.Timeout;
  #closed = false;

  constructor(sweepMs = 30_000, private readonly now: () => number = Date.now) {
    this.#sweep = setInterval(() => this.#dropExpired(), sweepMs);
    this.#sweep.unref();
  }

  #space(ns: string): Map<string, Entry> {
    let s = this.#spaces.get(ns);
    if (!s) this.#spaces.set(ns, (s = new Map()));
    return s;
  }

  #live(ns: string, key: string): Entry | undefined {
    const space = this.#spaces.get(ns);
    const e = space?.get(key);
    if (e && e.expires <= this.now()) {
      space!.delete(key);
      return undefined;
    }
    return e;
  }

  #dropExpired(): void {
    const t = this.now();
    for (const space of this.#spaces.values()) for (const [k, e] of space) if (e.expires <= t) space.delete(k);
  }

  #check(): void {
    if (this.#closed) throw new Error('store is closed');
  }

  async get<T>(ns: string, key: string): Promise<T | undefined> {
    this.#check();
    return this.#live(ns, key)?.value as T | undefined;
  }

  async set<T>(ns: string, key: string, value: T, ttlMs?: number): Promise<void> {
    this.#check();
    this.#space(ns).set(key, { value, expires: ttlMs === undefined ? Infinity : this.now() + ttlMs });
  }

  async delete(ns: string, key: string): Promise<boolean> {
    this.#check();
    return this.#spaces.get(ns)?.delete(key) ?? false;
  }

  async incr(ns: string, key: string, ttlMs: number): Promise<number> {
    this.#check();
    const e = this.#live(ns, key);
    if (!e) {
      this.#space(ns).set(key, { value: 1, expires: this.now() + ttlMs });
      return 1;
    }
    e.value = (e.value as number) + 1;
    return e.value as number;
  }

  async entries<T>(ns: string): Promise<Array<[string, T]>> {
    this.#check();
    this.#dropExpired();
    return [...(this.#spaces.get(ns) ?? [])].map(([k, e]) => [k, e.value as T]);
  }

  async count(ns: string): Promise<number> {
    return (await this.entries(ns)).length;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweep);
    this.#spaces.clear();
  }
}
