/**
 * Live entries keyed by a number that churn: one in and one out per request (the tunnel's streams). Not a Map:
 * V8 links each hash table a Map outgrows to its successor (for iterators that outlive the rehash) and keeps
 * the entries that were live in it. Once one such outgrown table has reached the old generation, every later
 * table and every entry they held stays alive through scavenges until the next full collection. On the edge
 * that kept 20-25 % of what each request allocated (2-3 MB per scavenge at 800 requests/s, 8-15 ms pauses,
 * the p99 of bench:http's paced rows). Integer keys on a null-prototype object live in a dictionary whose
 * rehash links nothing.
 */
export class IdTable<V> {
  #entries: Record<number, V> = Object.create(null) as Record<number, V>;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(id: number): V | undefined {
    return this.#entries[id];
  }

  set(id: number, value: V): void {
    if (this.#entries[id] === undefined) this.#size++;
    this.#entries[id] = value;
  }

  delete(id: number): boolean {
    if (this.#entries[id] === undefined) return false;
    this.#size--;
    delete this.#entries[id];
    return true;
  }

  /** A copy: entries may be deleted while the caller walks it. */
  values(): V[] {
    return Object.values(this.#entries);
  }

  clear(): void {
    this.#entries = Object.create(null) as Record<number, V>;
    this.#size = 0;
  }
}
