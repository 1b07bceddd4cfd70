// SIP transports: the edge's TLS listener for clients, outbound TCP/TLS connections with reuse, and the
// connection both share (framing, CRLF keepalive answers, header and idle timeouts).
export {
  StreamSipConnection,
  DEFAULT_CONNECTION_LIMITS,
  type SipConnection,
  type ConnectionLimits,
  type ConnectionHandler,
  type SipTap,
} from './connection.js';
export { SipTlsListener, type SipTlsListenerOptions } from './tls-listener.js';
export { SipConnectionPool, targetKey, type SipTarget, type SipConnectionPoolOptions } from './connection-pool.js';
