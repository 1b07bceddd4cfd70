import type { Logger } from '../log/index.js';
import type { Store } from '../store/index.js';
import type { IntrusionSharing, SharedBlock } from './intrusion.js';

const NS_FAILURES = 'intrusion:failures';
const NS_BLOCKED = 'intrusion:blocked';
const CHANNEL = 'intrusion-blocked';

/**
 * Intrusion protection per cluster, as Expressway counts it (docs/cluster.md): each failure is one increment of a
 * counter in the shared store (per category and address, its window beginning with the first failure), and the edge
 * whose increment reaches the trigger stores the block (with the block time as its TTL) and announces it, so an
 * attacker spreading over several edges is blocked on all of them. Notices are at most once: a peer also reads the
 * blocks in force when it starts and again every `sweepMs`.
 */
export function storeSharing(store: Store, node: string, log: Logger, sweepMs = 5000): IntrusionSharing {
  const listeners: Array<(b: SharedBlock) => void> = [];
  const tell = (b: SharedBlock) => {
    for (const l of listeners) l(b);
  };
  const read = async () => {
    try {
      for (const [, b] of await store.entries<SharedBlock>(NS_BLOCKED)) tell(b);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'intrusion protection: blocks could not be read from the store');
    }
  };
  const unsubscribe = store.subscribe(CHANNEL, (message) => {
    try {
      const b = JSON.parse(message) as SharedBlock;
      if (typeof b?.address === 'string' && typeof b.until === 'number') tell(b);
    } catch {
      // not a notice of ours
    }
  });
  const timer = setInterval(() => void read(), sweepMs);
  timer.unref();
  return {
    node,
    count: (key, windowMs) => store.incr(NS_FAILURES, key, windowMs),
    reset: async (key) => void (await store.delete(NS_FAILURES, key)),
    async announce(b) {
      const ttl = b.until - Date.now();
      if (ttl <= 0) return;
      await store.set(NS_BLOCKED, b.address, b, ttl);
      await store.publish(CHANNEL, JSON.stringify(b));
    },
    onBlock(listener) {
      listeners.push(listener);
      // The blocks already in force, once the first listener is there (the node starting).
      if (listeners.length === 1) void read();
    },
    close() {
      clearInterval(timer);
      unsubscribe();
    },
  };
}
