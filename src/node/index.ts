export { startEdge } from './edge.js';
export { startCore } from './core.js';
export { startRelay } from './relay.js';
export type { RunningNode } from './running-node.js';
export { VERSION } from './version.js';
