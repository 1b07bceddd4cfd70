import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, type SecureContext } from 'node:tls';
import { MraError } from '../host/index.js';
import { ChunkedBody, H1Error, parseResponseHead, type H1Headers, type ResponseHead } from './h1-head.js';

export interface InsideRequest {
  scheme: 'http' | 'https';
  host: string;
  port: number;
  method: string;
  /** Path and query, as sent. */
  path: string;
  headers: Record<string, string | string[]>;
  /** The whole request body (the edge has read it whole already). */
  body?: Buffer;
}

/** What the caller hears of one exchange; onData's false pauses the inside connection until resume(). */
export interface InsideHandler {
  onHead(status: number, headers: H1Headers): void;
  onData(chunk: Buffer): boolean;
  onEnd(): void;
  onError(err: InsideError): void;
}

export class InsideError extends MraError {
  constructor(
    message: string,
    /** 'timeout' when the inside server did not answer (or connect) in time: a 504 rather than a 502. */
    readonly kind: 'timeout' | 'failed' = 'failed',
  ) {
    super(message);
  }

  get code(): string {
    return this.kind === 'timeout' ? 'MRA_HTTP_INSIDE_TIMEOUT' : 'MRA_HTTP_INSIDE_FAILED';
  }
}

export interface InsideClientOptions {
  ca: string;
  connectTimeoutMs?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** Connections per inside origin; requests beyond wait for one. */
  connections?: number;
  /** The longest a connection stays idle in the pool (less when the server's Keep-Alive says so). */
  keepAliveMs?: number;
  /** The local address to connect from (core's source_address); default: the one the route picks. */
  localAddress?: string;
}

const MAX_HEAD = 64 * 1024;

/**
 * Core's HTTP/1.1 client to the inside servers: a keep-alive pool of TLS (or TCP, for TFTP over HTTP)
 * connections per origin, one request at a time on each, inside certificates verified against the node's CA
 * bundle. A request leaves as one write, the answer is parsed strictly (h1-head.ts) and handed over as it
 * comes, with backpressure. Smaller and cheaper per request than undici, which was half of core's CPU.
 */
export class InsideClient {
  readonly #pools = new Map<string, Pool>();
  readonly #sweep: NodeJS.Timeout;
  readonly opts: Required<Omit<InsideClientOptions, 'localAddress'>> & Pick<InsideClientOptions, 'localAddress'>;
  /** Made once: a `ca` option per connection would parse the CA bundle for every new connection. */
  readonly secureContext: SecureContext;

  constructor(opts: InsideClientOptions) {
    this.opts = {
      connectTimeoutMs: 5_000,
      headersTimeoutMs: 30_000,
      bodyTimeoutMs: 60_000,
      connections: 256,
      keepAliveMs: 30_000,
      ...opts,
    };
    this.secureContext = createSecureContext({ ca: opts.ca });
    // One timer for every connection's deadline (connect, head, body, idle), not one per request.
    this.#sweep = setInterval(() => {
      const now = Date.now();
      for (const p of this.#pools.values()) p.sweep(now);
    }, 250);
    this.#sweep.unref();
  }

  /** Starts one exchange; the returned functions abort it (the connection is dropped) or resume a paused answer. */
  request(req: InsideRequest, handler: InsideHandler): { abort(): void; resume(): void } {
    const key = `${req.scheme}://${req.host}:${req.port}`;
    let pool = this.#pools.get(key);
    if (!pool) this.#pools.set(key, (pool = new Pool(this, req.scheme, req.host, req.port)));
    const ex = new Exchange(req, handler);
    pool.run(ex);
    return { abort: () => ex.abort(), resume: () => ex.conn?.socket.resume() };
  }

  close(): void {
    clearInterval(this.#sweep);
    for (const p of this.#pools.values()) p.close();
    this.#pools.clear();
  }
}

class Exchange {
  conn: Conn | undefined;
  done = false;
  /** Retried once on a fresh connection when a reused one turned out closed before any answer byte. */
  retried = false;

  constructor(
    readonly req: InsideRequest,
    readonly handler: InsideHandler,
  ) {}

  abort(): void {
    if (this.done) return;
    this.done = true;
    this.conn?.socket.destroy();
  }

  fail(err: InsideError): void {
    if (this.done) return;
    this.done = true;
    this.handler.onError(err);
  }
}

class Pool {
  readonly #idle: Conn[] = [];
  readonly #all = new Set<Conn>();
  readonly #waiting: Exchange[] = [];
  get #from(): { localAddress?: string } {
    const a = this.client.opts.localAddress;
    return a ? { localAddress: a } : {};
  }

  constructor(
    readonly client: InsideClient,
    readonly scheme: 'http' | 'https',
    readonly host: string,
    readonly port: number,
  ) {}

  run(ex: Exchange): void {
    if (ex.done) return;
    const conn = this.#idle.pop() ?? (this.#all.size < this.client.opts.connections ? this.#open() : undefined);
    if (conn) conn.start(ex);
    else this.#waiting.push(ex);
  }

  /** A connection finished its exchange and may carry another. */
  release(conn: Conn): void {
    const next = this.#waiting.shift();
    if (next) return conn.start(next);
    conn.idleSince = Date.now();
    this.#idle.push(conn);
  }

  gone(conn: Conn): void {
    this.#all.delete(conn);
    const i = this.#idle.indexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
    const next = this.#waiting.shift();
    if (next) this.run(next);
  }

  sweep(now: number): void {
    for (const c of this.#all) c.sweep(now);
  }

  close(): void {
    for (const c of this.#all) c.socket.destroy();
    for (const ex of this.#waiting.splice(0)) ex.fail(new InsideError('the client is closing'));
  }

  #open(): Conn {
    const socket =
      this.scheme === 'https'
        ? tlsConnect({
            host: this.host,
            port: this.port,
            secureContext: this.client.secureContext,
            rejectUnauthorized: true,
            ALPNProtocols: ['http/1.1'],
            ...(isIP(this.host) ? {} : { servername: this.host }),
            ...this.#from,
          })
        : tcpConnect({ host: this.host, port: this.port, ...this.#from });
    const conn = new Conn(this, socket);
    this.#all.add(conn);
    return conn;
  }
}

/** One connection to an inside server, carrying one exchange at a time. */
class Conn {
  ex: Exchange | undefined;
  idleSince = 0;
  #connected = false;
  #used = false;
  #buf: Buffer | undefined;
  #head: ResponseHead | undefined;
  #left = 0;
  #chunked: ChunkedBody | undefined;
  #deadline: number;
  #keepAliveMs: number;

  constructor(
    readonly pool: Pool,
    readonly socket: Socket,
  ) {
    const { opts } = pool.client;
    this.#keepAliveMs = opts.keepAliveMs;
    this.#deadline = Date.now() + opts.connectTimeoutMs;
    socket.setNoDelay(true);
    socket.once(pool.scheme === 'https' ? 'secureConnect' : 'connect', () => {
      this.#connected = true;
      this.#deadline = this.ex ? Date.now() + opts.headersTimeoutMs : Infinity;
    });
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    socket.on('error', (err) => (this.#lastError = err));
    socket.once('close', () => this.#closed());
  }

  #lastError: Error | undefined;

  start(ex: Exchange): void {
    this.ex = ex;
    ex.conn = this;
    const { req } = ex;
    const { opts } = this.pool.client;
    this.#deadline = this.#connected ? Date.now() + opts.headersTimeoutMs : this.#deadline;
    let head = `${req.method} ${req.path} HTTP/1.1\r\nhost: ${this.pool.host}:${this.pool.port}\r\n`;
    for (const k in req.headers) {
      const v = req.headers[k]!;
      if (Array.isArray(v)) for (const x of v) head += `${k}: ${x}\r\n`;
      else head += `${k}: ${v}\r\n`;
    }
    const body = req.body;
    if (body?.length && req.headers['content-length'] === undefined) head += `content-length: ${body.length}\r\n`;
    head += '\r\n';
    this.socket.write(body?.length ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : head, 'latin1');
  }

  sweep(now: number): void {
    if (this.ex && now > this.#deadline) {
      const what = !this.#connected ? 'connect' : this.#head ? 'the answer body' : 'the answer head';
      this.ex.fail(new InsideError(`no ${what} within the time allowed`, 'timeout'));
      this.socket.destroy();
    } else if (!this.ex && this.#connected && now - this.idleSince > this.#keepAliveMs) this.socket.destroy();
  }

  #data(chunk: Buffer): void {
    const ex = this.ex;
    if (!ex || ex.done) return void this.socket.destroy(); // nothing asked: a server talking out of turn
    try {
      if (!this.#head) {
        const buf = this.#buf ? Buffer.concat([this.#buf, chunk]) : chunk;
        const head = parseResponseHead(buf, MAX_HEAD, ex.req.method);
        if (!head) return void (this.#buf = buf);
        this.#buf = undefined;
        if (head.status < 200) {
          // 1xx: the final answer follows.
          if (buf.length > head.length) this.#data(buf.subarray(head.length));
          return;
        }
        this.#head = head;
        this.#deadline = Date.now() + this.pool.client.opts.bodyTimeoutMs;
        const hint = /timeout=(\d+)/.exec(String(head.headers['keep-alive'] ?? ''));
        if (hint) this.#keepAliveMs = Math.min(this.pool.client.opts.keepAliveMs, Number(hint[1]) * 1000 - 1000);
        if (typeof head.body === 'object') this.#left = head.body.length;
        else if (head.body === 'chunked') this.#chunked = new ChunkedBody(Infinity);
        ex.handler.onHead(head.status, head.headers);
        if (ex.done) return;
        if (head.body === 'none' || (typeof head.body === 'object' && head.body.length === 0))
          return this.#finish(buf.length > head.length);
        if (buf.length > head.length) this.#body(buf.subarray(head.length));
        return;
      }
      this.#body(chunk);
    } catch (err) {
      if (!(err instanceof H1Error)) throw err;
      ex.fail(new InsideError(`bad answer from the inside server: ${err.message}`));
      this.socket.destroy();
    }
  }

  #body(chunk: Buffer): void {
    const ex = this.ex!;
    const head = this.#head!;
    if (head.body === 'close') {
      if (!ex.handler.onData(chunk)) this.socket.pause();
      return;
    }
    if (this.#chunked) {
      const rest = this.#chunked.push(chunk);
      const parts = this.#chunked.chunks.splice(0);
      let more = true;
      for (const p of parts) more = ex.handler.onData(p) && more;
      if (rest !== undefined) return this.#finish(rest.length > 0);
      if (!more) this.socket.pause();
      return;
    }
    const take = Math.min(this.#left, chunk.length);
    this.#left -= take;
    const more = ex.handler.onData(take === chunk.length ? chunk : chunk.subarray(0, take));
    if (this.#left === 0) return this.#finish(chunk.length > take);
    if (!more) this.socket.pause();
  }

  /** The answer is whole: the connection goes back to the pool, unless the server is closing it or overran. */
  #finish(overrun: boolean): void {
    const ex = this.ex!;
    const keep = this.#head?.keepAlive !== false && !overrun;
    this.#head = undefined;
    this.#chunked = undefined;
    this.ex = undefined;
    this.#used = true;
    this.#deadline = Infinity;
    ex.done = true;
    if (this.socket.isPaused()) this.socket.resume();
    ex.handler.onEnd();
    if (keep) this.pool.release(this);
    else this.socket.destroy();
  }

  #closed(): void {
    const ex = this.ex;
    this.ex = undefined;
    this.pool.gone(this);
    if (!ex || ex.done) return;
    if (this.#head?.body === 'close' && !this.#lastError) {
      // The answer ran to the close: that is its end.
      ex.done = true;
      return void ex.handler.onEnd();
    }
    // A kept-alive connection the server had closed just as it was reused: nothing was answered, so once more.
    if (
      this.#used &&
      !this.#head &&
      !this.#buf &&
      !ex.retried &&
      (ex.req.method === 'GET' || ex.req.method === 'HEAD')
    ) {
      ex.retried = true;
      ex.conn = undefined;
      return this.pool.run(ex);
    }
    ex.fail(new InsideError(this.#lastError?.message ?? 'the inside server closed the connection'));
  }
}
