// The SIP plane's face, for the composition roots: attach the edge's SIP (the client-facing TLS listener and its
// proxy towards the traversal link) or core's (the traversal link towards call control), and the framer the
// traversal link's SIP channel is cut with. What SIP elements are built from lives in the sub-folders' own faces:
// message/ (parser, messages, header values, framing), transport/ (TLS listener, connection pool) and the hop
// helpers of routing/; the lab, tests and benches use those, product code outside src/sip uses this file only.
export {
  attachEdgeSip,
  attachCoreSip,
  type CallControlDiscovery,
  type CoreSipProxy,
  type EdgeSipProxy,
  type MediaStatus,
  type SipStatus,
} from './routing/index.js';
export { SipStreamFramer } from './message/index.js';
