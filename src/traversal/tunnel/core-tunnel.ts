import { Readable, pipeline } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../log/index.js';
import { MuxDuplex } from './mux-duplex.js';
import { STREAM_WINDOW } from './mux-frames.js';
import { DEFAULT_MAX_STREAMS, MuxSession, type MuxStream } from './mux-session.js';
import {
  HOP_BY_HOP,
  MRA_HEADER_PREFIX,
  VERDICT_HEADER,
  MAINTENANCE_HEADER,
  decodeIdentity,
  type EdgeIdentity,
  type Verdict,
} from './protocol.js';

/** Request headers as core receives them: lower-case names, the edge's `x-mra-*` ones included. */
export type TunnelRequestHeaders = Record<string, string | string[] | undefined>;

/** One remote client's request as core receives it from the edge. */
export interface TunnelRequest {
  method: string;
  /** The request target exactly as the client sent it (routing segment first). */
  target: string;
  headers: TunnelRequestHeaders;
  clientAddress: string;
  edge: EdgeIdentity | undefined;
  /** The edge that took the request is in maintenance mode (it refuses new sign-ins too). */
  edgeMaintenance: boolean;
  /** The request body as it arrives (made on first use: most requests have none and never ask). */
  readonly body: Readable;
}

export interface TunnelAnswer {
  status: number;
  headers?: Record<string, string | string[] | number>;
  body?: string | Buffer | Readable;
  /** Marks a refusal for the edge's intrusion protection (not shown to the client). */
  verdict?: Exclude<Verdict, undefined>;
}

export type TunnelHandler = (req: TunnelRequest) => Promise<TunnelAnswer>;

/** Core's end's figures: sessions up, streams served. */
export interface CoreTunnelStatus {
  sessions: number;
  served: number;
}

/**
 * The core end of a tunnel: core dialled the TLS connection and serves the streams the edge opens on it
 * (mux-session.ts), so the edge can send requests inward without ever opening a connection towards the inside.
 */
export class CoreTunnel {
  readonly #sessions = new Set<MuxSession>();
  #served = 0;
  /** An edge sends the same identity on every stream: decode it once, not per request. */
  #identity: { text: unknown; value: EdgeIdentity | undefined } = { text: undefined, value: undefined };

  constructor(
    private readonly handler: TunnelHandler,
    private readonly log: Logger,
    /** Which traversal channel this tunnel runs on ('http', 'xmpp'), for the log. */
    private readonly kind = 'http',
    /** Streams the edge may hold open at once (core announces it when the tunnel starts). */
    private readonly maxStreams = DEFAULT_MAX_STREAMS,
    /** Each stream's window (MuxSessionOptions.streamWindow): the edge's end of the channel uses the same. */
    private readonly streamWindow = STREAM_WINDOW,
  ) {}

  attach(stream: TLSSocket, peerNode: string): void {
    stream.on('error', (err) => this.log.warn({ peerNode, err: err.message }, `${this.kind} tunnel connection error`));
    const session: MuxSession = new MuxSession(stream, {
      role: 'core',
      maxStreams: this.maxStreams,
      streamWindow: this.streamWindow,
      onStream: (s, head) => void this.#serve(s, head),
      onClose: () => this.#sessions.delete(session),
    });
    this.#sessions.add(session);
    this.log.info({ peerNode }, `${this.kind} tunnel serving`);
  }

  status(): CoreTunnelStatus {
    return { sessions: this.#sessions.size, served: this.#served };
  }

  close(): void {
    for (const s of [...this.#sessions]) s.close();
    this.#sessions.clear();
  }

  #edgeIdentity(text: string | string[] | undefined): EdgeIdentity | undefined {
    if (text !== this.#identity.text) this.#identity = { text, value: decodeIdentity(text) };
    return this.#identity.value;
  }

  async #serve(stream: MuxStream, head: Record<string, unknown>): Promise<void> {
    this.#served++;
    const headers = (head.h ?? {}) as TunnelRequestHeaders;
    let duplex: MuxDuplex | undefined;
    const req: TunnelRequest = {
      method: String(head.m ?? 'GET'),
      target: String(head.p ?? '/'),
      headers,
      clientAddress: String(headers[`${MRA_HEADER_PREFIX}client-address`] ?? ''),
      edge: this.#edgeIdentity(headers[`${MRA_HEADER_PREFIX}edge`]),
      edgeMaintenance: headers[MAINTENANCE_HEADER] === '1',
      get body() {
        return (duplex ??= new MuxDuplex(stream));
      },
    };
    let answer: TunnelAnswer;
    try {
      answer = await this.handler(req);
    } catch (err) {
      this.log.error({ err: (err as Error).message, target: req.target }, 'http request handler failed');
      answer = { status: 500, body: 'internal error while handling the request\n' };
    }
    if (stream.done) {
      // The edge cancelled: an unread upstream body would hold its pooled connection for ever; release it.
      if (answer.body instanceof Readable) answer.body.destroy();
      this.log.debug({ target: req.target, status: answer.status }, 'http tunnel stream gone before the answer');
      return;
    }
    const out: Record<string, string | string[] | number> = {};
    for (const [k, v] of Object.entries(answer.headers ?? {}))
      if (!HOP_BY_HOP.has(k.toLowerCase())) out[k.toLowerCase()] = v;
    if (answer.verdict) out[VERDICT_HEADER] = answer.verdict;
    const body = answer.body;
    if (body instanceof Readable) {
      stream.sendHead({ s: answer.status, h: out }, false);
      // pipeline: if either end fails or the edge cancels, both are destroyed (and the pool freed).
      const to = (duplex ??= new MuxDuplex(stream));
      pipeline(body, to, (err) => {
        if (err) to.destroy();
        else if (!stream.recvEnd) stream.reset(); // the answer is whole; the rest of the request body is not wanted
      });
      return;
    }
    const buf = typeof body === 'string' ? Buffer.from(body) : (body ?? Buffer.alloc(0));
    out['content-length'] = buf.length;
    stream.sendHead({ s: answer.status, h: out }, buf.length === 0);
    if (buf.length) stream.sendData(buf, true);
    // Whatever of the request body the handler did not read is not wanted: stop the edge sending it.
    if (!stream.recvEnd) stream.reset();
  }
}
