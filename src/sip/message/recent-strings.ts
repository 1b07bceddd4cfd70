// A direct-mapped table of the strings a parser met last, each with what it found about it. Strings sliced from a
// message have no hash yet: comparing one with the single spelling in its slot costs less than a Map's hashing or a
// regex, for the few names and hosts every message repeats.

/** A flat copy: a slice would keep the whole message it was cut from alive for as long as a table holds it. */
export function flatCopy(s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1');
}

const SLOTS = 256;

export class RecentStrings<V> {
  readonly #keys: Array<string | undefined> = new Array<string | undefined>(SLOTS).fill(undefined);
  readonly #values: Array<V | undefined> = new Array<V | undefined>(SLOTS).fill(undefined);

  get(s: string): V | undefined {
    const i = slot(s);
    return this.#keys[i] === s ? this.#values[i] : undefined;
  }

  /** Takes the slot, as a copy (latin1 text only: what a message's header section is read as). */
  set(s: string, value: V): void {
    const i = slot(s);
    this.#keys[i] = flatCopy(s);
    this.#values[i] = value;
  }
}

// By length and end characters: cheap, and the strings a node repeats differ in them.
const slot = (s: string): number => (s.length * 7 + s.charCodeAt(0) * 3 + s.charCodeAt(s.length - 1)) & (SLOTS - 1);
