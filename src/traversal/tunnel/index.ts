// The multiplexed tunnel on a traversal stream channel (http, xmpp): one session per channel, core dialled it,
// the edge opens the streams (one per HTTPS request or XMPP client session), each with its own window.
export { EdgeTunnel, type EdgeTunnelStatus, type StreamHead, type TunnelHeaders } from './edge-tunnel.js';
export {
  CoreTunnel,
  type CoreTunnelStatus,
  type TunnelAnswer,
  type TunnelHandler,
  type TunnelRequest,
  type TunnelRequestHeaders,
} from './core-tunnel.js';
export type { MuxDuplex as TunnelStream } from './mux-duplex.js';
export type { MuxStream, StreamEvents } from './mux-session.js';
export {
  HOP_BY_HOP,
  MAINTENANCE_HEADER,
  MRA_HEADER_PREFIX,
  VERDICT_HEADER,
  encodeIdentity,
  type EdgeIdentity,
  type Verdict,
} from './protocol.js';
