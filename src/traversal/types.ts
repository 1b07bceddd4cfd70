import type { Channel } from './channel.js';
import type { ChannelKind } from './handshake.js';

/** PEM contents, already read from the configured files. */
export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

export type ChannelHandler = (channel: Channel) => void;

export type ChannelState = 'up' | 'down';

/** The core's view: one link to one edge peer at a time, with failover across the configured peers. */
export interface LinkStatus {
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
}

/** The edge's view: every core node that holds channels to it. */
export interface EdgeLinkStatus {
  state: 'up' | 'down';
  cores: Array<{ node: string; remote: string; since: string; channels: Partial<Record<ChannelKind, ChannelState>> }>;
  /** Connections refused, by the check that failed (certificate, credentials, protocol, channel). */
  refused: Record<string, number>;
  /** The last refusal: when, from where and why (the link-down alarm carries it). */
  lastError?: string;
}
