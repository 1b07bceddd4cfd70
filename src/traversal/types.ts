import type { MessageChannel, StreamChannel } from './channel.js';
import type { ChannelKind } from './handshake.js';
import type { LinkSection } from '../host/index.js';

/** The channel each kind is: SIP carries whole messages; the HTTP and XMPP channels a byte stream for the tunnel. */
export interface ChannelOfKind {
  sip: MessageChannel;
  http: StreamChannel;
  xmpp: StreamChannel;
}

export type ChannelHandler<K extends ChannelKind = ChannelKind> = (channel: ChannelOfKind[K]) => void;

/** Where a plane takes its channels from: the edge's TraversalServer or core's TraversalClient. */
export interface ChannelSource {
  /** The handler runs for every authenticated channel of that kind (core: each time it is (re)established). */
  onChannel<K extends ChannelKind>(kind: K, handler: ChannelHandler<K>): void;
}

/** Each kind's handlers, kept apart so each is called with its own kind of channel. */
export type ChannelHandlers = { [K in ChannelKind]: Array<ChannelHandler<K>> };

export type ChannelState = 'up' | 'down';

/** The core's view: its links to the edge peers (each one's in `links`), summed up in the fields above them. */
export interface LinkStatus extends LinkSection {
  state: 'up' | 'connecting' | 'down';
  /** The edge peer in use or being tried, address:port of its SIP traversal listener. */
  peer?: string;
  /** The edge node's name as it gave it. */
  peerNode?: string;
  /** When the state last changed (ISO 8601). */
  since: string;
  /** Round trip of the last keepalive ping. */
  rttMs?: number;
  /** Times the link came back up after having been up. */
  reconnects: number;
  /** Failed attempts since the link was last up. */
  failedAttempts: number;
  lastError?: string;
  channels: Record<ChannelKind, ChannelState>;
  /** Core: links up now, one per edge peer at most. */
  linksUp?: number;
  /** Core: each edge peer's link. */
  links?: LinkStatus[];
}

/** The edge's view: every core node that holds channels to it. */
export interface EdgeLinkStatus extends LinkSection {
  state: 'up' | 'down';
  cores: Array<{ node: string; remote: string; since: string; channels: Partial<Record<ChannelKind, ChannelState>> }>;
  /** Connections refused, by the check that failed (certificate, credentials, protocol, channel). */
  refused: Record<string, number>;
  /** The last refusal: when, from where and why (the link-down alarm carries it). */
  lastError?: string;
}

/** The `traversal` status section: core's link or the edge's cores. */
export type TraversalStatus = LinkStatus | EdgeLinkStatus;
