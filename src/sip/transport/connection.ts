// One SIP connection over a Node TCP or TLS socket (RFC 3261 §18.3): frames whole messages, answers RFC 5626 CRLF
// keepalives, and guards the node against a peer that sends slowly (header timeout) or not at all (idle).
import type { Socket } from 'node:net';
import { SipStreamFramer, type FramerLimits } from '../message/index.js';
import { TickWriter } from '../../util/tick-writer.js';

export interface ConnectionLimits extends FramerLimits {
  /** A message started must be complete within this (slowloris guard); 0 disables. */
  headerTimeoutMs: number;
  /** Nothing received for this long closes the connection; 0 disables. */
  idleTimeoutMs: number;
}

// Framing limits sit above the parser's so that a message a little too large is still cut cleanly and can
// be answered 513; beyond them the stream cannot be trusted and is closed.
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxHeaderBytes: 65536,
  maxBodyBytes: 262144,
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 600_000,
};

export type ConnectionHandler = (data: Buffer, conn: SipConnection) => void;

/**
 * One SIP flow as the planes see it: whole messages in, bytes out. A StreamSipConnection (below) runs over a
 * Node socket (core to call control, the lab); the edge's client connections run in the native TLS listener.
 */
export interface SipConnection {
  readonly id: string;
  readonly transport: 'tcp' | 'tls';
  readonly remote: string;
  readonly localAddress: string;
  readonly localPort: number;
  readonly closed: boolean;
  readonly closeReason: string;
  /** false when the connection is gone: the caller answers 430 / 503 rather than open a new one. */
  send(data: Buffer | string): boolean;
  onClose(listener: (reason: string) => void): void;
  /** Idempotent. */
  close(reason?: string): void;
}

/** Sees every SIP message a transport takes in or sends, whole (a HEP feed to Homer); it must not keep them. */
export type SipTap = (direction: 'in' | 'out', data: Buffer | string, conn: SipConnection) => void;

let nextId = 1;

// A listener passes the same limits object for each of its (thousands of) connections: merged once, shared.
const MERGED = new WeakMap<Partial<ConnectionLimits>, ConnectionLimits>();

function mergedLimits(limits: Partial<ConnectionLimits>): ConnectionLimits {
  let merged = MERGED.get(limits);
  if (!merged) MERGED.set(limits, (merged = Object.freeze({ ...DEFAULT_CONNECTION_LIMITS, ...limits })));
  return merged;
}

export class StreamSipConnection implements SipConnection {
  readonly id: string;
  readonly transport: 'tcp' | 'tls';
  readonly remote: string;
  readonly #socket: Socket;
  readonly #writer: TickWriter;
  readonly #framer: SipStreamFramer;
  readonly #limits: ConnectionLimits;
  readonly #closeListeners: Array<(reason: string) => void> = [];
  #headerTimer: NodeJS.Timeout | undefined;
  #closed = false;
  closeReason = '';

  constructor(
    socket: Socket,
    transport: 'tcp' | 'tls',
    limits: Partial<ConnectionLimits>,
    private readonly onMessage: ConnectionHandler,
  ) {
    this.id = `c${(nextId++).toString(36)}`;
    this.transport = transport;
    this.#socket = socket;
    this.#writer = new TickWriter(socket);
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.#limits = mergedLimits(limits);
    this.#framer = new SipStreamFramer(this.#limits);
    socket.setNoDelay(true);
    if (this.#limits.idleTimeoutMs > 0) socket.setTimeout(this.#limits.idleTimeoutMs, () => this.close('idle timeout'));
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => (this.closeReason ||= err.message));
    socket.once('close', () => this.#finish('connection closed'));
  }

  get closed(): boolean {
    return this.#closed;
  }

  get localAddress(): string {
    return this.#socket.localAddress ?? '';
  }

  get localPort(): number {
    return this.#socket.localPort ?? 0;
  }

  /** Set by the pool that made this connection when a capture wants its messages. */
  tap: SipTap | undefined;

  send(data: Buffer | string): boolean {
    if (this.#closed || this.#socket.destroyed) return false;
    this.tap?.('out', data, this);
    // Everything sent in one tick leaves in one write: core's connection to call control carries every
    // client's REGISTER, and one TLS record and one syscall per message was a fifth of a node's CPU.
    this.#writer.write(data);
    return true;
  }

  onClose(listener: (reason: string) => void): void {
    if (this.#closed) listener(this.closeReason);
    else this.#closeListeners.push(listener);
  }

  close(reason = 'closed locally'): void {
    this.#finish(reason);
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    for (const ev of this.#framer.push(chunk)) {
      if (this.#closed) return;
      if (ev.kind === 'message') {
        // Each whole message restarts the clock: only a message that stalls is a slowloris.
        clearTimeout(this.#headerTimer);
        this.#headerTimer = undefined;
        this.tap?.('in', ev.data, this);
        this.onMessage(ev.data, this);
      } else if (ev.kind === 'ping') this.#socket.write('\r\n');
      else if (ev.kind === 'error') return this.close(`unframeable stream: ${ev.status} ${ev.reason}`);
    }
    this.#armHeaderTimer();
  }

  #armHeaderTimer(): void {
    if (this.#framer.buffered === 0) {
      clearTimeout(this.#headerTimer);
      this.#headerTimer = undefined;
    } else if (!this.#headerTimer && this.#limits.headerTimeoutMs > 0) {
      this.#headerTimer = setTimeout(
        () => this.close(`message incomplete after ${this.#limits.headerTimeoutMs} ms (header timeout)`),
        this.#limits.headerTimeoutMs,
      );
      this.#headerTimer.unref();
    }
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.closeReason ||= reason;
    clearTimeout(this.#headerTimer);
    for (const l of this.#closeListeners.splice(0)) l(this.closeReason);
  }
}
