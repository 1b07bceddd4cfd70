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
const CONTENT_LENGTH = /^(?:content-length|l)[ \t]*:(.*)$/gim;

export class SipStreamFramer {
  readonly #limits: FramerLimits;
  #buf: Buffer = Buffer.alloc(0);
  #failed = false;
  /** Bytes the message at the head of #buf needs in total, once its header section has been read. */
  #need = 0;

  constructor(limits: Partial<FramerLimits> = {}) {
    // Complete limits (a connection's shared object) are kept as given rather than copied per connection.
    this.#limits = limits.maxHeaderBytes !== undefined && limits.maxBodyBytes !== undefined ? (limits as FramerLimits) : { ...DEFAULT_LIMITS, ...limits };
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
      const bodyLen = contentLength(this.#buf.subarray(0, end).toString('latin1'));
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
      out.push({ kind: 'message', data: total === this.#buf.length ? this.#buf : Buffer.from(this.#buf.subarray(0, total)) });
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
function contentLength(head: string): number | string {
  const found = [...head.matchAll(CONTENT_LENGTH)];
  if (found.length === 0) return 'Missing Content-Length on a stream transport';
  if (found.length > 1) return 'Multiple Content-Length header fields';
  const text = found[0]![1]!.replace(/^[ \t]+|[ \t]+$/g, '');
  if (!/^\d{1,10}$/.test(text)) return 'Malformed Content-Length';
  return Number(text);
}
