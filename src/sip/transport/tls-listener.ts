// The edge's client-facing SIP listener: TLS on public.sip_tls_port, terminated in the native addon on its
// own threads (native/src/sip_tls/). JavaScript sees whole SIP messages and connection ids, never a socket:
// an idle client costs a few KB instead of Node's ~30 KB TLS socket, and a reconnect storm's handshakes do not
// run on the event loop. Clients keep one connection each and every request back to them rides it (RFC 5626
// flows), so connections are tracked by id.
import { nativeExport } from '../../native/addon.js';
import { LISTEN_BACKLOG } from '../../util/listen.js';
import type { Logger } from '../../log/index.js';
import {
  DEFAULT_CONNECTION_LIMITS,
  type ConnectionHandler,
  type ConnectionLimits,
  type SipConnection,
  type SipTap,
} from './connection.js';

export interface SipTlsListenerOptions {
  address: string;
  port: number;
  tls: { cert: string; key: string; ca?: string };
  limits?: Partial<ConnectionLimits>;
  maxConnections: number;
  /** A TLS handshake not done within this closes the socket (handshake slowloris). */
  handshakeTimeoutMs?: number;
  /** Network threads that run TLS and framing (default 1; sip.tls_threads). */
  threads?: number;
  log: Logger;
  onMessage: ConnectionHandler;
  onConnectionClosed?: (conn: SipConnection) => void;
  /**
   * Sustained overload: a message that waited longer than `maxQueueWaitMs` (default 5 s; 0: never) behind the
   * others is offered here first; true means it was answered at once (a cheap 503) and is not handled further.
   */
  onShed?: (data: Buffer, conn: SipConnection) => boolean;
  maxQueueWaitMs?: number;
  tap?: SipTap;
}

type NativeEvent =
  | { type: 'open'; id: number; remote: string; local: string }
  | { type: 'message'; id: number; data: Buffer }
  | { type: 'closed'; id: number; reason: string }
  | { type: 'refused'; remote: string; reason: string }
  | { type: 'handshakeFailed'; remote: string; reason: string };

export interface SipTlsListenerStats {
  connections: number;
  handshaking: number;
  accepted: number;
  refused: number;
  handshakeFailures: number;
  messagesIn: number;
  bytesIn: number;
  messagesOut: number;
  bytesOut: number;
  /** malloc_trim calls after bursts of connections, and the milliseconds they took in all. */
  memoryTrims: number;
  memoryTrimMs: number;
}

interface NativeListener {
  listen(): number;
  send(id: number, data: Buffer | string): boolean;
  holdWakes(hold: boolean): void;
  close(id: number, reason: string): void;
  stop(): void;
  stats(): SipTlsListenerStats;
}

type NativeListenerClass = new (
  config: Record<string, string | number>,
  onEvents: (events: NativeEvent[]) => void,
) => NativeListener;

const ID_PREFIX = 't';
/** Native events handled per turn of the loop at most (a message costs JavaScript ~0.1 ms: ~25 ms a turn). */
export const EVENTS_PER_TURN = 256;
const splitHostPort = (s: string): [string, number] => {
  const at = s.lastIndexOf(':');
  return [s.slice(0, at).replace(/^\[|\]$/g, ''), Number(s.slice(at + 1))];
};

/** A client's TLS connection, held by the native listener; this object is its handle on the JS side. */
class ClientConnection implements SipConnection {
  readonly id: string;
  readonly transport = 'tls' as const;
  readonly localAddress: string;
  readonly localPort: number;
  closed = false;
  closeReason = '';
  #listeners: Array<(reason: string) => void> | undefined;

  constructor(
    readonly num: number,
    readonly remote: string,
    local: string,
    readonly owner: SipTlsListener,
  ) {
    this.id = ID_PREFIX + num.toString(36);
    [this.localAddress, this.localPort] = splitHostPort(local);
  }

  send(data: Buffer | string): boolean {
    return !this.closed && this.owner.sendTo(this.num, data);
  }

  onClose(listener: (reason: string) => void): void {
    if (this.closed) listener(this.closeReason);
    else (this.#listeners ??= []).push(listener);
  }

  close(reason = 'closed locally'): void {
    if (this.closed) return;
    this.owner.closeConnection(this, reason);
  }

  /** @internal the listener's half of a close, whichever side started it. */
  finish(reason: string): void {
    this.closed = true;
    this.closeReason = reason;
    for (const l of this.#listeners?.splice(0) ?? []) l(reason);
  }
}

export class SipTlsListener {
  readonly #opts: SipTlsListenerOptions;
  readonly #limits: ConnectionLimits;
  readonly #connections = new Map<number, ClientConnection>();
  #native: NativeListener | undefined;
  #port = 0;
  // Wakes held for the rest of this turn (sendTo), released by a microtask.
  #holding = false;
  // Events delivered but not yet handled (#onEvents), from #backlogAt on. A next turn is scheduled exactly while
  // #backlogAt > 0: the first part is handled at once, and the backlog is emptied with its last part.
  #backlog: NativeEvent[] = [];
  #backlogAt = 0;
  // When each batch in the backlog arrived: [index of its first event, performance.now()], oldest first.
  #arrivals: Array<[number, number]> = [];
  /** Messages answered at once because they waited too long (sustained overload). */
  shed = 0;
  readonly #release = (): void => {
    this.#holding = false;
    this.#native?.holdWakes(false);
  };

  constructor(opts: SipTlsListenerOptions) {
    this.#opts = opts;
    this.#limits = { ...DEFAULT_CONNECTION_LIMITS, ...opts.limits };
  }

  /** Binds and starts the network threads; a port in use or a bad certificate rejects with the cause. */
  async listen(): Promise<number> {
    const { address, port, tls, maxConnections, handshakeTimeoutMs = 10_000, threads = 1 } = this.#opts;
    const Native = nativeExport<NativeListenerClass>('NativeSipTlsListener');
    const native = new Native(
      {
        address,
        port,
        certPem: tls.cert,
        keyPem: tls.key,
        threads,
        backlog: LISTEN_BACKLOG,
        maxConnections,
        maxHeaderBytes: this.#limits.maxHeaderBytes,
        maxBodyBytes: this.#limits.maxBodyBytes,
        headerTimeoutMs: this.#limits.headerTimeoutMs,
        idleTimeoutMs: this.#limits.idleTimeoutMs,
        handshakeTimeoutMs,
      },
      (events) => this.#onEvents(events),
    );
    this.#port = native.listen();
    this.#native = native;
    return this.#port;
  }

  get port(): number {
    return this.#port;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  connection(id: string): SipConnection | undefined {
    if (!id.startsWith(ID_PREFIX)) return undefined;
    return this.#connections.get(parseInt(id.slice(ID_PREFIX.length), 36));
  }

  stats(): SipTlsListenerStats | undefined {
    return this.#native?.stats();
  }

  async close(): Promise<void> {
    const native = this.#native;
    this.#native = undefined;
    // After stop() returns no event comes: the connections still held are closed here.
    native?.stop();
    this.#backlog = [];
    this.#backlogAt = 0;
    for (const conn of [...this.#connections.values()]) this.#closed(conn, 'listener closing');
  }

  /**
   * @internal Sends queue without waking their network thread until this turn of the loop is over: a turn's
   * replies (one chunk from core holds several) then cost one wake of the thread, not one each, and the thread
   * does not race JavaScript for the queue's lock between them.
   */
  sendTo(num: number, data: Buffer | string): boolean {
    const native = this.#native;
    if (!native) return false;
    if (this.#opts.tap) this.#opts.tap('out', data, this.#connections.get(num)!);
    if (!this.#holding) {
      this.#holding = true;
      native.holdWakes(true);
      queueMicrotask(this.#release);
    }
    return native.send(num, data);
  }

  /** @internal a close from this side: the connection is gone for JS at once, the socket soon after. */
  closeConnection(conn: ClientConnection, reason: string): void {
    this.#native?.close(conn.num, reason);
    this.#closed(conn, reason);
  }

  // A wave of clients (all refreshing at once after core restarts) reaches JavaScript as one batch of thousands of
  // messages; handled in one go it would hold the loop for seconds, with core's answers for the first of them
  // waiting behind the last. At most EVENTS_PER_TURN are handled per turn; the rest wait, in order, for the next.
  #onEvents(events: NativeEvent[]): void {
    if (this.#backlog.length === 0 && events.length <= EVENTS_PER_TURN)
      return this.#handle(events, 0, events.length, 0);
    this.#arrivals.push([this.#backlog.length, performance.now()]);
    if (this.#backlog.length === 0) this.#backlog = events;
    else for (const ev of events) this.#backlog.push(ev);
    if (this.#backlogAt === 0) this.#drain();
  }

  readonly #drain = (): void => {
    const end = Math.min(this.#backlogAt + EVENTS_PER_TURN, this.#backlog.length);
    const events = this.#backlog;
    const from = this.#backlogAt;
    const staleEnd = this.#staleEnd(events.length);
    if (end < events.length) {
      this.#backlogAt = end;
      // Batches this turn finishes are of no more use to #staleEnd, which would scan them every turn.
      while (this.#arrivals.length > 1 && this.#arrivals[1]![0] <= end) this.#arrivals.shift();
      setImmediate(this.#drain);
    } else {
      this.#backlog = [];
      this.#backlogAt = 0;
      this.#arrivals = [];
    }
    this.#handle(events, from, end, staleEnd);
  };

  /**
   * Where the backlog's messages stop being stale: the first event of the oldest batch that has waited less than
   * maxQueueWaitMs. Under a burst (a refresh wave) nothing is that old and everything is handled; under load that
   * does not end, the oldest are answered at once, so the wait stays bounded and the node's rate does not fall.
   */
  #staleEnd(length: number): number {
    const maxWait = this.#opts.maxQueueWaitMs ?? 5000;
    if (maxWait <= 0 || !this.#opts.onShed) return 0;
    const limit = performance.now() - maxWait;
    let k = 0;
    while (k < this.#arrivals.length && this.#arrivals[k]![1] < limit) k++;
    return k === 0 ? 0 : (this.#arrivals[k]?.[0] ?? length);
  }

  #handle(events: NativeEvent[], from: number, to: number, staleEnd: number): void {
    const { log, onMessage, onShed } = this.#opts;
    for (let i = from; i < to; i++) {
      const ev = events[i]!;
      switch (ev.type) {
        case 'message': {
          const conn = this.#connections.get(ev.id);
          // A message that was in flight when JS closed the connection is dropped with it.
          if (!conn) break;
          this.#opts.tap?.('in', ev.data, conn);
          if (i < staleEnd && onShed!(ev.data, conn)) this.shed++;
          else onMessage(ev.data, conn);
          break;
        }
        case 'open':
          this.#connections.set(ev.id, new ClientConnection(ev.id, ev.remote, ev.local, this));
          break;
        case 'closed': {
          const conn = this.#connections.get(ev.id);
          if (conn) this.#closed(conn, ev.reason);
          break;
        }
        case 'refused':
          log.warn(
            { remote: ev.remote, max: this.#opts.maxConnections, reason: ev.reason },
            'sip connection refused: connection limit',
          );
          break;
        case 'handshakeFailed':
          log.debug({ remote: ev.remote, err: ev.reason }, 'sip tls handshake failed');
          break;
      }
    }
  }

  #closed(conn: ClientConnection, reason: string): void {
    if (!this.#connections.delete(conn.num)) return;
    // Guard trips (slowloris, idle, unframeable, a client that does not read) are worth a warning; a hang-up is not.
    if (/timeout|unframeable|queue full/.test(reason))
      this.#opts.log.warn({ conn: conn.id, remote: conn.remote, reason }, 'sip connection closed');
    else this.#opts.log.debug({ conn: conn.id, remote: conn.remote, reason }, 'sip connection closed');
    conn.finish(reason);
    this.#opts.onConnectionClosed?.(conn);
  }
}
