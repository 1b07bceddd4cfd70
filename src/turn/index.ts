// The TURN plane's public face: the edge's TURN server (RFC 8656) in the native engine, and the credentials core
// hands clients for it (docs/turn.md).
export { attachTurnEdge, type TurnDeps } from './attach.js';
export { TurnError } from './errors.js';
export { TurnServer } from './server.js';
export type { TurnServerOptions, TurnStats, TurnStatus } from './server.js';
export { turnCredentials } from './credentials.js';
export type { TurnCredentials } from './credentials.js';
