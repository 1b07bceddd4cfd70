// An ng request dictionary as the commands read it. rtpengine takes its keys with spaces or hyphens ("transport
// protocol", "transport-protocol") and its flags in any case with spaces, hyphens or underscores: so do we.
import type { NgDict, NgValue } from './ng/bencode.js';

/** A request the relay answers `result: error` with this reason. */
export class NgError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'NgError';
  }
}

const text = (v: NgValue | undefined): string | undefined =>
  Buffer.isBuffer(v) ? v.toString('latin1') : typeof v === 'number' ? String(v) : undefined;

/** A flag's or key's canonical spelling: lower case, words joined by hyphens. */
export const canonical = (name: string): string =>
  name
    .trim()
    .toLowerCase()
    .replace(/[\s_]+/g, '-');

export class NgRequest {
  readonly #dict: Map<string, NgValue>;

  constructor(dict: NgDict) {
    this.#dict = new Map(Object.entries(dict).map(([k, v]) => [canonical(k), v]));
  }

  has(key: string): boolean {
    return this.#dict.has(key);
  }

  keys(): string[] {
    return [...this.#dict.keys()];
  }

  raw(key: string): NgValue | undefined {
    return this.#dict.get(key);
  }

  str(key: string): string | undefined {
    const v = this.#dict.get(key);
    if (v === undefined) return undefined;
    const s = text(v);
    if (s === undefined) throw new NgError(`"${key}" must be a string`);
    return s;
  }

  required(key: string): string {
    const s = this.str(key);
    if (s === undefined || s === '') throw new NgError(`No ${key} in message`);
    return s;
  }

  bytes(key: string): Buffer | undefined {
    const v = this.#dict.get(key);
    if (v === undefined) return undefined;
    if (!Buffer.isBuffer(v)) throw new NgError(`"${key}" must be a string`);
    return v;
  }

  int(key: string): number | undefined {
    const v = this.#dict.get(key);
    if (v === undefined) return undefined;
    const n = typeof v === 'number' ? v : Number(text(v));
    if (!Number.isInteger(n)) throw new NgError(`"${key}" must be an integer`);
    return n;
  }

  /** A list of strings; a single string is a list of one (rtpengine takes both for ICE, replace, flags...). */
  list(key: string): string[] {
    const v = this.#dict.get(key);
    if (v === undefined) return [];
    if (Array.isArray(v))
      return v.map((x) => {
        const s = text(x);
        if (s === undefined) throw new NgError(`"${key}" must list strings`);
        return s;
      });
    const s = text(v);
    if (s === undefined) throw new NgError(`"${key}" must be a string or a list of strings`);
    return [s];
  }
}
