// The HTTPS edge proxy's public face: the edge listener and tunnel client (edge), the tunnel server, allow list
// and authorization (core), and the route codec clients and tests use to build Jabber's paths.
export { createHttpEdge, type HttpEdge } from './edge-plane.js';
export { attachHttpCore, configuredInsideNodes, serviceRecords, type HttpCore } from './core-plane.js';
export { AllowList, automaticRules, parseRuleUrl, type AllowRule, type InsideNode, type InsideNodeType, type MatchType } from './allow-list.js';
export { parseAllowCsv, formatAllowCsv, CSV_HEADER, CsvError } from './allow-list-csv.js';
export { parseEdgeTarget, decodeRoutingSegment, normalizePath, encodeServiceRoute, RouteError, type EdgeRoute } from './route.js';
export { edgeConfigXml } from './edge-config.js';
export { TokenKeys } from './token-keys.js';
// The tunnel itself, for the XMPP plane: one multiplexed session (mux-session.ts) per traversal channel, core
// dials, the edge opens the streams.
export { EdgeTunnel, type TunnelHeaders } from './tunnel-edge.js';
export type { MuxDuplex as TunnelStream } from './mux-duplex.js';
export { CoreTunnel, type TunnelRequest, type TunnelAnswer } from './tunnel-core.js';
export { MRA_HEADER_PREFIX } from './tunnel-protocol.js';
