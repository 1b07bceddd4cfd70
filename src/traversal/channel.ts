import { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';
import { TickWriter } from '../util/tick-writer.js';
import type { ChannelKind } from './handshake.js';

export interface ChannelInfo {
  kind: ChannelKind;
  /** The far node's name as it gave it in the handshake. */
  peerNode: string;
  /** address:port of the far end of the TLS connection. */
  remote: string;
  /** This node's address on the connection (what the far end sees, barring NAT): core's media address towards the edge. */
  localAddress?: string;
  since: Date;
}

/** What a message framer finds in the SIP channel's byte stream. */
export type FramedEvent =
  | { kind: 'message'; data: Buffer }
  | { kind: 'ping' }
  | { kind: 'pong' }
  | { kind: 'error'; status: number; reason: string };

/**
 * Cuts the SIP channel's byte stream into whole messages and the RFC 5626 keepalives between them. The link
 * knows no SIP: the composition root hands it the SIP plane's framer (TraversalServerOptions.framer).
 */
export interface MessageFramer {
  push(chunk: Buffer): FramedEvent[];
}

interface ChannelEvents {
  close: [reason: string];
}

/** One authenticated traversal channel: a TLS connection that has passed the handshake. */
export abstract class Channel extends EventEmitter<ChannelEvents> {
  #closed = false;
  closeReason = '';

  constructor(
    readonly info: ChannelInfo,
    protected readonly socket: TLSSocket,
  ) {
    super();
    socket.once('close', () => this.#finish('connection closed'));
    socket.on('error', (err) => (this.closeReason ||= err.message));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Idempotent; the reason is kept for logs and status. */
  close(reason = 'closed locally'): void {
    this.#finish(reason);
    this.socket.destroy();
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.closeReason ||= reason;
    this.onClosed();
    this.emit('close', this.closeReason);
  }

  protected onClosed(): void {}
}

/** HTTP tunnel and XMPP: the plane gets the byte stream and speaks its own protocol on it (HTTP/2, XMPP). */
export class StreamChannel extends Channel {
  get stream(): TLSSocket {
    return this.socket;
  }
}

interface KeepaliveOptions {
  /** core pings; the edge answers. */
  role: 'pinger' | 'ponger';
  intervalMs: number;
  /** Called when the far side stopped answering (pinger) or stopped pinging (ponger). */
  onDead: (why: string) => void;
}

/**
 * The SIP traversal channel: whole SIP messages each way, framed by Content-Length, with RFC 5626 CRLF
 * keepalive (CRLFCRLF ping, CRLF pong) between them. The pinger measures the round trip of each ping.
 */
export class MessageChannel extends Channel {
  readonly #framer: MessageFramer;
  readonly #messageListeners = new Set<(msg: Buffer) => void>();
  #timer: NodeJS.Timeout | undefined;
  #pingSentAt = 0;
  readonly #writer: TickWriter;
  #lastHeard = Date.now();
  rttMs: number | undefined;

  constructor(
    info: ChannelInfo,
    socket: TLSSocket,
    framer: MessageFramer,
    private readonly keepalive: KeepaliveOptions,
  ) {
    super(info, socket);
    this.#framer = framer;
    this.#writer = new TickWriter(socket);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.resume();
    this.#timer = setInterval(() => this.#tick(), keepalive.intervalMs);
    this.#timer.unref();
  }

  /** Queues one whole SIP message; false when the channel is closed (the caller answers 503/430). */
  send(message: Buffer | string): boolean {
    if (this.closed) return false;
    // Every client's messages share this one connection: what is sent in one tick leaves as one TLS write
    // rather than one record and one syscall per message.
    this.#writer.write(message);
    return true;
  }

  onMessage(listener: (msg: Buffer) => void): () => void {
    this.#messageListeners.add(listener);
    return () => this.#messageListeners.delete(listener);
  }

  #onData(chunk: Buffer): void {
    this.#lastHeard = Date.now();
    for (const ev of this.#framer.push(chunk)) {
      switch (ev.kind) {
        case 'ping':
          this.socket.write('\r\n');
          break;
        case 'pong':
          if (this.#pingSentAt) this.rttMs = Date.now() - this.#pingSentAt;
          this.#pingSentAt = 0;
          break;
        case 'message':
          for (const l of this.#messageListeners) l(ev.data);
          break;
        case 'error':
          this.close(`unframeable SIP stream: ${ev.status} ${ev.reason}`);
          return;
      }
    }
  }

  #tick(): void {
    if (this.closed) return;
    const { role, intervalMs, onDead } = this.keepalive;
    if (role === 'pinger') {
      // A ping still unanswered a whole interval later: the peer is gone (detected within two intervals).
      if (this.#pingSentAt) return onDead(`no keepalive answer within ${intervalMs} ms`);
      this.#pingSentAt = Date.now();
      this.socket.write('\r\n\r\n');
    } else if (Date.now() - this.#lastHeard > 3 * intervalMs) onDead(`nothing heard for ${3 * intervalMs} ms`);
  }

  protected override onClosed(): void {
    clearInterval(this.#timer);
  }
}
