// The ng protocol's framing: `<cookie> <bencoded dictionary>`. Over UDP one datagram is one message; over TCP and
// TLS (rtpengine's tcp-ng) messages follow each other on the stream, each ending where its dictionary ends. The
// reply repeats the cookie, which is how a client matches it and how a retransmission is recognised.
import { NgDecodeError, decode, encode, valueEnd, type NgDict, type NgInput } from './bencode.js';

/** Cookies are short tokens (Kamailio: "<pid>_<seq>", rtpengine's tools: hex); anything longer is not one. */
export const MAX_COOKIE = 64;
const COOKIE = /^[\x21-\x7e]+$/;

export interface NgFrame {
  cookie: string;
  /** The bencoded dictionary as it came. */
  body: Buffer;
}

/** A message that cannot be answered at all (no cookie to answer under). */
export class NgFramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NgFramingError';
  }
}

function cookieOf(buf: Buffer, space: number): string {
  if (space <= 0) throw new NgFramingError('no cookie before the dictionary');
  if (space > MAX_COOKIE) throw new NgFramingError(`cookie longer than ${MAX_COOKIE} bytes`);
  const cookie = buf.toString('latin1', 0, space);
  if (!COOKIE.test(cookie)) throw new NgFramingError('cookie holds control or non-ASCII bytes');
  return cookie;
}

/** Splits one datagram into its cookie and body (not decoded yet: a duplicate is answered from the cache). */
export function parseDatagram(buf: Buffer): NgFrame {
  const space = buf.indexOf(0x20);
  if (space < 0) throw new NgFramingError('no space between the cookie and the dictionary');
  return { cookie: cookieOf(buf, space), body: buf.subarray(space + 1) };
}

/** The request dictionary of a frame; NgDecodeError when it is not one. */
export function requestDict(body: Buffer): NgDict {
  if (body.length === 0) throw new NgDecodeError('no dictionary after the cookie', 0);
  if (body[0] === 0x7b) throw new NgDecodeError('JSON dictionaries are not supported: send bencode', 0);
  if (body[0] !== 0x64) throw new NgDecodeError('the message is not a bencoded dictionary', 0);
  return decode(body) as NgDict;
}

export function frame(cookie: string, reply: NgInput): Buffer {
  return Buffer.concat([Buffer.from(`${cookie} `, 'latin1'), encode(reply)]);
}

/**
 * Cuts a TCP or TLS byte stream into frames. Throws NgFramingError or NgDecodeError for bytes that can never be a
 * message, and NgFramingError when one grows past `maxBytes` (the connection is then closed: it cannot resync).
 */
export class NgStreamFramer {
  #buf: Buffer = Buffer.alloc(0);
  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): NgFrame[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: NgFrame[] = [];
    for (;;) {
      // Whitespace between messages (a client's newline) is no message.
      let start = 0;
      while (
        start < this.#buf.length &&
        (this.#buf[start] === 0x0a || this.#buf[start] === 0x0d || this.#buf[start] === 0x20)
      )
        start++;
      if (start > 0) this.#buf = this.#buf.subarray(start);
      if (this.#buf.length === 0) break;
      const space = this.#buf.indexOf(0x20);
      if (space < 0) {
        if (this.#buf.length > MAX_COOKIE) throw new NgFramingError(`cookie longer than ${MAX_COOKIE} bytes`);
        break;
      }
      const cookie = cookieOf(this.#buf, space);
      const end = valueEnd(this.#buf, space + 1);
      if (end < 0) {
        if (this.#buf.length > this.maxBytes) throw new NgFramingError(`message larger than ${this.maxBytes} bytes`);
        break;
      }
      out.push({ cookie, body: this.#buf.subarray(space + 1, end) });
      this.#buf = this.#buf.subarray(end);
    }
    return out;
  }
}
