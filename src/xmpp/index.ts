// The XMPP plane's public face: the edge's client listener on 5222 (STARTTLS, then one multiplexed tunnel
// stream per client), core's relay to IM and Presence, and the framing and XML model the lab's server and
// client share. See docs/xmpp.md.
export { attachXmppEdge, type XmppEdgeDeps } from './edge-plane.js';
export { attachXmppCore, impNodes, type XmppDiscovery } from './core-plane.js';
export type { XmppStatus } from './status.js';
export { XmppFramer, XmppFramingError, type FramerHandlers } from './framing.js';
export { XmlElement, NS, x, escapeXml, streamHeader, streamError, type StreamErrorCondition } from './xml.js';
