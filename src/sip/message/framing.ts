// Stream framing for SIP over TCP/TLS (RFC 3261 §18.3): messages are delimited by Content-Length, and
// between messages RFC 5626 keepalives appear: CRLFCRLF (ping) and CRLF (pong).

export interface FramerLimits {
  maxHeaderBytes: number;
  maxBodyBytes: number;
}

export type FramerEvent =
  | { kind: 'message'; data: Buffer }
  | { kind: 'ping' }
  | { kind: 'pong' }
  | { kind: 'error'; status: 400 | 413 | 513; reason: string };

const DEFAULT_LIMITS: FramerLimits = { maxHeaderBytes: 16384, maxBodyBytes: 1 << 20 };
const CRLFCRLF = Buffer.from('\r\n\r\n');

export class SipStreamFramer {
  readonly #limits: FramerLimits;
  #buf: Buffer = Buffer.alloc(0);
  #failed = false;
  /** Bytes the message at the head of #buf needs in total, once its header section has been read. */
  #need = 0;

  constructor(limits: Partial<FramerLimits> = {}) {
    // Complete limits (a connection's shared object) are kept as given rather than copied per connection.
    this.#limits =
      limits.maxHeaderBytes !== undefined && limits.maxBodyBytes !== undefined
        ? (limits as FramerLimits)
        : { ...DEFAULT_LIMITS, ...limits };
  }

  /** Bytes held of a message not yet complete: what a header timeout (slowloris guard) watches. */
  get buffered(): number {
    return this.#buf.length;
  }

  push(chunk: Buffer): FramerEvent[] {
    if (this.#failed) return [];
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    // A body still arriving: skip re-reading the header section on every chunk.
    if (this.#buf.length < this.#need) return [];
    const out: FramerEvent[] = [];
    for (;;) {
      // Keepalives sit only between messages: a CRLF pair is a ping, a lone CRLF a pong.
      if (this.#buf[0] === 13 && this.#buf[1] === 10) {
        if (this.#buf[2] === 13 && this.#buf[3] === 10) {
          out.push({ kind: 'ping' });
          this.#buf = this.#buf.subarray(4);
          continue;
        }
        if (this.#buf.length < 4 && (this.#buf.length === 2 || this.#buf[2] === 13)) {
          if (this.#buf.length === 2) {
            out.push({ kind: 'pong' });
            this.#buf = this.#buf.subarray(2);
          }
          break;
        }
        out.push({ kind: 'pong' });
        this.#buf = this.#buf.subarray(2);
        continue;
      }
      if (this.#buf.length === 0) break;
      const end = this.#buf.indexOf(CRLFCRLF);
      if (end < 0) {
        if (this.#buf.length > this.#limits.maxHeaderBytes) return this.#fail(out, 513, 'Message Too Large (headers)');
        break;
      }
      if (end > this.#limits.maxHeaderBytes) return this.#fail(out, 513, 'Message Too Large (headers)');
      const bodyLen = contentLength(this.#buf, end);
      if (typeof bodyLen === 'string') return this.#fail(out, 400, bodyLen);
      if (bodyLen > this.#limits.maxBodyBytes) return this.#fail(out, 513, 'Message Too Large (body)');
      const total = end + 4 + bodyLen;
      if (this.#buf.length < total) {
        this.#need = total;
        break;
      }
      this.#need = 0;
      // A message that is the whole buffer (the usual case: one per TLS record) is handed on as it is; one cut
      // from a longer buffer is copied, so a long-lived message does not pin the rest of the chunk.
      out.push({
        kind: 'message',
        data: total === this.#buf.length ? this.#buf : Buffer.from(this.#buf.subarray(0, total)),
      });
      this.#buf = this.#buf.subarray(total);
    }
    return out;
  }

  #fail(out: FramerEvent[], status: 400 | 413 | 513, reason: string): FramerEvent[] {
    this.#failed = true;
    this.#buf = Buffer.alloc(0);
    out.push({ kind: 'error', status, reason });
    return out;
  }
}

/** The body length, or the reason the stream cannot be framed (a wrong guess would desynchronise it). */
function contentLength(buf: Buffer, end: number): number | string {
  // Every message on the traversal link and every client's passes here: the header section is visited line
  // by line with the string's indexOf rather than a multi-line regex over all of it (a third of the time).
  // As the regex's ^ did, a field starts the section or follows a CR or LF; its value runs to the next one.
  const head = buf.toString('latin1', 0, end);
  let found = -1;
  let cr = head.indexOf('\r');
  let lf = head.indexOf('\n');
  for (let p = 0; ; ) {
    const value = valueStart(head, p);
    if (value >= 0) {
      if (found >= 0) return 'Multiple Content-Length header fields';
      found = value;
    }
    if (cr >= 0 && cr < p) cr = head.indexOf('\r', p);
    if (lf >= 0 && lf < p) lf = head.indexOf('\n', p);
    const next = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
    if (next < 0) break;
    p = next + 1;
  }
  if (found < 0) return 'Missing Content-Length on a stream transport';
  let stop = found;
  while (stop < head.length && head[stop] !== '\r' && head[stop] !== '\n') stop++;
  const text = head.slice(found, stop).replace(/^[ \t]+|[ \t]+$/g, '');
  if (!/^\d{1,10}$/.test(text)) return 'Malformed Content-Length';
  return Number(text);
}

const LONG_NAME = 'content-length';

/** Where the value starts when a Content-Length field (long or compact "l", any case) starts at p; else -1. */
function valueStart(head: string, p: number): number {
  const first = head.charCodeAt(p) | 0x20;
  let j: number;
  if (first === 0x6c)
    j = p + 1; // "l"
  else if (first === 0x63 && matchesLongName(head, p)) j = p + LONG_NAME.length;
  else return -1;
  let c = head.charCodeAt(j);
  while (c === 32 || c === 9) c = head.charCodeAt(++j);
  return c === 58 ? j + 1 : -1;
}

/** "content-length" at p in any case, compared by character code: no slice and lower-casing per "C" line. */
function matchesLongName(head: string, p: number): boolean {
  if (head.length - p < LONG_NAME.length) return false;
  // OR-ing 0x20 lower-cases the letters; the '-' is compared as it is (a CR OR-ed with 0x20 would pass for it).
  for (let k = 1; k < LONG_NAME.length; k++) {
    const c = head.charCodeAt(p + k);
    if (k === 7 ? c !== 0x2d : (c | 0x20) !== LONG_NAME.charCodeAt(k)) return false;
  }
  return true;
}
