// The HTTPS edge proxy's public face: the edge listener and its forwarding through the tunnel (edge), the
// handler of the tunnel's requests, allow list and authorization (core), and the route codec clients and tests
// use to build Jabber's paths.
export { createHttpEdge, type HttpEdge } from './edge-plane.js';
export { attachHttpCore, configuredInsideNodes, serviceRecords, type HttpCore } from './core-plane.js';
export {
  AllowList,
  automaticRules,
  parseRuleUrl,
  type AllowRule,
  type InsideNode,
  type InsideNodeType,
  type MatchType,
} from './allow-list.js';
export { parseAllowCsv, formatAllowCsv, CSV_HEADER, CsvError } from './allow-list-csv.js';
export {
  parseEdgeTarget,
  decodeRoutingSegment,
  normalizePath,
  encodeServiceRoute,
  RouteError,
  type EdgeRoute,
} from './route.js';
export { edgeConfigXml } from './edge-config.js';
export { TokenKeys } from './token-keys.js';
export type { HttpCoreStatus, HttpEdgeStatus } from './status.js';
