import { BlockList, isIP } from 'node:net';
import type { Logger } from '../log/index.js';

/** The categories as the seeds name them; each has its own trigger, window and block time. */
export type IntrusionCategory = 'http_auth' | 'allow_list' | 'tunnel_auth' | 'xmpp';

export interface CategorySettings {
  enabled: boolean;
  /** Failures within the window that block the address. */
  trigger: number;
  windowMs: number;
  blockMs: number;
}

/** The `intrusion` status section: addresses blocked now, failures by category, blocks since the start. */
export interface IntrusionStatus {
  /** `by`: the peer whose count blocked it, for a block this node learnt from the cluster. */
  blocked: Array<{ address: string; category: IntrusionCategory; since: string; until: string; by?: string }>;
  failures: Record<IntrusionCategory, number>;
  /** Blocks this node's own count decided. */
  blocks: number;
  /** Per cluster: failures are counted in the shared store, and a block anywhere is a block on every edge. */
  shared?: boolean;
}

/** An address blocked, as peers tell each other. */
export interface SharedBlock {
  address: string;
  category: IntrusionCategory;
  since: number;
  until: number;
  by: string;
}

/**
 * Counting per cluster (intrusion-shared.ts): each failure counted in the store, a block announced to every peer.
 * Without it the node counts alone (the embedded default).
 */
export interface IntrusionSharing {
  /** Counts one failure of `key` in the cluster; resolves to the count in the window that began with the first. */
  count(key: string, windowMs: number): Promise<number>;
  /** Forgets a key's count (the address was blocked). */
  reset(key: string): Promise<void>;
  /** Stores the block and tells every peer. */
  announce(block: SharedBlock): Promise<void>;
  /** Blocks the peers announced (and those in force when this node started, and those a sweep finds). */
  onBlock(listener: (block: SharedBlock) => void): void;
  readonly node: string;
  close(): void;
}

interface Blocked {
  category: IntrusionCategory;
  since: number;
  until: number;
  by?: string;
}

/**
 * Automated intrusion protection on the edge: per source address, `trigger` failures of one category within
 * `window` block the address for `block`. Exempted addresses and CIDR blocks (a NAT many users share) are
 * counted for the status page but never blocked.
 */
export class IntrusionProtection {
  readonly #failures = new Map<string, number[]>();
  readonly #blocked = new Map<string, Blocked>();
  readonly #exempt = new BlockList();
  readonly #timer: NodeJS.Timeout;
  readonly #totals: Record<IntrusionCategory, number> = { http_auth: 0, allow_list: 0, tunnel_auth: 0, xmpp: 0 };
  #blocks = 0;

  constructor(
    private readonly categories: Partial<Record<IntrusionCategory, CategorySettings>>,
    exemptions: readonly string[],
    private readonly log: Logger,
    private readonly sharing?: IntrusionSharing,
  ) {
    for (const e of exemptions) addExemption(this.#exempt, e);
    this.#timer = setInterval(() => this.#sweep(), 1000);
    this.#timer.unref();
    sharing?.onBlock((b) => this.#learn(b));
  }

  close(): void {
    clearInterval(this.#timer);
    this.sharing?.close();
  }

  isBlocked(address: string, now = Date.now()): boolean {
    const b = this.#blocked.get(normal(address));
    if (!b) return false;
    if (b.until > now) return true;
    this.#release(normal(address), b);
    return false;
  }

  isExempt(address: string): boolean {
    const a = normal(address);
    const family = isIP(a);
    return family !== 0 && this.#exempt.check(a, family === 6 ? 'ipv6' : 'ipv4');
  }

  /** Counts one failure; returns true when this failure blocked the address. */
  fail(category: IntrusionCategory, address: string, now = Date.now()): boolean {
    const s = this.categories[category];
    this.#totals[category]++;
    if (!s?.enabled || !address) return false;
    const a = normal(address);
    if (this.isExempt(a) || this.isBlocked(a, now)) return false;
    const key = `${category}|${a}`;
    if (this.sharing) {
      // The cluster's count decides, a round trip later: the failure that reaches the trigger on any edge blocks.
      void this.#failShared(this.sharing, category, s, a, key).catch((err: Error) =>
        this.log.warn(
          { err: err.message, address: a, category },
          'intrusion protection: failure not counted in the store',
        ),
      );
      return false;
    }
    const times = (this.#failures.get(key) ?? []).filter((t) => t > now - s.windowMs);
    times.push(now);
    if (times.length < s.trigger) {
      this.#failures.set(key, times);
      return false;
    }
    this.#failures.delete(key);
    this.#blocked.set(a, { category, since: now, until: now + s.blockMs });
    this.#blocks++;
    this.log.warn(
      { address: a, category, failures: times.length, blockS: s.blockMs / 1000 },
      'intrusion protection: address blocked',
    );
    return true;
  }

  status(): IntrusionStatus {
    return {
      blocked: [...this.#blocked].map(([address, b]) => ({
        address,
        category: b.category,
        since: new Date(b.since).toISOString(),
        until: new Date(b.until).toISOString(),
        ...(b.by ? { by: b.by } : {}),
      })),
      failures: { ...this.#totals },
      blocks: this.#blocks,
      ...(this.sharing ? { shared: true } : {}),
    };
  }

  async #failShared(
    sharing: IntrusionSharing,
    category: IntrusionCategory,
    s: CategorySettings,
    a: string,
    key: string,
  ): Promise<void> {
    const n = await sharing.count(key, s.windowMs);
    if (n < s.trigger || this.isBlocked(a)) return;
    const now = Date.now();
    const block: SharedBlock = { address: a, category, since: now, until: now + s.blockMs, by: sharing.node };
    this.#blocked.set(a, { category, since: now, until: block.until });
    this.#blocks++;
    this.log.warn(
      { address: a, category, failures: n, blockS: s.blockMs / 1000, cluster: true },
      'intrusion protection: address blocked',
    );
    await sharing.reset(key);
    await sharing.announce(block);
  }

  /** A block a peer decided (or one this node announced, heard back): in force here too, unless exempt here. */
  #learn(b: SharedBlock): void {
    const a = normal(b.address);
    if (b.until <= Date.now() || this.isExempt(a) || this.#blocked.has(a)) return;
    this.#blocked.set(a, { category: b.category, since: b.since, until: b.until, by: b.by });
    this.log.warn(
      { address: a, category: b.category, by: b.by, until: new Date(b.until).toISOString() },
      'intrusion protection: address blocked by a peer of the cluster',
    );
  }

  #release(address: string, b: Blocked): void {
    this.#blocked.delete(address);
    this.log.info({ address, category: b.category }, 'intrusion protection: address released');
  }

  #sweep(now = Date.now()): void {
    for (const [a, b] of this.#blocked) if (b.until <= now) this.#release(a, b);
    for (const [key, times] of this.#failures) {
      const category = key.slice(0, key.indexOf('|')) as IntrusionCategory;
      const win = this.categories[category]?.windowMs ?? 0;
      if (!times.some((t) => t > now - win)) this.#failures.delete(key);
    }
  }
}

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 client behind a dual-stack socket. */
function normal(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

export function addExemption(list: BlockList, entry: string): void {
  const [addr, bits] = entry.split('/') as [string, string?];
  const family = isIP(addr);
  if (family === 0) throw new Error(`intrusion exemption "${entry}" is not an address or CIDR block`);
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (bits === undefined) return list.addAddress(addr, type);
  const n = Number(bits);
  if (!/^\d{1,3}$/.test(bits) || n > (family === 6 ? 128 : 32))
    throw new Error(`intrusion exemption "${entry}" has a bad prefix length`);
  list.addSubnet(addr, n, type);
}
