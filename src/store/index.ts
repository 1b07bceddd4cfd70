export type { Fence, Lease, LocalStore, Store, StoreDescription, StoreHealth } from './store.js';
export { MemoryStore } from './memory.js';
export { RedisStore, StoreUnavailable, type RedisStoreOptions } from './redis.js';
export { parseStoreUrl, describeTarget, type StoreTarget } from './store-url.js';
export { sharedSecret, nodeScoped } from './shared.js';
