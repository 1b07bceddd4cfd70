export { startEdge } from './edge.js';
export { startCore } from './core.js';
export type { RunningNode } from './running-node.js';
