import { EventEmitter } from 'node:events';
import { STATUS_CODES } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log/index.js';
import { overRate, type EdgeRequest, type EdgeRequestHandler, type EdgeResponse } from './edge-exchange.js';
import { httpAnswer } from './errors.js';
import { ChunkedBody, H1Error, parseRequestHead, type H1Headers, type RequestHead } from './h1-head.js';

export interface H1Limits {
  maxHeaderBytes: number;
  maxBodyBytes: number;
  maxRequestsPerConnectionPerS: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
}

/** Pipelined bytes held while an answer is pending before the socket stops reading. */
const HOLD_BYTES = 64 * 1024;
/** How long a refused client may take to read its answer before the socket is destroyed anyway. */
const LINGER_MS = 2000;

/**
 * The edge's HTTP/1.1 server on already-terminated TLS sockets: node's http server object machinery cost more
 * CPU per proxied request than everything else the edge does. One request at a time per connection (pipelined
 * ones wait their turn), keep-alive, bodies read whole within the limit before the handler sees them, and one
 * timer for all connections that enforces the header, body and idle deadlines (slowloris).
 */
export class H1Server {
  readonly #conns = new Set<H1Connection>();
  readonly #sweep: NodeJS.Timeout;

  constructor(
    readonly limits: H1Limits,
    readonly handler: EdgeRequestHandler,
    readonly log: Logger,
  ) {
    this.#sweep = setInterval(
      () => {
        const now = Date.now();
        for (const c of this.#conns) if (now > c.deadline) c.timeout();
      },
      Math.max(100, Math.min(1000, limits.headerTimeoutMs / 2)),
    );
    this.#sweep.unref();
  }

  take(socket: TLSSocket): void {
    const c = new H1Connection(this, socket);
    this.#conns.add(c);
    socket.once('close', () => this.#conns.delete(c));
  }

  close(): void {
    clearInterval(this.#sweep);
    for (const c of this.#conns) c.socket.destroy();
  }
}

class H1Request implements EdgeRequest {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly headers: H1Headers,
    readonly socket: TLSSocket,
  ) {}
}

class H1Connection {
  /** Bytes received and not yet parsed (a partial head, or pipelined requests waiting their turn). */
  #buf: Buffer | undefined;
  #head: RequestHead | undefined;
  #chunked: ChunkedBody | undefined;
  #body: Buffer[] = [];
  #bodySeen = 0;
  #res: H1Response | undefined;
  #closing = false;
  /** When the sweep acts: idle keep-alive, header or body time running out; Infinity while core answers. */
  deadline: number;

  constructor(
    readonly server: H1Server,
    readonly socket: TLSSocket,
  ) {
    this.deadline = Date.now() + server.limits.headerTimeoutMs;
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    socket.once('close', () => {
      this.#closing = true;
      this.#res?.gone();
    });
  }

  timeout(): void {
    if (this.#res || this.#closing) return;
    if (this.#head || this.#buf) this.#refuse(408, 'request not received in time\n');
    else this.socket.destroy(); // idle keep-alive: nothing owed
  }

  #data(chunk: Buffer): void {
    if (this.#closing) return;
    if (this.#head) return this.#bodyBytes(chunk);
    if (!this.#buf) this.deadline = Math.min(this.deadline, Date.now() + this.server.limits.headerTimeoutMs);
    this.#buf = this.#buf ? Buffer.concat([this.#buf, chunk]) : chunk;
    if (this.#res) {
      if (this.#buf.length > HOLD_BYTES) this.socket.pause();
      return;
    }
    this.#next();
  }

  /** Parses the next request head out of #buf, if one is there and no answer is pending. */
  #next(): void {
    const buf = this.#buf;
    if (!buf || this.#res || this.#closing) return;
    const { limits, log } = this.server;
    let head: RequestHead | undefined;
    try {
      head = parseRequestHead(buf, limits.maxHeaderBytes);
    } catch (err) {
      if (!(err instanceof H1Error)) throw err;
      log.info(
        { remote: this.socket.remoteAddress, status: err.status, code: err.code, err: err.message },
        'http client error',
      );
      const { status, body } = httpAnswer(err);
      return this.#refuse(status, body);
    }
    if (!head) return;
    this.#buf = undefined;
    const rest = head.length < buf.length ? buf.subarray(head.length) : undefined;
    if (overRate(this, limits.maxRequestsPerConnectionPerS))
      return this.#refuse(429, 'too many requests on this connection\n', { 'retry-after': '1' });
    if (head.body !== 'chunked' && head.body.length > limits.maxBodyBytes)
      return this.#refuse(413, `request body larger than ${limits.maxBodyBytes} bytes\n`);
    this.#head = head;
    if (head.body === 'chunked') this.#chunked = new ChunkedBody(limits.maxBodyBytes);
    else if (head.body.length === 0) return this.#dispatch(EMPTY, rest);
    // The whole body (bounded by the limit) is read before anything goes inward, so a refused body never
    // reaches an inside host, not even its first bytes.
    this.deadline = Date.now() + limits.headerTimeoutMs * 6;
    if (head.expectContinue) this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    if (rest) this.#bodyBytes(rest);
  }

  #bodyBytes(chunk: Buffer): void {
    const head = this.#head!;
    if (this.#chunked) {
      let rest: Buffer | undefined;
      try {
        rest = this.#chunked.push(chunk);
      } catch (err) {
        if (!(err instanceof H1Error)) throw err;
        const { status, body } = httpAnswer(err);
        return this.#refuse(status, body);
      }
      if (rest !== undefined) this.#dispatch(this.#chunked.body(), rest.length ? rest : undefined);
      return;
    }
    const want = (head.body as { length: number }).length - this.#bodySeen;
    if (chunk.length < want) {
      this.#body.push(chunk);
      this.#bodySeen += chunk.length;
      return;
    }
    this.#body.push(chunk.subarray(0, want));
    const body = this.#body.length === 1 ? this.#body[0]! : Buffer.concat(this.#body);
    this.#dispatch(body, chunk.length > want ? chunk.subarray(want) : undefined);
  }

  #dispatch(body: Buffer, rest: Buffer | undefined): void {
    const head = this.#head!;
    this.#head = undefined;
    this.#chunked = undefined;
    this.#body = [];
    this.#bodySeen = 0;
    this.#buf = rest;
    this.deadline = Infinity;
    const res = (this.#res = new H1Response(this, head.method === 'HEAD', head.keepAlive, head.minor));
    this.server.handler(new H1Request(head.method, head.target, head.headers, this.socket), res, body);
  }

  /** The answer has been written whole: on to the next request, or the end of the connection. */
  finished(res: H1Response): void {
    if (res !== this.#res) return;
    this.#res = undefined;
    if (!res.keepAlive) return this.#end();
    this.deadline = Date.now() + (this.#buf ? this.server.limits.headerTimeoutMs : this.server.limits.idleTimeoutMs);
    if (this.socket.isPaused()) this.socket.resume();
    // Not in this turn: the handler that ended the answer is still on the stack.
    if (this.#buf) setImmediate(() => this.#next());
  }

  /**
   * A refusal that leaves the connection unusable (the rest of a body would be parsed as the next request):
   * answered, then closed.
   */
  #refuse(status: number, text: string, headers: Record<string, string> = {}): void {
    this.#head = undefined;
    this.#buf = undefined;
    const res = (this.#res = new H1Response(this, false, false, 1));
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
    res.end(text);
  }

  #end(): void {
    this.#closing = true;
    this.deadline = Infinity;
    // Destroyed once written, not half-closed: a client that never reads (slowloris) must not hold the socket.
    this.socket.end(() => this.socket.destroy());
    setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
  }
}

const EMPTY = Buffer.alloc(0);
const NO_BODY = new Set([204, 304]);

/** One answer on an H1Connection: written as one buffer when its size is known at the end, else chunked. */
class H1Response extends EventEmitter implements EdgeResponse {
  headersSent = false;
  destroyed = false;
  #status = 200;
  #headers: Record<string, string | string[]> = {};
  #chunked = false;
  #ended = false;

  constructor(
    private readonly conn: H1Connection,
    private readonly head: boolean,
    public keepAlive: boolean,
    private readonly minor: number,
  ) {
    super();
  }

  writeHead(status: number, headers: Record<string, string | string[]>): this {
    this.#status = status;
    this.#headers = headers;
    return this;
  }

  write(chunk: Buffer): boolean {
    if (this.destroyed || this.#ended) return false;
    const s = this.conn.socket;
    if (!this.headersSent) {
      const sized = hasLength(this.#headers);
      // HTTP/1.0 knows no chunked coding: such an answer ends with the connection.
      if (!sized && this.minor === 0) this.keepAlive = false;
      this.#chunked = !sized && this.minor === 1 && !this.head;
      s.write(this.#headHead(this.#chunked ? 'transfer-encoding: chunked\r\n' : ''), 'latin1');
    }
    if (this.head || chunk.length === 0) return true;
    const ok = this.#chunked
      ? (s.write(`${chunk.length.toString(16)}\r\n`), s.write(chunk), s.write('\r\n'))
      : s.write(chunk);
    if (!ok) s.once('drain', () => this.emit('drain'));
    return ok;
  }

  end(body?: Buffer | string): this {
    if (this.destroyed || this.#ended) return this;
    const s = this.conn.socket;
    const buf = body === undefined ? EMPTY : typeof body === 'string' ? Buffer.from(body) : body;
    let out: Buffer | string;
    if (!this.headersSent) {
      const length = hasLength(this.#headers) || NO_BODY.has(this.#status) ? '' : `content-length: ${buf.length}\r\n`;
      const head = this.#headHead(length);
      out = this.head || buf.length === 0 ? head : Buffer.concat([Buffer.from(head, 'latin1'), buf]);
    } else {
      if (buf.length) this.write(buf);
      out = this.#chunked ? '0\r\n\r\n' : '';
    }
    this.#ended = true;
    s.write(out, 'latin1', () => {
      this.conn.finished(this);
      this.emit('finish');
      this.#close();
    });
    return this;
  }

  destroy(): void {
    this.conn.socket.destroy();
  }

  /** The connection closed: an answer still owed is abandoned. */
  gone(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.#close();
  }

  #closed = false;
  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.emit('close');
  }

  #headHead(framing: string): string {
    this.headersSent = true;
    let head = `HTTP/1.1 ${this.#status} ${STATUS_CODES[this.#status] ?? 'Unknown'}\r\n${framing}`;
    let dated = false;
    for (const k in this.#headers) {
      const v = this.#headers[k]!;
      if (k.length === 4 && k.toLowerCase() === 'date') dated = true;
      // A value carrying CR or LF would split the answer; header values from inside must not reach the client so.
      if (Array.isArray(v)) for (const x of v) head += INJECTION.test(x) ? '' : `${k}: ${x}\r\n`;
      else if (!INJECTION.test(String(v))) head += `${k}: ${v}\r\n`;
    }
    if (!dated) head += `date: ${httpDate()}\r\n`;
    return head + (this.keepAlive ? '\r\n' : 'connection: close\r\n\r\n');
  }
}

let dateSecond = 0;
let dateText = '';
/**
 * RFC 9110 §6.6.1: the edge's own answers carry a Date, and so does an inside answer forwarded without one. One
 * formatted string per second serves every answer in it.
 */
function httpDate(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

const INJECTION = /[\r\n\0]/;

function hasLength(headers: Record<string, unknown>): boolean {
  for (const k in headers) if (k.length === 14 && k.toLowerCase() === 'content-length') return true;
  return false;
}
