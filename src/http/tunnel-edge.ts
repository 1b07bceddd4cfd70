import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { Logger } from '../log/index.js';
import type { EdgeRequest, EdgeResponse } from './edge-exchange.js';
import { TUNNEL_SETTINGS, HOP_BY_HOP, MRA_HEADER_PREFIX, VERDICT_HEADER, MAINTENANCE_HEADER } from './tunnel-protocol.js';

/** Answers up to this size are gathered whole before they go to the client; core sends them as one DATA frame. */
const SMALL_ANSWER = 64 * 1024;

export interface ForwardInfo {
  clientAddress: string;
  /** The edge's public identity, for the edge-config answer core builds. */
  edgeIdentity: string;
  /** The edge is in maintenance mode: core refuses new sign-ins through it. */
  maintenance: boolean;
}

/** What core said about a refused request, so intrusion protection can count it without reading bodies. */
export type Verdict = 'auth-failed' | 'not-allowed' | 'rate-limited' | undefined;

/**
 * The edge end of the HTTP tunnel: core dialled the connection, but the edge is the HTTP/2 client on it and
 * sends every remote request down it as one stream. HTTP/2 flow control is per stream, so a slow upstream holds
 * only its own stream's window. One session per core node that holds a tunnel; requests go round-robin.
 */
export class EdgeTunnel {
  readonly #sessions: ClientHttp2Session[] = [];
  #next = 0;
  #forwarded = 0;
  #unavailable = 0;

  constructor(
    private readonly log: Logger,
    /** Which traversal channel this tunnel runs on ('http', 'xmpp'), for the log. */
    private readonly kind = 'http',
  ) {}

  /** Takes over a tunnel channel's TLS stream; the session is dropped when the channel closes. */
  async attach(stream: import('node:tls').TLSSocket, peerNode: string, onClose: (cb: () => void) => void): Promise<void> {
    // The handshake answer may still be in flight on this socket; node's HTTP/2 takes the native handle over
    // and must not inherit a write it did not start, so wait until everything written so far has completed.
    await new Promise<void>((resolve) => stream.write(Buffer.alloc(0), () => resolve()));
    if (stream.destroyed) return;
    // Many small frames from many streams: Nagle would hold each behind the previous one's ACK.
    stream.setNoDelay(true);
    const session = connect('http://mra-tunnel', { createConnection: () => stream, settings: TUNNEL_SETTINGS, maxSessionMemory: 64 });
    session.setLocalWindowSize(TUNNEL_SETTINGS.initialWindowSize! * 16);
    session.on('error', (err) => this.log.warn({ peerNode, err: err.message }, `${this.kind} tunnel session error`));
    const drop = () => {
      const i = this.#sessions.indexOf(session);
      if (i >= 0) this.#sessions.splice(i, 1);
      if (!session.destroyed) session.destroy();
    };
    session.once('close', drop);
    session.once('goaway', drop);
    onClose(drop);
    this.#sessions.push(session);
    this.log.info({ peerNode }, `${this.kind} tunnel up`);
  }

  get up(): boolean {
    return this.#sessions.length > 0;
  }

  status(): { sessions: number; forwarded: number; unavailable: number } {
    return { sessions: this.#sessions.length, forwarded: this.#forwarded, unavailable: this.#unavailable };
  }

  close(): void {
    for (const s of [...this.#sessions]) s.destroy();
    this.#sessions.length = 0;
  }

  /**
   * Opens one long-lived stream down a tunnel (an XMPP session): the caller writes and reads it as a duplex
   * with HTTP/2 flow control. Undefined when no tunnel is up or it is closing.
   */
  open(headers: OutgoingHttpHeaders): import('node:http2').ClientHttp2Stream | undefined {
    const session = this.#pick();
    if (session) {
      try {
        const stream = session.request(headers);
        this.#forwarded++;
        return stream;
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, `${this.kind} tunnel stream not opened`);
      }
    }
    this.#unavailable++;
    return undefined;
  }

  /** Sends one client request through the tunnel; resolves with core's verdict once the response has ended. */
  forward(req: EdgeRequest, res: EdgeResponse, body: Buffer, info: ForwardInfo): Promise<Verdict> {
    const session = this.#pick();
    if (!session) {
      this.#unavailable++;
      unavailable(res, 'the inside is not reachable at the moment (no HTTP tunnel); retry shortly');
      return Promise.resolve(undefined);
    }
    this.#forwarded++;
    const headers: OutgoingHttpHeaders = {
      ':method': req.method ?? 'GET',
      ':path': req.url ?? '/',
      ':authority': (req.headers.host ?? req.headers[':authority'] ?? 'edge') as string,
      [`${MRA_HEADER_PREFIX}client-address`]: info.clientAddress,
      [`${MRA_HEADER_PREFIX}edge`]: info.edgeIdentity,
    };
    if (info.maintenance) headers[MAINTENANCE_HEADER] = '1';
    copyRequestHeaders(req.headers, headers);
    return new Promise<Verdict>((resolve) => {
      let upstream: import('node:http2').ClientHttp2Stream;
      try {
        if (body.length) headers['content-length'] = body.length;
        upstream = session.request(headers, { endStream: body.length === 0 });
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'http tunnel request failed');
        unavailable(res, 'the HTTP tunnel is closing; retry shortly');
        return resolve(undefined);
      }
      let verdict: Verdict;
      if (body.length) upstream.end(body);
      res.on('close', () => {
        if (!upstream.closed) upstream.close(constants.NGHTTP2_CANCEL);
        resolve(verdict);
      });
      upstream.on('response', (h: IncomingHttpHeaders) => {
        verdict = h[VERDICT_HEADER] as Verdict;
        const status = Number(h[':status']);
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(h)) {
          if (k.startsWith(':') || k.startsWith(MRA_HEADER_PREFIX) || HOP_BY_HOP.has(k) || v === undefined) continue;
          out[k] = v;
        }
        if (res.headersSent) return void upstream.close(constants.NGHTTP2_CANCEL);
        // Most answers are small and sized (core reads them whole): gathered, they leave as one write with the
        // head; a stream pipe per request costs more CPU than the answer itself. Others stream.
        const length = Number(h['content-length'] ?? NaN);
        if (!(length <= SMALL_ANSWER)) {
          res.writeHead(status, out);
          upstream.on('data', (c: Buffer) => {
            if (res.write(c)) return;
            upstream.pause();
            res.once('drain', () => upstream.resume());
          });
          return void upstream.once('end', () => res.end());
        }
        const chunks: Buffer[] = [];
        upstream.on('data', (c: Buffer) => chunks.push(c));
        upstream.once('end', () => {
          if (res.destroyed) return;
          res.writeHead(status, out);
          res.end(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
        });
      });
      upstream.on('error', (err) => {
        this.log.debug({ err: err.message }, 'http tunnel stream error');
        if (!res.headersSent) unavailable(res, 'the HTTP tunnel dropped this request; retry', 502);
        else res.destroy();
      });
      upstream.on('close', () => {
        if (!res.headersSent) this.log.debug({ rstCode: upstream.rstCode }, 'http tunnel stream closed unanswered');
        if (!res.headersSent) unavailable(res, 'the HTTP tunnel closed before core answered; retry', 502);
      });
    });
  }

  #pick(): ClientHttp2Session | undefined {
    for (let i = 0; i < this.#sessions.length; i++) {
      const s = this.#sessions[(this.#next++ + i) % this.#sessions.length]!;
      if (!s.closed && !s.destroyed) return s;
    }
    return undefined;
  }
}

function copyRequestHeaders(from: EdgeRequest['headers'], to: OutgoingHttpHeaders): void {
  for (const [k, v] of Object.entries(from)) {
    // Client-sent x-mra-* headers would otherwise pass as the edge's own word to core.
    // content-length is the edge's to state: the body is already read whole (a chunked one has none).
    if (k.startsWith(':') || k === 'host' || k === 'content-length' || HOP_BY_HOP.has(k) || k.startsWith(MRA_HEADER_PREFIX) || v === undefined) continue;
    to[k] = v;
  }
}

/** A short plain-text answer with its length, so a keep-alive client knows where it ends. */
export function answerText(res: EdgeResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/** 503/502 with Retry-After: what a client sees while the tunnel is down or drops, never a hang. */
export function unavailable(res: EdgeResponse, reason: string, status: 502 | 503 = 503): void {
  answerText(res, status, `${reason}\n`, { 'retry-after': '2' });
}
