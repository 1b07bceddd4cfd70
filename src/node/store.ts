import { readFileSync } from 'node:fs';
import type { Logger } from '../log/index.js';
import { MemoryStore, RedisStore, StoreUnavailable, parseStoreUrl, type Store } from '../store/index.js';

/** What a node's configuration says of its store (edge and core share the fields; the relay keeps memory). */
export interface StoreSettings {
  store: string;
  cluster: {
    name: string;
    store_password_file?: string | undefined;
    store_timeout_ms: number;
    store_connect_timeout_s: number;
    on_store_unreachable: 'fail' | 'degraded';
  };
}

/**
 * The node's store: memory, or Redis shared by the cluster. Redis that does not answer at start is a StoreUnavailable
 * (the CLI exits 1 with its message), unless cluster.on_store_unreachable is `degraded`: then the node starts, the
 * store alarm is up, and it reconciles when Redis answers (docs/cluster.md).
 */
export async function openStore(cfg: StoreSettings, log: Logger): Promise<Store> {
  const target = parseStoreUrl(cfg.store);
  if (target.kind === 'memory') return new MemoryStore();
  const c = cfg.cluster;
  const password = c.store_password_file ? readFileSync(c.store_password_file, 'utf8').trim() : undefined;
  const store = new RedisStore({
    target,
    cluster: c.name,
    commandTimeoutMs: c.store_timeout_ms,
    probeMs: 1000,
    ...(password !== undefined ? { password } : {}),
    log,
  });
  try {
    await store.connect(c.store_connect_timeout_s * 1000);
  } catch (err) {
    if (!(err instanceof StoreUnavailable) || c.on_store_unreachable !== 'degraded') {
      await store.close();
      throw err instanceof StoreUnavailable
        ? new StoreUnavailable(
            `${err.message}; start Redis, check store: and cluster.store_password_file, or set cluster.on_store_unreachable: degraded`,
          )
        : err;
    }
    log.error(
      { err: err.message },
      'store unreachable at start: starting degraded (cluster.on_store_unreachable), serving from this node alone until it answers',
    );
  }
  return store;
}
