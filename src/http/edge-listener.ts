import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { createServer as createH2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import { tlsKeyLog, type Logger } from '../log/index.js';
import { answerText } from './edge-forward.js';
import { listenOn } from '../util/listen.js';
import { sniCallback } from '../certs/index.js';
import { overRate, type EdgeRequestHandler } from './edge-exchange.js';
import { H1Server, type H1Limits } from './h1-server.js';

export type EdgeListenerLimits = H1Limits;
export type { EdgeRequestHandler } from './edge-exchange.js';

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
  readonly #h1: H1Server;
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
    tlsKeyLog.watch(this.#tls);
    const h1 = new H1Server(limits, opts.handler, log);
    this.#h1 = h1;
    const h2 = createH2Server(
      { settings: { maxConcurrentStreams: 128, maxHeaderListSize: limits.maxHeaderBytes } },
      (req, res) =>
        // Rate per connection: the session is the connection (req.socket is a per-stream proxy).
        this.#dispatchH2(req, res, req.stream.session ?? req.stream),
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
      else h1.take(socket);
    });
    this.#tls.on('tlsClientError', (err, socket) =>
      log.debug({ remote: socket.remoteAddress, err: err.message }, 'https TLS handshake failed'),
    );
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
    this.#h1.close();
    return new Promise((r) => this.#tls.close(() => r()));
  }

  /** HTTP/2 requests (node's compatibility objects); HTTP/1.1 ones take the same steps in h1-server.ts. */
  #dispatchH2(req: Http2ServerRequest, res: Http2ServerResponse, session: { close?(): void }): void {
    const { limits } = this.opts;
    // A refusal ends just the stream; the session carries on.
    const refuse = (status: number, text: string, headers: Record<string, string> = {}) => {
      answerText(res, status, text, headers);
      res.once('finish', () => req.stream.close());
    };
    if (overRate(session, limits.maxRequestsPerConnectionPerS)) {
      session.close?.();
      return refuse(429, 'too many requests on this connection\n', { 'retry-after': '1' });
    }
    const tooLarge = () => refuse(413, `request body larger than ${limits.maxBodyBytes} bytes\n`);
    const declared = req.headers['content-length'] === undefined ? 0 : Number(req.headers['content-length']);
    if (!Number.isSafeInteger(declared) || declared < 0 || declared > limits.maxBodyBytes) return tooLarge();
    if (req.stream.endAfterHeaders) {
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
