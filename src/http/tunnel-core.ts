import { performServerHandshake, constants, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream, type Settings } from 'node:http2';
import { Readable, pipeline } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log/index.js';
import { HOP_BY_HOP, MRA_HEADER_PREFIX, TUNNEL_SETTINGS, VERDICT_HEADER, MAINTENANCE_HEADER, decodeIdentity, type EdgeIdentity } from './tunnel-protocol.js';

/** One remote client's request as core receives it from the edge. */
export interface TunnelRequest {
  method: string;
  /** The request target exactly as the client sent it (routing segment first). */
  target: string;
  headers: IncomingHttpHeaders;
  clientAddress: string;
  edge: EdgeIdentity | undefined;
  /** The edge that took the request is in maintenance mode (it refuses new sign-ins too). */
  edgeMaintenance: boolean;
  body: Readable;
}

export interface TunnelAnswer {
  status: number;
  headers?: Record<string, string | string[] | number>;
  body?: string | Buffer | Readable;
  /** Marks a refusal for the edge's intrusion protection (not shown to the client). */
  verdict?: 'auth-failed' | 'not-allowed' | 'rate-limited';
}

export type TunnelHandler = (req: TunnelRequest) => Promise<TunnelAnswer>;

/**
 * The core end of the HTTP tunnel: core dialled the TLS connection and is the HTTP/2 *server* on it, so the
 * edge can send requests inward without ever opening a connection towards the inside.
 */
export class CoreTunnel {
  readonly #sessions = new Set<ServerHttp2Session>();
  #served = 0;
  readonly #settings: Settings;
  /** An edge sends the same identity on every stream: decode it once, not per request. */
  #identity: { text: unknown; value: EdgeIdentity | undefined } = { text: undefined, value: undefined };

  constructor(
    private readonly handler: TunnelHandler,
    private readonly log: Logger,
    /** Which traversal channel this tunnel runs on ('http', 'xmpp'), for the log. */
    private readonly kind = 'http',
    /** Streams the edge may hold open at once (SETTINGS_MAX_CONCURRENT_STREAMS core announces). */
    maxStreams = TUNNEL_SETTINGS.maxConcurrentStreams,
  ) {
    this.#settings = { ...TUNNEL_SETTINGS, maxConcurrentStreams: maxStreams };
  }

  attach(stream: TLSSocket, peerNode: string): void {
    stream.setNoDelay(true); // as on the edge end: small frames of many streams must not wait for ACKs
    const session = performServerHandshake(stream, { settings: this.#settings, maxSessionMemory: 64 });
    session.on('error', (err) => this.log.warn({ peerNode, err: err.message }, `${this.kind} tunnel session error`));
    session.on('connect', () => session.setLocalWindowSize(TUNNEL_SETTINGS.initialWindowSize! * 16));
    session.on('stream', (s, headers) => void this.#serve(s, headers));
    session.once('close', () => this.#sessions.delete(session));
    this.#sessions.add(session);
    this.log.info({ peerNode }, `${this.kind} tunnel serving`);
  }

  status(): { sessions: number; served: number } {
    return { sessions: this.#sessions.size, served: this.#served };
  }

  close(): void {
    for (const s of this.#sessions) s.destroy();
    this.#sessions.clear();
  }

  #edgeIdentity(text: string | string[] | undefined): EdgeIdentity | undefined {
    if (text !== this.#identity.text) this.#identity = { text, value: decodeIdentity(text) };
    return this.#identity.value;
  }

  async #serve(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    this.#served++;
    stream.on('error', () => {});
    const req: TunnelRequest = {
      method: String(headers[':method'] ?? 'GET'),
      target: String(headers[':path'] ?? '/'),
      headers,
      clientAddress: String(headers[`${MRA_HEADER_PREFIX}client-address`] ?? ''),
      edge: this.#edgeIdentity(headers[`${MRA_HEADER_PREFIX}edge`]),
      edgeMaintenance: headers[MAINTENANCE_HEADER] === '1',
      body: stream,
    };
    let answer: TunnelAnswer;
    try {
      answer = await this.handler(req);
    } catch (err) {
      this.log.error({ err: (err as Error).message, target: req.target }, 'http request handler failed');
      answer = { status: 500, body: 'internal error while handling the request\n' };
    }
    if (stream.destroyed || stream.closed) {
      // An unread upstream body would hold its pooled connection for ever; release it.
      if (answer.body instanceof Readable) answer.body.destroy();
      this.log.debug({ target: req.target, status: answer.status }, 'http tunnel stream gone before the answer');
      return;
    }
    const out: Record<string, string | string[] | number> = { ':status': answer.status };
    for (const [k, v] of Object.entries(answer.headers ?? {})) if (!HOP_BY_HOP.has(k.toLowerCase())) out[k.toLowerCase()] = v;
    if (answer.verdict) out[VERDICT_HEADER] = answer.verdict;
    // Whatever of the request body the handler did not read is not wanted; stop the edge sending it.
    if (!stream.readableEnded) stream.resume();
    const body = answer.body;
    if (body instanceof Readable) {
      stream.respond(out);
      // pipeline, not pipe: if either end fails or the edge cancels, both are destroyed (and the pool freed).
      pipeline(body, stream, (err) => {
        if (err && !stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      });
    } else {
      const buf = typeof body === 'string' ? Buffer.from(body) : (body ?? Buffer.alloc(0));
      out['content-length'] = buf.length;
      stream.respond(out, { endStream: buf.length === 0 });
      if (buf.length) stream.end(buf);
    }
  }
}
