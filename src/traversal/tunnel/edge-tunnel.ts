import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../log/index.js';
import { MuxDuplex } from './mux-duplex.js';
import { STREAM_WINDOW } from './mux-frames.js';
import { MuxSession, type MuxStream, type StreamEvents } from './mux-session.js';

/** Request headers as they cross the tunnel: lower-case names, the edge's own `x-mra-*` ones included. */
export type TunnelHeaders = Record<string, string | string[]>;

/** The edge end's figures: sessions up, streams opened, streams that could not be (no tunnel, or busy). */
export interface EdgeTunnelStatus {
  sessions: number;
  forwarded: number;
  unavailable: number;
}

/** A stream's opening head: method, path and headers, as core's end reads them (core-tunnel.ts). */
export type StreamHead = { m: string; p: string; h: TunnelHeaders };

/**
 * The edge end of a tunnel: core dialled the connection, but the edge opens the streams on it (mux-session.ts),
 * one per remote request (the HTTPS plane's forwarding) or client session (XMPP). Each stream has its own window, so a slow upstream holds only its own stream. One
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
    const session: MuxSession = new MuxSession(stream, {
      role: 'edge',
      streamWindow: this.streamWindow,
      onClose: drop,
    });
    stream.on('error', (err) => this.log.warn({ peerNode, err: err.message }, `${this.kind} tunnel connection error`));
    onClose(drop);
    this.#sessions.push(session);
    this.log.info({ peerNode }, `${this.kind} tunnel up`);
  }

  get up(): boolean {
    return this.#sessions.length > 0;
  }

  status(): EdgeTunnelStatus {
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
    const stream = this.openStream({ m: method, p: path, h: headers }, false, {});
    return typeof stream === 'string' ? undefined : new MuxDuplex(stream);
  }

  /**
   * Opens one stream on the next live session (round-robin) with its head, and who hears its answer. The
   * refusal says why there is none: no tunnel up, or the one up is closing or takes no more streams.
   */
  openStream(head: StreamHead, end: boolean, ev: StreamEvents): MuxStream | 'no-tunnel' | 'busy' {
    const session = this.#pick();
    const stream = session?.open(head, end, ev);
    if (!stream) {
      this.#unavailable++;
      return session ? 'busy' : 'no-tunnel';
    }
    this.#forwarded++;
    return stream;
  }

  #pick(): MuxSession | undefined {
    for (let i = 0; i < this.#sessions.length; i++) {
      const s = this.#sessions[(this.#next++ + i) % this.#sessions.length]!;
      if (!s.closed) return s;
    }
    return undefined;
  }
}
