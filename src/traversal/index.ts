// The traversal link's public face: core dials (TraversalClient), edge accepts (TraversalServer); planes get
// authenticated channels through onChannel() and never touch the sockets' set-up.
export { TraversalServer, type TraversalServerOptions } from './server.js';
export { TraversalClient, type TraversalClientOptions, type EdgePeer } from './client.js';
export { Channel, MessageChannel, StreamChannel, type ChannelInfo } from './channel.js';
export { TraversalRefused } from './dial.js';
export { hashPassword, verifyPassword } from './credentials.js';
export { CHANNEL_KINDS, type ChannelKind } from './handshake.js';
export type { LinkStatus, EdgeLinkStatus, ChannelHandler } from './types.js';
