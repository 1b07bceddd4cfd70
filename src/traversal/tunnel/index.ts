// The multiplexed tunnel on a traversal stream channel (http, xmpp): one session per channel, core dialled it,
// the edge opens the streams (one per HTTPS request or XMPP client session), each with its own window.
export { EdgeTunnel, answerText, unavailable, type TunnelHeaders } from './edge-tunnel.js';
export { CoreTunnel, type TunnelAnswer, type TunnelHandler, type TunnelRequest, type TunnelRequestHeaders } from './core-tunnel.js';
export type { MuxDuplex as TunnelStream } from './mux-duplex.js';
export { HOP_BY_HOP, MAINTENANCE_HEADER, MRA_HEADER_PREFIX, VERDICT_HEADER, encodeIdentity, type EdgeIdentity } from './protocol.js';
