import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { createServer as createH1Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createH2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import type { Logger } from '../log/index.js';
import { answerText } from './tunnel-edge.js';
import { listenOn } from '../util/listen.js';
import { sniCallback } from '../certs/index.js';

export interface EdgeListenerLimits {
  maxHeaderBytes: number;
  maxBodyBytes: number;
  maxRequestsPerConnectionPerS: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
}

/** `body` is the whole request body, already within the limit: nothing is forwarded before the edge has decided. */
export type EdgeRequestHandler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, body: Buffer) => void;

export interface EdgeListenerOptions {
  address: string;
  port: number;
  cert: string;
  key: string;
  /** Offered by SNI to clients asking for a name one of them carries. */
  domainCerts: Array<{ cert: string; key: string }>;
  limits: EdgeListenerLimits;
  /** Consulted per TCP connection; a blocked address is dropped before TLS. */
  refuseConnection: (address: string) => boolean;
  handler: EdgeRequestHandler;
  log: Logger;
}

/**
 * The edge's public HTTPS listener: one TLS port speaking HTTP/1.1 (keep-alive) and HTTP/2, chosen by ALPN.
 * TLS is terminated here so the certificate can follow SNI; each protocol then gets its own parser with
 * limits on header size and time (slowloris), body size, and request rate per connection.
 */
export class EdgeListener {
  readonly #tls: TlsServer;
  readonly #sockets = new Set<Socket>();
  #h1: ReturnType<typeof createH1Server> | undefined;
  #port = 0;

  constructor(private readonly opts: EdgeListenerOptions) {
    const { limits, log } = opts;
    this.#tls = createTlsServer({
      cert: opts.cert,
      key: opts.key,
      ALPNProtocols: ['h2', 'http/1.1'],
      minVersion: 'TLSv1.2',
      noDelay: true,
      handshakeTimeout: limits.headerTimeoutMs,
      SNICallback: sniCallback(opts.domainCerts),
    });
    const h1 = createH1Server(
      {
        maxHeaderSize: limits.maxHeaderBytes,
        headersTimeout: limits.headerTimeoutMs,
        requestTimeout: limits.headerTimeoutMs * 6,
        keepAliveTimeout: limits.idleTimeoutMs,
        requireHostHeader: true,
        connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.headerTimeoutMs / 2)),
      },
      (req, res) => this.#dispatch(req, res, req.socket),
    );
    // Node enforces headersTimeout/requestTimeout (slowloris) from a timer it starts on 'listening'; this server
    // never listens (it is fed the TLS server's sockets), so start that timer here and stop it on close.
    h1.emit('listening');
    this.#h1 = h1;
    h1.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      log.info({ remote: socket.remoteAddress, code: err.code, err: err.message }, 'http client error');
      if (!socket.writable) return void socket.destroy();
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      // Destroyed once written, not half-closed: a client that never reads (slowloris) must not hold the socket.
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
    });
    h1.on('timeout', (s: Socket) => s.destroy());
    const h2 = createH2Server({ settings: { maxConcurrentStreams: 128, maxHeaderListSize: limits.maxHeaderBytes } }, (req, res) =>
      // Rate per connection: the session is the connection (req.socket is a per-stream proxy).
      this.#dispatch(req, res, req.stream.session ?? req.stream),
    );
    h2.on('session', (session) => {
      session.setTimeout(limits.idleTimeoutMs, () => session.close());
      session.on('error', () => {});
    });
    this.#tls.on('connection', (raw: Socket) => {
      if (opts.refuseConnection(raw.remoteAddress ?? '')) return void raw.destroy();
      this.#sockets.add(raw);
      raw.once('close', () => this.#sockets.delete(raw));
      raw.on('error', () => {});
    });
    this.#tls.on('secureConnection', (socket: TLSSocket) => {
      socket.on('error', () => {});
      if (socket.alpnProtocol === 'h2') h2.emit('connection', socket);
      else h1.emit('connection', socket);
    });
    this.#tls.on('tlsClientError', (err, socket) => log.debug({ remote: socket.remoteAddress, err: err.message }, 'https TLS handshake failed'));
  }

  async listen(): Promise<number> {
    // Thousands of Jabber clients reconnect at once after an edge restart: the large backlog keeps their SYNs.
    this.#port = await listenOn(this.#tls, this.opts.port, this.opts.address);
    this.opts.log.info({ address: this.opts.address, port: this.#port }, 'https edge listener up');
    return this.#port;
  }

  get port(): number {
    return this.#port;
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    this.#h1?.close(() => {}); // clears its connection-checking timer; it never listened, so the error is expected
    return new Promise((r) => this.#tls.close(() => r()));
  }

  #dispatch(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, conn: Socket | { destroy(): void; close?(): void }): void {
    const { limits } = this.opts;
    const h2 = 'stream' in req;
    // Refusals that leave the connection unusable: HTTP/1.1 closes it (the rest of a body would be parsed as the
    // next request), HTTP/2 ends just the stream.
    const refuse = (status: number, text: string, headers: Record<string, string> = {}) => {
      answerText(res, status, text, { ...(h2 ? {} : { connection: 'close' }), ...headers });
      if (h2) res.once('finish', () => req.stream.close());
      else res.once('finish', () => conn.destroy());
    };
    if (overRate(conn, limits.maxRequestsPerConnectionPerS)) {
      if (h2) (conn as { close?(): void }).close?.();
      return refuse(429, 'too many requests on this connection\n', { 'retry-after': '1' });
    }
    const tooLarge = () => refuse(413, `request body larger than ${limits.maxBodyBytes} bytes\n`);
    if (req.headers['content-length'] !== undefined && req.headers['transfer-encoding'] !== undefined) {
      // Node's parser refuses this already; kept so a parser change can never reopen request smuggling.
      return refuse(400, 'Content-Length together with Transfer-Encoding is not accepted\n');
    }
    const declared = req.headers['content-length'] === undefined ? 0 : Number(req.headers['content-length']);
    if (!Number.isSafeInteger(declared) || declared < 0 || declared > limits.maxBodyBytes) return tooLarge();
    if (!hasBody(req)) {
      req.resume();
      return this.opts.handler(req, res, EMPTY);
    }
    // The whole body (bounded by the limit) is read before anything goes inward, so a refused body never
    // reaches an inside host, not even its first bytes.
    const chunks: Buffer[] = [];
    let seen = 0;
    let refused = false;
    req.on('data', (c: Buffer) => {
      if (refused) return;
      seen += c.length;
      if (seen > limits.maxBodyBytes) {
        refused = true;
        chunks.length = 0;
        return tooLarge();
      }
      chunks.push(c);
    });
    req.once('end', () => {
      if (!refused) this.opts.handler(req, res, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
    req.once('error', () => {
      refused = true;
    });
  }
}

const EMPTY = Buffer.alloc(0);

/** Whether the client announced a body: a length above zero, chunked framing, or an HTTP/2 stream left open. */
function hasBody(req: IncomingMessage | Http2ServerRequest): boolean {
  if ('stream' in req) return !req.stream.endAfterHeaders;
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

const rates = new WeakMap<object, { second: number; count: number }>();
function overRate(socket: object, max: number): boolean {
  const second = Math.floor(Date.now() / 1000);
  const r = rates.get(socket);
  if (!r || r.second !== second) {
    rates.set(socket, { second, count: 1 });
    return false;
  }
  return ++r.count > max;
}
