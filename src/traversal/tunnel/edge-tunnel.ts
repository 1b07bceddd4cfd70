import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../log/index.js';
import type { EdgeRequest, EdgeResponse } from '../../http/edge-exchange.js';
import { MuxDuplex } from './mux-duplex.js';
import { STREAM_WINDOW } from './mux-frames.js';
import { MuxSession, type MuxStream } from './mux-session.js';
import { HOP_BY_HOP, MRA_HEADER_PREFIX, VERDICT_HEADER, MAINTENANCE_HEADER } from './protocol.js';

/** Answers up to this size are gathered whole before they go to the client; core sends them as one frame. */
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

/** Request headers as they cross the tunnel: lower-case names, the edge's own `x-mra-*` ones included. */
export type TunnelHeaders = Record<string, string | string[]>;

/**
 * The edge end of a tunnel: core dialled the connection, but the edge opens the streams on it (mux-session.ts),
 * one per remote request. Each stream has its own window, so a slow upstream holds only its own stream. One
 * session per core node that holds a tunnel; requests go round-robin.
 */
export class EdgeTunnel {
  readonly #sessions: MuxSession[] = [];
  #next = 0;
  #forwarded = 0;
  #unavailable = 0;

  constructor(
    private readonly log: Logger,
    /** Which traversal channel this tunnel runs on ('http', 'xmpp'), for the log. */
    private readonly kind = 'http',
    /** Each stream's window (MuxSessionOptions.streamWindow): core's end of the channel uses the same. */
    private readonly streamWindow = STREAM_WINDOW,
  ) {}

  /** Takes over a tunnel channel's TLS stream; the session is dropped when the channel closes. */
  attach(stream: TLSSocket, peerNode: string, onClose: (cb: () => void) => void): void {
    if (stream.destroyed) return;
    const drop = () => {
      const i = this.#sessions.indexOf(session);
      if (i >= 0) this.#sessions.splice(i, 1);
      if (!session.closed) session.close();
    };
    const session: MuxSession = new MuxSession(stream, { role: 'edge', streamWindow: this.streamWindow, onClose: drop });
    stream.on('error', (err) => this.log.warn({ peerNode, err: err.message }, `${this.kind} tunnel connection error`));
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
    for (const s of [...this.#sessions]) s.close();
    this.#sessions.length = 0;
  }

  /**
   * Opens one long-lived stream down a tunnel (an XMPP session): a Duplex the caller writes and reads, with the
   * stream's flow control; core's answer head comes as its 'response' event. Undefined when no tunnel is up,
   * it is closing, or core takes no more streams.
   */
  open(method: string, path: string, headers: TunnelHeaders): MuxDuplex | undefined {
    const stream = this.#pick()?.open({ m: method, p: path, h: headers }, false, {});
    if (!stream) {
      this.#unavailable++;
      return undefined;
    }
    this.#forwarded++;
    return new MuxDuplex(stream);
  }

  /** Sends one client request through the tunnel; resolves with core's verdict once the response has ended. */
  forward(req: EdgeRequest, res: EdgeResponse, body: Buffer, info: ForwardInfo): Promise<Verdict> {
    const session = this.#pick();
    if (!session) {
      this.#unavailable++;
      unavailable(res, 'the inside is not reachable at the moment (no HTTP tunnel); retry shortly');
      return Promise.resolve(undefined);
    }
    const headers: TunnelHeaders = {
      [`${MRA_HEADER_PREFIX}client-address`]: info.clientAddress,
      [`${MRA_HEADER_PREFIX}edge`]: info.edgeIdentity,
    };
    if (info.maintenance) headers[MAINTENANCE_HEADER] = '1';
    copyRequestHeaders(req.headers, headers);
    if (body.length) headers['content-length'] = String(body.length);
    headers[':authority'] = (req.headers.host ?? req.headers[':authority'] ?? 'edge') as string;
    return new Promise<Verdict>((resolve) => {
      let verdict: Verdict;
      let status = 0;
      let out: Record<string, string | string[]> = {};
      let gathered: Buffer[] | undefined;
      let streaming = false;
      const answer = (h: Record<string, unknown>, end: boolean) => {
        const hh = (h.h ?? {}) as Record<string, string | string[]>;
        verdict = hh[VERDICT_HEADER] as Verdict;
        status = Number(h.s);
        out = {};
        for (const k in hh) {
          if (k.startsWith(MRA_HEADER_PREFIX) || HOP_BY_HOP.has(k)) continue;
          out[k] = hh[k]!;
        }
        if (res.headersSent || res.destroyed) return void upstream!.reset();
        if (end) {
          res.writeHead(status, out);
          return void res.end();
        }
        // Most answers are small and sized (core reads them whole): gathered, they leave as one write with the
        // head. Others stream, the tunnel stream's window following the client's reading.
        if (Number(hh['content-length'] ?? NaN) <= SMALL_ANSWER) gathered = [];
        else {
          res.writeHead(status, out);
          streaming = true;
        }
      };
      const data = (c: Buffer, end: boolean) => {
        if (gathered) {
          if (c.length) gathered.push(c);
          if (!end || res.destroyed) return;
          res.writeHead(status, out);
          return void res.end(gathered.length === 1 ? gathered[0]! : Buffer.concat(gathered));
        }
        if (!streaming) return;
        if (c.length && !res.write(c) && !end) {
          upstream!.pause();
          res.once('drain', () => upstream!.resume());
        }
        if (end) res.end();
      };
      const upstream: MuxStream | undefined = session.open({ m: req.method ?? 'GET', p: req.url ?? '/', h: headers }, body.length === 0, {
        head: answer,
        data,
        reset: () => {
          // Core resets a stream whose body it did not read once its answer is whole: nothing is lost then.
          if (upstream?.recvEnd) return;
          if (!res.headersSent) unavailable(res, 'the HTTP tunnel dropped this request; retry', 502);
          else res.destroy();
        },
      });
      if (!upstream) {
        this.#unavailable++;
        unavailable(res, 'the HTTP tunnel is busy or closing; retry shortly');
        return resolve(undefined);
      }
      this.#forwarded++;
      if (body.length) upstream.sendData(body, true);
      res.on('close', () => {
        // The client went away (or its answer is done): whatever core still has for it is not wanted.
        if (!upstream.done) upstream.reset();
        resolve(verdict);
      });
    });
  }

  #pick(): MuxSession | undefined {
    for (let i = 0; i < this.#sessions.length; i++) {
      const s = this.#sessions[(this.#next++ + i) % this.#sessions.length]!;
      if (!s.closed) return s;
    }
    return undefined;
  }
}

function copyRequestHeaders(from: EdgeRequest['headers'], to: TunnelHeaders): void {
  for (const k in from) {
    const v = from[k];
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
