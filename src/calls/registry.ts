// The calls a node carries: Call (a Call-ID) → Leg (a remote client in it) → MediaStream (a relayed m= line) → the
// engine's Relay. One table behind the B2BUA's media, capacity (capacity.calls), maintenance mode's drain, the
// status page and metrics. It knows nothing of SIP: the signalling plane opens, updates and ends legs.
import { Leg, type LegData, type LegInit } from './leg.js';

/** How a leg ended: BYE, a failed INVITE, its flow closed, a 2xx never ACKed, a timeout. */
export type LegEnd = 'bye' | 'failed' | 'flowClosed' | 'unconfirmed' | 'timedOut' | 'sessionExpired' | 'mediaTimeout';

export interface CallRegistryOptions {
  /** Legs the node carries at most (capacity.calls): a new call beyond them is refused (atCapacity). */
  capacity?: number;
  /** A leg never answered this long is gone (RFC 3261 Timer C, 3 minutes). */
  setupMs?: number;
  /**
   * An answered leg with nothing seen this long has ended unseen (a client that vanished). Call control refreshes
   * sessions every 30 minutes by default (RFC 4028), so 2 hours is generous.
   */
  idleMs?: number;
  /**
   * An answered leg whose ACK has not passed this long is over (64·T1, RFC 3261 §13.3.1.4): its caller never
   * confirmed the 2xx, and a callee that gave up retransmitting it may not send the BYE either.
   */
  ackMs?: number;
  /** How often the timeouts are checked. */
  sweepMs?: number;
  now?: () => number;
  /** A leg ended (any way, and at close), after its media closed: `relays` is how many it had. */
  onEnded?: (leg: Leg, why: LegEnd | 'closed', relays: number) => void;
}

/** The legs of one Call-ID on this node. */
export interface Call {
  callId: string;
  legs: Leg[];
}

export class CallRegistry {
  readonly #legs = new Map<string, Leg>();
  readonly #byCall = new Map<string, Set<Leg>>();
  readonly #setupMs: number;
  readonly #idleMs: number;
  readonly #ackMs: number;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;
  readonly #onEnded: NonNullable<CallRegistryOptions['onEnded']>;
  readonly capacity: number | null;
  readonly ended: Record<LegEnd, number> = {
    bye: 0,
    failed: 0,
    flowClosed: 0,
    unconfirmed: 0,
    timedOut: 0,
    sessionExpired: 0,
    mediaTimeout: 0,
  };

  constructor(opts: CallRegistryOptions = {}) {
    this.#setupMs = opts.setupMs ?? 180_000;
    this.#idleMs = opts.idleMs ?? 2 * 3600_000;
    this.#ackMs = opts.ackMs ?? 32_000;
    this.#now = opts.now ?? Date.now;
    this.#onEnded = opts.onEnded ?? (() => {});
    this.capacity = opts.capacity ?? null;
    this.#timer = setInterval(() => this.sweep(), opts.sweepMs ?? 30_000);
    this.#timer.unref();
  }

  get size(): number {
    return this.#legs.size;
  }

  now(): number {
    return this.#now();
  }

  get(key: string): Leg | undefined {
    return this.#legs.get(key);
  }

  has(key: string): boolean {
    return this.#legs.has(key);
  }

  /** A new call would take the node past `capacity` legs. */
  atCapacity(): boolean {
    return this.capacity !== null && this.#legs.size >= this.capacity;
  }

  /** Opens a leg (the INVITE that forms its dialog is on its way); an existing one is returned as it is. */
  open(init: LegInit): Leg {
    const leg = new Leg(init, this.#now());
    const had = this.#legs.get(leg.key);
    if (had) return had;
    this.#add(leg);
    return leg;
  }

  #add(leg: Leg): void {
    this.#legs.set(leg.key, leg);
    let set = this.#byCall.get(leg.callId);
    if (!set) this.#byCall.set(leg.callId, (set = new Set()));
    set.add(leg);
  }

  /** A leg as another node left it in the store (an adopted call), streams to be restored on it; null when it is here already. */
  restore(data: LegData): Leg | null {
    if (this.#legs.has(data.key)) return null;
    const leg = Leg.fromData(data);
    this.#add(leg);
    return leg;
  }

  /** A leg whose INVITE never left this node: gone, with its media, and counted nowhere. */
  discard(key: string): void {
    const leg = this.#remove(key);
    leg?.close();
  }

  /** The leg is over: its media closes, `ended[why]` counts it. */
  end(key: string, why: LegEnd): void {
    const leg = this.#remove(key);
    if (!leg) return;
    this.ended[why]++;
    this.#onEnded(leg, why, leg.close());
  }

  /** The client's connection closed: its legs cannot go on through this node. */
  flowClosed(flow: string): void {
    if (this.#legs.size === 0) return;
    for (const [key, leg] of this.#legs) if (leg.flow === flow) this.end(key, 'flowClosed');
  }

  sweep(): void {
    const now = this.#now();
    for (const [key, leg] of this.#legs) {
      if (leg.state === 'active' && !leg.confirmed && now - leg.answeredAt! >= this.#ackMs)
        this.end(key, 'unconfirmed');
      else if (leg.state === 'setup' ? now - leg.since >= this.#setupMs : now - leg.lastSeen >= this.#idleMs)
        this.end(key, 'timedOut');
    }
  }

  /** The legs of a Call-ID. */
  call(callId: string): Call | undefined {
    const legs = this.#byCall.get(callId);
    return legs ? { callId, legs: [...legs] } : undefined;
  }

  /** The newest legs first, at most `limit` of them. */
  list(limit = 50): Leg[] {
    return [...this.#legs.values()].slice(-limit).reverse();
  }

  /** Every leg as plain data (for a store or a dump). */
  toData(): LegData[] {
    return [...this.#legs.values()].map((l) => l.toData());
  }

  /** Relays open across every leg. */
  get relays(): number {
    let n = 0;
    for (const leg of this.#legs.values()) n += leg.relays;
    return n;
  }

  close(): void {
    clearInterval(this.#timer);
    for (const key of [...this.#legs.keys()]) {
      const leg = this.#remove(key)!;
      this.#onEnded(leg, 'closed', leg.close());
    }
  }

  #remove(key: string): Leg | undefined {
    const leg = this.#legs.get(key);
    if (!leg) return undefined;
    this.#legs.delete(key);
    const set = this.#byCall.get(leg.callId);
    set?.delete(leg);
    if (set?.size === 0) this.#byCall.delete(leg.callId);
    return leg;
  }
}
