// Bencode, the encoding of rtpengine's ng control protocol (BEP 3): byte strings, integers, lists and dictionaries.
// Byte strings stay bytes (an SDP body is latin1 text, not UTF-8); dictionary keys are read as latin1 text. A
// decoder that meets the end of its input says so apart from a malformed one, so a TCP stream can wait for more.

export type NgValue = Buffer | number | NgValue[] | NgDict;
export interface NgDict {
  [key: string]: NgValue;
}

/** What the encoder takes: text is written as UTF-8. */
export type NgInput = string | Buffer | number | boolean | NgInput[] | { [key: string]: NgInput | undefined };

/** Input that is not bencode; `at` is the byte where it stopped making sense. */
export class NgDecodeError extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(`malformed bencode at byte ${at}: ${message}`);
    this.name = 'NgDecodeError';
  }
}

/** Deeper than this, input is an attack, not a control message (rtpengine's messages nest three levels). */
export const MAX_DEPTH = 32;
const INCOMPLETE = Symbol('incomplete');
const I = 0x69,
  L = 0x6c,
  D = 0x64,
  E = 0x65,
  COLON = 0x3a;
const INTEGER = /^-?(?:0|[1-9][0-9]{0,15})$/;

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly build: boolean,
  ) {
    this.pos = start;
  }

  fail(message: string): never {
    throw new NgDecodeError(message, this.pos);
  }

  value(depth: number): NgValue | undefined {
    const c = this.buf[this.pos];
    if (c === undefined) throw INCOMPLETE;
    if (c === I) return this.integer();
    if (c === L || c === D) {
      if (depth >= MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH}`);
      this.pos++;
      return c === L ? this.list(depth) : this.dict(depth);
    }
    if (c >= 0x30 && c <= 0x39) return this.string();
    return this.fail(`unexpected byte 0x${c.toString(16).padStart(2, '0')}`);
  }

  integer(): number | undefined {
    const end = this.buf.indexOf(E, this.pos + 1);
    if (end < 0) {
      if (this.buf.length - this.pos > 18) this.fail('integer too long');
      throw INCOMPLETE;
    }
    const text = this.buf.toString('latin1', this.pos + 1, end);
    if (!INTEGER.test(text) || text === '-0') this.fail(`bad integer "${text.slice(0, 20)}"`);
    const n = Number(text);
    if (!Number.isSafeInteger(n)) this.fail(`integer ${text} is out of range`);
    this.pos = end + 1;
    return n;
  }

  string(): Buffer | undefined {
    const colon = this.buf.indexOf(COLON, this.pos);
    const digits = (colon < 0 ? this.buf.length : colon) - this.pos;
    if (digits > 9) this.fail('string length too long');
    if (colon < 0) throw INCOMPLETE;
    const text = this.buf.toString('latin1', this.pos, colon);
    if (!/^(?:0|[1-9][0-9]*)$/.test(text)) this.fail(`bad string length "${text}"`);
    const start = colon + 1;
    const end = start + Number(text);
    if (end > this.buf.length) throw INCOMPLETE;
    this.pos = end;
    return this.build ? this.buf.subarray(start, end) : undefined;
  }

  list(depth: number): NgValue[] | undefined {
    const out: NgValue[] = [];
    while (this.buf[this.pos] !== E) {
      const v = this.value(depth + 1);
      if (this.build) out.push(v!);
    }
    this.pos++;
    return this.build ? out : undefined;
  }

  dict(depth: number): NgDict | undefined {
    const out: NgDict = Object.create(null) as NgDict;
    while (this.buf[this.pos] !== E) {
      const at = this.pos;
      const c = this.buf[this.pos];
      if (c === undefined) throw INCOMPLETE;
      if (c < 0x30 || c > 0x39) this.fail('dictionary key is not a byte string');
      const keyStart = this.buf.indexOf(COLON, this.pos) + 1;
      this.string();
      const key = this.buf.toString('latin1', keyStart, this.pos);
      const v = this.value(depth + 1);
      if (!this.build) continue;
      if (Object.hasOwn(out, key)) throw new NgDecodeError(`duplicate key "${key.slice(0, 40)}"`, at);
      out[key] = v!;
    }
    this.pos++;
    return this.build ? out : undefined;
  }
}

/** Decodes exactly one value filling `buf`; throws NgDecodeError for anything else (truncated, trailing bytes). */
export function decode(buf: Buffer): NgValue {
  const r = new Reader(buf, 0, true);
  let v: NgValue | undefined;
  try {
    v = r.value(0);
  } catch (err) {
    if (err === INCOMPLETE) throw new NgDecodeError('truncated', buf.length);
    throw err;
  }
  if (r.pos !== buf.length) throw new NgDecodeError('trailing bytes after the value', r.pos);
  return v!;
}

/**
 * Where the value starting at `start` ends (exclusive), or -1 when `buf` stops before it does; throws
 * NgDecodeError for bytes that can never become bencode.
 */
export function valueEnd(buf: Buffer, start = 0): number {
  const r = new Reader(buf, start, false);
  try {
    r.value(0);
    return r.pos;
  } catch (err) {
    if (err === INCOMPLETE) return -1;
    throw err;
  }
}

/** Encodes a value; dictionary keys in raw byte order (BEP 3), undefined entries left out. */
export function encode(value: NgInput): Buffer {
  const parts: Buffer[] = [];
  const put = (v: NgInput, depth: number): void => {
    if (depth > MAX_DEPTH) throw new TypeError(`cannot bencode: nested deeper than ${MAX_DEPTH}`);
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new TypeError(`cannot bencode ${v}: integers only`);
      parts.push(Buffer.from(`i${v}e`, 'latin1'));
    } else if (typeof v === 'boolean') {
      parts.push(Buffer.from(`i${v ? 1 : 0}e`, 'latin1'));
    } else if (typeof v === 'string' || Buffer.isBuffer(v)) {
      const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
      parts.push(Buffer.from(`${b.length}:`, 'latin1'), b);
    } else if (Array.isArray(v)) {
      parts.push(Buffer.from('l'));
      for (const item of v) put(item, depth + 1);
      parts.push(Buffer.from('e'));
    } else if (v !== null && typeof v === 'object') {
      parts.push(Buffer.from('d'));
      const keys = Object.keys(v)
        .filter((k) => v[k] !== undefined)
        .map((k) => [Buffer.from(k, 'utf8'), k] as const);
      keys.sort((a, b) => Buffer.compare(a[0], b[0]));
      for (const [raw, k] of keys) {
        parts.push(Buffer.from(`${raw.length}:`, 'latin1'), raw);
        put(v[k]!, depth + 1);
      }
      parts.push(Buffer.from('e'));
    } else {
      throw new TypeError(`cannot bencode a value of type ${v === null ? 'null' : typeof v}`);
    }
  };
  put(value, 0);
  return Buffer.concat(parts);
}
