import { randomBytes } from 'node:crypto';
import type { Fence, Lease, Store, StoreDescription, StoreHealth } from './store.js';

const NS_SECRETS = 'cluster-secrets';

/**
 * A secret every peer of the cluster shares (the flow tokens' key, the credentials cache's salt): the first node to
 * ask makes it, the others read it. In memory it is this process's own, as before clusters.
 */
export async function sharedSecret(store: Store, name: string): Promise<Buffer> {
  await store.setIfAbsent(NS_SECRETS, name, randomBytes(32).toString('base64'));
  const v = await store.get<string>(NS_SECRETS, name);
  if (typeof v !== 'string') throw new Error(`cluster secret ${name} could not be read from the store`);
  return Buffer.from(v, 'base64');
}

/**
 * The store as one node sees it: the namespaces named here are the node's own (`<ns>@<node>`), the rest are the
 * cluster's. What a node counts against its own capacity (the registrations it holds) is kept apart this way.
 */
export function nodeScoped(store: Store, node: string, namespaces: readonly string[]): Store {
  const own = new Set(namespaces);
  const n = (ns: string) => (own.has(ns) ? `${ns}@${node}` : ns);
  const local = store.local;
  return {
    shared: store.shared,
    ...(local && {
      local: {
        get: <T>(ns: string, key: string) => local.get<T>(n(ns), key),
        set: <T>(ns: string, key: string, value: T, ttlMs?: number) => local.set(n(ns), key, value, ttlMs),
        delete: (ns: string, key: string) => local.delete(n(ns), key),
        count: (ns: string) => local.count(n(ns)),
      },
    }),
    get: <T>(ns: string, key: string) => store.get<T>(n(ns), key),
    set: <T>(ns: string, key: string, value: T, ttlMs?: number) => store.set(n(ns), key, value, ttlMs),
    setIfAbsent: <T>(ns: string, key: string, value: T, ttlMs?: number) => store.setIfAbsent(n(ns), key, value, ttlMs),
    delete: (ns: string, key: string) => store.delete(n(ns), key),
    incr: (ns: string, key: string, ttlMs: number) => store.incr(n(ns), key, ttlMs),
    entries: <T>(ns: string) => store.entries<T>(n(ns)),
    count: (ns: string) => store.count(n(ns)),
    acquire: (ns: string, key: string, owner: string, ttlMs: number) => store.acquire(n(ns), key, owner, ttlMs),
    renew: (ns: string, key: string, lease: Lease, ttlMs: number) => store.renew(n(ns), key, lease, ttlMs),
    release: (ns: string, key: string, lease: Lease) => store.release(n(ns), key, lease),
    holder: (ns: string, key: string) => store.holder(n(ns), key),
    setFenced: <T>(ns: string, key: string, value: T | undefined, fence: Fence, ttlMs?: number) =>
      store.setFenced(n(ns), key, value, { ...fence, ns: n(fence.ns) }, ttlMs),
    publish: (channel: string, message: string) => store.publish(channel, message),
    subscribe: (channel: string, listener: (m: string) => void) => store.subscribe(channel, listener),
    health: (): StoreHealth => store.health(),
    onReconciled: (listener: (why: string) => void) => store.onReconciled(listener),
    // The node's store is closed by the node, not by a plane's view of it.
    close: async () => {},
    describe: (): StoreDescription => store.describe(),
  };
}
