export type { Store } from './store.js';
export { MemoryStore } from './memory.js';
