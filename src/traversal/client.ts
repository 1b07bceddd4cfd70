import { EventEmitter } from 'node:events';
import type { Logger } from '../log/index.js';
import { dialChannel, describeDialError } from './dial.js';
import { MessageChannel, StreamChannel, type MessageFramer } from './channel.js';
import { ChannelHandlers, isKind } from './handlers.js';
import { backoffDelay } from './backoff.js';
import type { ChannelKind } from './handshake.js';
import type { TlsFiles } from '../host/index.js';
import type { ChannelHandler, ChannelSource, LinkStatus } from './types.js';

export interface EdgePeer {
  address: string;
  ports: Record<ChannelKind, number>;
}

export interface TraversalClientOptions {
  node: string;
  tls: TlsFiles;
  /** Peer 1 … Peer 6, tried in order; on loss the next one is tried first. */
  peers: EdgePeer[];
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
 * The core side of the link: it dials out and keeps the link up. The SIP channel is the link's heartbeat; the
 * HTTP tunnel and XMPP channels are opened to the same edge peer once it is up, for the planes that asked.
 */
export class TraversalClient extends EventEmitter<{ status: [LinkStatus] }> implements ChannelSource {
  readonly #log: Logger;
  readonly #handlers = new ChannelHandlers();
  readonly #streams = new Map<ChannelKind, StreamChannel>();
  readonly #streamAttempts = new Map<ChannelKind, number>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #sip: MessageChannel | undefined;
  #peerIndex = 0;
  #attempt = 0;
  #everUp = false;
  #stopped = true;
  #status: LinkStatus = {
    state: 'down',
    since: new Date().toISOString(),
    reconnects: 0,
    failedAttempts: 0,
    channels: { sip: 'down', http: 'down', xmpp: 'down' },
  };

  constructor(private readonly opts: TraversalClientOptions) {
    super();
    if (opts.peers.length === 0 || opts.peers.length > 6) throw new RangeError('between 1 and 6 edge peers');
    this.#log = opts.log.child({ plane: 'traversal' });
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(0, () => this.#connect());
  }

  /** The plane's handler runs each time a channel of its kind is (re)established. */
  onChannel<K extends ChannelKind>(kind: K, handler: ChannelHandler<K>): void {
    this.#handlers.add(kind, handler);
    const open = kind === 'sip' ? this.#sip : this.#streams.get(kind);
    if (open && isKind(open, kind)) handler(open);
    else if (kind !== 'sip' && this.#sip) void this.#openStream(kind);
  }

  /** The SIP channel while the link is up. */
  sip(): MessageChannel | undefined {
    return this.#sip;
  }

  status(): LinkStatus {
    return { ...this.#status, rttMs: this.#sip?.rttMs, channels: { ...this.#status.channels } };
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
    const peer = this.opts.peers[this.#peerIndex]!;
    const where = `${peer.address}:${peer.ports.sip}`;
    this.#setStatus({ state: 'connecting', peer: where });
    let channel: MessageChannel;
    try {
      const dialed = await dialChannel(peer, 'sip', this.opts);
      if (this.#stopped) return void dialed.socket.destroy();
      channel = new MessageChannel(dialed.info, dialed.socket, this.opts.framer(), {
        role: 'pinger',
        intervalMs: this.opts.keepaliveMs,
        onDead: (why) => channel.close(why),
      });
    } catch (err) {
      const why = describeDialError(err);
      this.#log.warn({ peer: where, err: why, attempt: this.#attempt + 1 }, 'traversal link attempt failed');
      this.#setStatus({ state: 'down', lastError: why, failedAttempts: this.#status.failedAttempts + 1 });
      this.#peerIndex = (this.#peerIndex + 1) % this.opts.peers.length;
      this.#schedule(backoffDelay(this.#attempt++, this.opts.reconnectInitialMs, this.opts.reconnectMaxMs), () => this.#connect());
      return;
    }
    this.#sip = channel;
    this.#attempt = 0;
    const reconnects = this.#status.reconnects + (this.#everUp ? 1 : 0);
    this.#everUp = true;
    this.#setStatus({ state: 'up', peer: where, peerNode: channel.info.peerNode, reconnects, failedAttempts: 0, lastError: undefined, channels: { ...this.#status.channels, sip: 'up' } });
    this.#log.info({ peer: where, edge: channel.info.peerNode }, 'traversal link up');
    channel.once('close', (reason) => this.#lost(channel, reason));
    this.#handlers.deliver(channel);
    // The tunnels are kept up whether or not a plane uses them yet: status then proves the whole port path.
    void this.#openStream('http');
    void this.#openStream('xmpp');
  }

  #lost(channel: MessageChannel, reason: string): void {
    if (this.#sip !== channel) return;
    this.#sip = undefined;
    for (const s of this.#streams.values()) s.close('traversal link down');
    this.#log.warn({ peer: this.#status.peer, reason }, 'traversal link down');
    this.#setStatus({ state: 'down', lastError: reason, channels: { sip: 'down', http: 'down', xmpp: 'down' } });
    if (this.#stopped) return;
    // Fail over: the next peer first, at once; backoff applies from the first failed attempt on.
    this.#peerIndex = (this.#peerIndex + 1) % this.opts.peers.length;
    this.#schedule(0, () => this.#connect());
  }

  async #openStream(kind: Exclude<ChannelKind, 'sip'>): Promise<void> {
    const sip = this.#sip;
    if (!sip || this.#streams.has(kind)) return;
    const peer = this.opts.peers[this.#peerIndex]!;
    let channel: StreamChannel;
    try {
      const dialed = await dialChannel(peer, kind, this.opts);
      if (this.#stopped || this.#sip !== sip) return void dialed.socket.destroy();
      channel = new StreamChannel(dialed.info, dialed.socket);
    } catch (err) {
      const n = this.#streamAttempts.get(kind) ?? 0;
      this.#streamAttempts.set(kind, n + 1);
      this.#log.warn({ channel: kind, err: describeDialError(err) }, 'traversal channel attempt failed');
      if (this.#sip === sip)
        this.#schedule(backoffDelay(n, this.opts.reconnectInitialMs, this.opts.reconnectMaxMs), () => void this.#openStream(kind));
      return;
    }
    this.#streamAttempts.set(kind, 0);
    this.#streams.set(kind, channel);
    this.#setStatus({ channels: { ...this.#status.channels, [kind]: 'up' } });
    this.#log.info({ channel: kind, edge: channel.info.peerNode }, 'traversal channel up');
    channel.once('close', (reason) => {
      this.#streams.delete(kind);
      this.#setStatus({ channels: { ...this.#status.channels, [kind]: 'down' } });
      if (this.#sip !== sip || this.#stopped) return;
      this.#log.warn({ channel: kind, reason }, 'traversal channel down; reopening');
      this.#schedule(backoffDelay(0, this.opts.reconnectInitialMs, this.opts.reconnectMaxMs), () => void this.#openStream(kind));
    });
    this.#handlers.deliver(channel);
  }

  /** Stops dialling and closes every channel. */
  async close(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const s of this.#streams.values()) s.close('core shutting down');
    this.#sip?.close('core shutting down');
  }
}
