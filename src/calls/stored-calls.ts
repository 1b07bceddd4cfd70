// A node's calls in the cluster's store (docs/cluster.md, "A core's calls in the store"): each call's plain data (its
// legs with their streams: ports, keys, latched remotes, the dialog, each stream's SRTP counters) under a lease per
// call that the node renews while it drives the call. Every write carries the lease's fencing token and is refused
// once another node holds the lease, so two nodes never both drive one call: the one that lost it lets the call go.
// Writes follow the call's changes (coalesced per call) and each renewal (the SRTP counters move on with the media).
import type { Logger } from '../log/index.js';
import type { Fence, Lease, Store } from '../store/index.js';
import type { LegData } from './leg.js';
import type { CallRegistry } from './registry.js';

/** The calls' data, and their leases, by Call-ID: the cluster's (not a node's own), so that another node finds them. */
export const CALLS_NS = 'calls';
export const CALL_LEASES_NS = 'call-leases';

/** A call as the store keeps it. */
export interface StoredCall {
  callId: string;
  /** The node driving it, and its lease's fencing token when it wrote this. */
  owner: string;
  token: number;
  savedAt: number;
  /** The address the call's relay ports are bound on (media.address): where an adopter opens them again. */
  mediaAddress: string | null;
  legs: LegData[];
}

export interface StoredCallsOptions {
  store: Store;
  /** This node's name: the leases' owner. */
  node: string;
  registry: CallRegistry;
  /** A lease not renewed this long lapses and the call may be adopted (default 3 s; renewed every third of it). */
  leaseMs?: number;
  mediaAddress?: string | null;
  /** Another node holds a call's lease now (it lapsed while this node was stalled, and was adopted): let it go. */
  onLost(callId: string): void;
  /**
   * A call whose lease lapsed (its core died), now this node's under a new lease: rebuild its legs and relays from the
   * data and take its signalling over; false (or a throw) when it cannot, and the call is let go. Without it, this
   * node adopts nothing.
   */
  adopt?: (call: StoredCall) => boolean;
  /**
   * Whether this node is the one to adopt `call` (read before its lease is taken): a core adopts only the calls whose
   * media address keepalived moved to it, so that in a cluster of three the core that holds the address adopts.
   */
  mayAdopt?: (call: StoredCall) => boolean;
  log: Logger;
}

/** The Call-ID of a leg key (`<Call-ID>|<client>`). */
const callIdOf = (legKey: string): string => legKey.slice(0, legKey.lastIndexOf('|'));

export class StoredCalls {
  readonly #opts: StoredCallsOptions;
  readonly leaseMs: number;
  /** The leases this node holds, by Call-ID. */
  readonly #held = new Map<string, Lease>();
  /** Calls whose data changed since their last write. */
  readonly #dirty = new Set<string>();
  /** Each call's writes one after the other, so that a late save never lands after its delete. */
  readonly #chains = new Map<string, Promise<void>>();
  readonly #timer: NodeJS.Timeout;
  #flushing = false;
  #closed = false;
  #scanning = false;
  /** Each other node's call as the last scan saw it written: a call written again since is alive, unasked. */
  #written = new Map<string, number>();
  readonly counters = { writes: 0, refused: 0, lost: 0, failed: 0, adopted: 0, unadoptable: 0 };

  constructor(opts: StoredCallsOptions) {
    this.#opts = opts;
    this.leaseMs = opts.leaseMs ?? 3000;
    this.#timer = setInterval(
      () => {
        void this.#renewAll();
        void this.#scan();
      },
      Math.max(100, Math.floor(this.leaseMs / 3)),
    );
    this.#timer.unref();
  }

  /** Leases held now. */
  get held(): number {
    return this.#held.size;
  }

  /** The call's data changed (a message of its dialog passed, a relay latched): written soon, once per burst. */
  touch(callId: string): void {
    if (this.#closed) return;
    this.#dirty.add(callId);
    if (this.#flushing) return;
    this.#flushing = true;
    setImmediate(() => {
      this.#flushing = false;
      for (const id of this.#dirty) this.#enqueue(id, () => this.#save(id));
      this.#dirty.clear();
    });
  }

  /** A leg ended (`key`: its leg key): the call's data goes when its last leg has, with its lease. */
  legEnded(key: string): void {
    const callId = callIdOf(key);
    if (this.#opts.registry.call(callId)) return this.touch(callId);
    this.#dirty.delete(callId);
    if (this.#held.has(callId)) this.#enqueue(callId, () => this.#drop(callId));
  }

  /** Takes over a call this node adopted with `lease` (it rebuilt the legs already): it is written and renewed from now. */
  adopted(callId: string, lease: Lease): void {
    this.#held.set(callId, lease);
    this.touch(callId);
  }

  /** Resolves when every write queued so far is done (a test, a stop). */
  async settled(): Promise<void> {
    while (this.#chains.size > 0 || this.#flushing) {
      await Promise.all([...this.#chains.values()]);
      if (this.#flushing) await new Promise((r) => setImmediate(r));
    }
  }

  /** Stops renewing. The leases lapse by themselves: a stopping node's calls ended already (legEnded dropped them). */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }

  #enqueue(callId: string, op: () => Promise<void>): void {
    const next = (this.#chains.get(callId) ?? Promise.resolve()).then(op).catch((err: unknown) => {
      this.counters.failed++;
      this.#opts.log.warn({ callId, err: (err as Error).message }, 'call could not be written to the store');
    });
    this.#chains.set(callId, next);
    void next.finally(() => {
      if (this.#chains.get(callId) === next) this.#chains.delete(callId);
    });
  }

  #fence(callId: string, lease: Lease): Fence {
    return { ns: CALL_LEASES_NS, key: callId, lease };
  }

  /** The data outlives its lease long enough for a peer to adopt it, and goes by itself if nobody does. */
  get #dataMs(): number {
    return Math.max(60_000, 20 * this.leaseMs);
  }

  async #save(callId: string): Promise<void> {
    const call = this.#opts.registry.call(callId);
    if (!call) return;
    const { store, node } = this.#opts;
    let lease = this.#held.get(callId);
    if (!lease) {
      const got = await store.acquire(CALL_LEASES_NS, callId, node, this.leaseMs);
      if (!got) {
        this.counters.refused++;
        this.#opts.log.warn({ callId }, 'call lease held by another node: this node does not write the call');
        return;
      }
      this.#held.set(callId, (lease = got));
    }
    if (this.#opts.registry.call(callId) === undefined) return this.#drop(callId);
    const data: StoredCall = {
      callId,
      owner: node,
      token: lease.token,
      savedAt: Date.now(),
      mediaAddress: this.#opts.mediaAddress ?? null,
      legs: call.legs.filter((l) => !l.closed).map((l) => l.toData(true)),
    };
    if (await store.setFenced(CALLS_NS, callId, data, this.#fence(callId, lease), this.#dataMs)) this.counters.writes++;
    else this.#lost(callId);
  }

  async #drop(callId: string): Promise<void> {
    const lease = this.#held.get(callId);
    if (!lease) return;
    this.#held.delete(callId);
    await this.#opts.store.setFenced(CALLS_NS, callId, undefined, this.#fence(callId, lease));
    await this.#opts.store.release(CALL_LEASES_NS, callId, lease);
  }

  #lost(callId: string): void {
    if (!this.#held.delete(callId)) return;
    this.counters.lost++;
    this.#opts.log.warn({ callId }, 'call lease taken over by another node: this node lets the call go');
    this.#opts.onLost(callId);
  }

  /**
   * Calls in the store that nobody holds: their core died (or stopped renewing) a lease's time ago. Each is taken with
   * a new, higher fencing token, read again under it (the dead core's last write), and adopted. Every node scans; the
   * lease makes one of them the adopter. The scan reads every call's data: its cost grows with the cluster's calls.
   */
  async #scan(): Promise<void> {
    const adopt = this.#opts.adopt;
    if (!adopt || this.#scanning || this.#closed) return;
    this.#scanning = true;
    const { store, node, registry, log } = this.#opts;
    let written: Map<string, number> | undefined;
    try {
      written = new Map<string, number>();
      for (const [callId, seen] of await store.entries<StoredCall>(CALLS_NS)) {
        if (this.#closed) return;
        if (this.#held.has(callId) || registry.call(callId)) continue;
        // Its owner writes it at every renewal (each scan's interval): only a call not written since the last scan
        // may have lost its owner, and only its lease is asked about.
        written.set(callId, seen.savedAt);
        if (this.#written.get(callId) !== seen.savedAt || this.#opts.mayAdopt?.(seen) === false) continue;
        if (await store.holder(CALL_LEASES_NS, callId)) continue;
        const lease = await store.acquire(CALL_LEASES_NS, callId, node, this.leaseMs);
        if (!lease) continue;
        const call = await store.get<StoredCall>(CALLS_NS, callId);
        let ok = false;
        try {
          ok = call !== undefined && adopt(call);
        } catch (err) {
          log.warn({ callId, err: (err as Error).message }, 'call could not be adopted');
        }
        if (ok) {
          this.counters.adopted++;
          this.adopted(callId, lease);
          continue;
        }
        // Nobody can drive it from here: it goes, rather than be tried again at every scan.
        this.counters.unadoptable++;
        await store.setFenced(CALLS_NS, callId, undefined, this.#fence(callId, lease));
        await store.release(CALL_LEASES_NS, callId, lease);
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'calls in the store could not be scanned for adoption');
    } finally {
      if (written) this.#written = written;
      this.#scanning = false;
    }
  }

  async #renewAll(): Promise<void> {
    for (const [callId, lease] of this.#held)
      this.#enqueue(callId, async () => {
        if (this.#held.get(callId) !== lease) return;
        if (!(await this.#opts.store.renew(CALL_LEASES_NS, callId, lease, this.leaseMs))) return this.#lost(callId);
        // The SRTP counters moved on with the media: written at each renewal.
        await this.#save(callId);
      });
  }
}
