import { EventEmitter } from 'node:events';
import type { MessageChannel } from './channel.js';
import { ChannelHandlers, isKind } from './handlers.js';
import type { ChannelKind } from './handshake.js';
import type { ChannelHandler, ChannelSource, LinkStatus } from './types.js';
import { EdgeLink, type EdgeLinkOptions, type EdgePeer } from './edge-link.js';

export type { EdgePeer };

/** Every link's options (EdgeLinkOptions: who core is, credentials, timers, the SIP framer) and the peers. */
export interface TraversalClientOptions extends EdgeLinkOptions {
  /** Peer 1 … Peer 6: the edge cluster's nodes. Core links to every one of them at once. */
  peers: EdgePeer[];
}

/**
 * The core side of the traversal: one EdgeLink per edge peer, all up at once (a full mesh: every core peer keeps a
 * link to every edge peer). A plane's handler gets each channel of its kind from every edge; SIP towards a client
 * goes over the link to the edge that holds the client's flow (the SIP plane chooses, `link(node)`).
 */
export class TraversalClient extends EventEmitter<{ status: [LinkStatus] }> implements ChannelSource {
  readonly #handlers = new ChannelHandlers();
  readonly #links: EdgeLink[];
  #since = new Date().toISOString();
  #state: LinkStatus['state'] = 'down';

  constructor(opts: TraversalClientOptions) {
    super();
    if (opts.peers.length === 0 || opts.peers.length > 6) throw new RangeError('between 1 and 6 edge peers');
    this.#links = opts.peers.map((p) => new EdgeLink(p, opts, this.#handlers));
    for (const l of this.#links)
      l.on('status', () => {
        const state = this.#aggregateState();
        if (state !== this.#state) {
          this.#state = state;
          this.#since = new Date().toISOString();
        }
        this.emit('status', this.status());
      });
  }

  start(): void {
    for (const l of this.#links) l.start();
  }

  /** The plane's handler runs each time a channel of its kind is (re)established, on every edge's link. */
  onChannel<K extends ChannelKind>(kind: K, handler: ChannelHandler<K>): void {
    this.#handlers.add(kind, handler);
    for (const l of this.#links) {
      const open = kind === 'sip' ? l.sip : l.stream(kind);
      if (open && isKind(open, kind)) handler(open);
      else if (kind !== 'sip') l.want(kind as Exclude<ChannelKind, 'sip'>);
    }
  }

  /** A SIP channel while some link is up: the first peer's that is. */
  sip(): MessageChannel | undefined {
    for (const l of this.#links) if (l.sip && !l.sip.closed) return l.sip;
    return undefined;
  }

  /** The SIP channel to the edge node of that name, while its link is up. */
  link(edgeNode: string): MessageChannel | undefined {
    for (const l of this.#links) if (l.sip && !l.sip.closed && l.sip.info.peerNode === edgeNode) return l.sip;
    return undefined;
  }

  /** Every SIP channel up now, one per edge. */
  links(): MessageChannel[] {
    return this.#links.flatMap((l) => (l.sip && !l.sip.closed ? [l.sip] : []));
  }

  /**
   * The whole: up while any link is; `peer`, `peerNode` and `rttMs` are the first live link's, the counts are
   * summed, a channel kind is up while any link has it; `links` has each link as it is.
   */
  status(): LinkStatus {
    const links = this.#links.map((l) => l.status());
    const first = links.find((l) => l.state === 'up') ?? links[0]!;
    const anyUp = (k: ChannelKind) => (links.some((l) => l.channels[k] === 'up') ? 'up' : 'down');
    const lastError = links.find((l) => l.state !== 'up' && l.lastError)?.lastError;
    return {
      state: this.#state,
      since: this.#since,
      ...(first.peer ? { peer: first.peer } : {}),
      ...(first.peerNode ? { peerNode: first.peerNode } : {}),
      ...(first.rttMs !== undefined ? { rttMs: first.rttMs } : {}),
      reconnects: links.reduce((n, l) => n + l.reconnects, 0),
      failedAttempts: links.reduce((n, l) => n + l.failedAttempts, 0),
      ...(lastError ? { lastError } : {}),
      channels: { sip: anyUp('sip'), http: anyUp('http'), xmpp: anyUp('xmpp') },
      linksUp: links.filter((l) => l.state === 'up').length,
      links,
    };
  }

  #aggregateState(): LinkStatus['state'] {
    const states = this.#links.map((l) => l.status().state);
    return states.includes('up') ? 'up' : states.includes('connecting') ? 'connecting' : 'down';
  }

  /** Stops dialling and closes every channel. */
  async close(): Promise<void> {
    for (const l of this.#links) l.close();
  }
}
