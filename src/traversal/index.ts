// The traversal link's public face: core dials (TraversalClient), edge accepts (TraversalServer); planes get
// authenticated channels through onChannel() and never touch the sockets' set-up. The HTTPS and XMPP planes
// run the multiplexed tunnel (tunnel/) on their stream channels.
export { TraversalServer, type TraversalServerOptions } from './server.js';
export { TraversalClient, type TraversalClientOptions, type EdgePeer } from './client.js';
export { EdgeLink } from './edge-link.js';
export {
  Channel,
  MessageChannel,
  StreamChannel,
  type ChannelInfo,
  type FramedEvent,
  type MessageFramer,
} from './channel.js';
export { TraversalRefused } from './dial.js';
export { hashPassword, verifyPassword } from './credentials.js';
export { CHANNEL_KINDS, type ChannelKind } from './handshake.js';
export type {
  LinkStatus,
  EdgeLinkStatus,
  TraversalStatus,
  ChannelHandler,
  ChannelOfKind,
  ChannelSource,
} from './types.js';
export {
  CoreTunnel,
  EdgeTunnel,
  type CoreTunnelStatus,
  type EdgeTunnelStatus,
  HOP_BY_HOP,
  MAINTENANCE_HEADER,
  MRA_HEADER_PREFIX,
  VERDICT_HEADER,
  encodeIdentity,
  type EdgeIdentity,
  type MuxStream,
  type StreamEvents,
  type StreamHead,
  type TunnelAnswer,
  type TunnelHandler,
  type TunnelHeaders,
  type TunnelRequest,
  type TunnelRequestHeaders,
  type TunnelStream,
  type Verdict,
} from './tunnel/index.js';
