import { EventEmitter } from 'node:events';
import type { Logger } from '../log/index.js';
import { dialChannel, describeDialError } from './dial.js';
import { MessageChannel, StreamChannel, type MessageFramer } from './channel.js';
import type { ChannelHandlers } from './handlers.js';
import { backoffDelay } from './backoff.js';
import type { ChannelKind } from './handshake.js';
import type { TlsFiles } from '../host/index.js';
import type { LinkStatus } from './types.js';

export interface EdgePeer {
  address: string;
  ports: Record<ChannelKind, number>;
}

/** What every link of one core shares: who it is, its credentials and timers, and the planes' handlers. */
export interface EdgeLinkOptions {
  node: string;
  tls: TlsFiles;
  username: string;
  password: string;
  keepaliveMs: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  connectTimeoutMs: number;
  /** The local address core dials from (source_address); default: the one the route picks. */
  localAddress?: string;
  /** Frames the SIP channel's stream (the SIP plane's framer, handed in by the composition root). */
  framer: () => MessageFramer;
  log: Logger;
}

/**
 * Core's link to one edge peer: it dials, keeps the SIP channel up with keepalives (the link's heartbeat), opens the
 * HTTP tunnel and XMPP channels once it is, and dials again with backoff whenever it drops. A core holds one per
 * edge peer, all at once (a full mesh, as Expressway's traversal zones from every C peer to every E peer).
 */
export class EdgeLink extends EventEmitter<{ status: [LinkStatus] }> {
  readonly #log: Logger;
  readonly #streams = new Map<ChannelKind, StreamChannel>();
  readonly #streamAttempts = new Map<ChannelKind, number>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #where: string;
  #sip: MessageChannel | undefined;
  #attempt = 0;
  #everUp = false;
  #stopped = true;
  #status: LinkStatus;

  constructor(
    readonly peer: EdgePeer,
    private readonly opts: EdgeLinkOptions,
    private readonly handlers: ChannelHandlers,
  ) {
    super();
    this.#log = opts.log.child({ plane: 'traversal' });
    this.#where = `${peer.address}:${peer.ports.sip}`;
    this.#status = {
      state: 'down',
      peer: this.#where,
      since: new Date().toISOString(),
      reconnects: 0,
      failedAttempts: 0,
      channels: { sip: 'down', http: 'down', xmpp: 'down' },
    };
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(0, () => void this.#connect());
  }

  /** The SIP channel while the link is up. */
  get sip(): MessageChannel | undefined {
    return this.#sip;
  }

  stream(kind: ChannelKind): StreamChannel | undefined {
    return this.#streams.get(kind);
  }

  status(): LinkStatus {
    return { ...this.#status, rttMs: this.#sip?.rttMs, channels: { ...this.#status.channels } };
  }

  /** A plane asked for a stream kind after the link came up: open it now. */
  want(kind: Exclude<ChannelKind, 'sip'>): void {
    if (this.#sip && !this.#streams.has(kind)) void this.#openStream(kind);
  }

  #setStatus(patch: Partial<LinkStatus>): void {
    const changed = patch.state !== undefined && patch.state !== this.#status.state;
    this.#status = { ...this.#status, ...patch, ...(changed ? { since: new Date().toISOString() } : {}) };
    this.emit('status', this.status());
  }

  #schedule(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#stopped) fn();
    }, ms);
    this.#timers.add(t);
  }

  async #connect(): Promise<void> {
    this.#setStatus({ state: 'connecting' });
    let channel: MessageChannel;
    try {
      const dialed = await dialChannel(this.peer, 'sip', this.opts);
      if (this.#stopped) return void dialed.socket.destroy();
      channel = new MessageChannel(dialed.info, dialed.socket, this.opts.framer(), {
        role: 'pinger',
        intervalMs: this.opts.keepaliveMs,
        onDead: (why) => channel.close(why),
      });
    } catch (err) {
      const why = describeDialError(err);
      this.#log.warn({ peer: this.#where, err: why, attempt: this.#attempt + 1 }, 'traversal link attempt failed');
      this.#setStatus({ state: 'down', lastError: why, failedAttempts: this.#status.failedAttempts + 1 });
      this.#schedule(
        backoffDelay(this.#attempt++, this.opts.reconnectInitialMs, this.opts.reconnectMaxMs),
        () => void this.#connect(),
      );
      return;
    }
    this.#sip = channel;
    this.#attempt = 0;
    const reconnects = this.#status.reconnects + (this.#everUp ? 1 : 0);
    this.#everUp = true;
    this.#setStatus({
      state: 'up',
      peerNode: channel.info.peerNode,
      reconnects,
      failedAttempts: 0,
      lastError: undefined,
      channels: { ...this.#status.channels, sip: 'up' },
    });
    this.#log.info({ peer: this.#where, edge: channel.info.peerNode }, 'traversal link up');
    channel.once('close', (reason) => this.#lost(channel, reason));
    this.handlers.deliver(channel);
    // The tunnels are kept up whether or not a plane uses them yet: status then proves the whole port path.
    void this.#openStream('http');
    void this.#openStream('xmpp');
  }

  #lost(channel: MessageChannel, reason: string): void {
    if (this.#sip !== channel) return;
    this.#sip = undefined;
    for (const s of this.#streams.values()) s.close('traversal link down');
    this.#log.warn({ peer: this.#where, edge: channel.info.peerNode, reason }, 'traversal link down');
    this.#setStatus({ state: 'down', lastError: reason, channels: { sip: 'down', http: 'down', xmpp: 'down' } });
    if (this.#stopped) return;
    // Dial again at once; backoff applies from the first failed attempt on.
    this.#schedule(0, () => void this.#connect());
  }

  async #openStream(kind: Exclude<ChannelKind, 'sip'>): Promise<void> {
    const sip = this.#sip;
    if (!sip || this.#streams.has(kind)) return;
    let channel: StreamChannel;
    try {
      const dialed = await dialChannel(this.peer, kind, this.opts);
      if (this.#stopped || this.#sip !== sip) return void dialed.socket.destroy();
      channel = new StreamChannel(dialed.info, dialed.socket);
    } catch (err) {
      const n = this.#streamAttempts.get(kind) ?? 0;
      this.#streamAttempts.set(kind, n + 1);
      this.#log.warn(
        { peer: this.#where, channel: kind, err: describeDialError(err) },
        'traversal channel attempt failed',
      );
      if (this.#sip === sip)
        this.#schedule(
          backoffDelay(n, this.opts.reconnectInitialMs, this.opts.reconnectMaxMs),
          () => void this.#openStream(kind),
        );
      return;
    }
    this.#streamAttempts.set(kind, 0);
    this.#streams.set(kind, channel);
    this.#setStatus({ channels: { ...this.#status.channels, [kind]: 'up' } });
    this.#log.info({ peer: this.#where, channel: kind, edge: channel.info.peerNode }, 'traversal channel up');
    channel.once('close', (reason) => {
      this.#streams.delete(kind);
      this.#setStatus({ channels: { ...this.#status.channels, [kind]: 'down' } });
      if (this.#sip !== sip || this.#stopped) return;
      this.#log.warn({ peer: this.#where, channel: kind, reason }, 'traversal channel down; reopening');
      this.#schedule(
        backoffDelay(0, this.opts.reconnectInitialMs, this.opts.reconnectMaxMs),
        () => void this.#openStream(kind),
      );
    });
    this.handlers.deliver(channel);
  }

  /** Stops dialling and closes every channel. */
  close(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const s of this.#streams.values()) s.close('core shutting down');
    this.#sip?.close('core shutting down');
  }
}
