// The calls a node carries, as its stateless proxy sees them go by: one leg per remote client in an INVITE
// dialog (a call between two MRA clients is two legs, as Expressway counts traversal calls). Nothing here
// routes anything; the table is what the status page lists, /metrics counts and maintenance mode drains on.
import { SipError, tagOf, type SipMessage, type SipRequest, type SipResponse } from '../message/index.js';
import { addressOf } from './hop.js';
import type { MediaStatus } from './status.js';

export interface CallLeg {
  callId: string;
  /** user@host of the remote client on this leg. */
  client: string;
  /** user@host of the other party. */
  peer: string;
  /** Who sent the INVITE: the client ('from client') or call control ('to client'). */
  direction: 'from client' | 'to client';
  /** 'setup' until a 2xx answers the INVITE. */
  state: 'setup' | 'active';
  /** The caller's ACK for the 2xx has passed (RFC 3261 §13.2.2.4): the dialog is confirmed. */
  confirmed: boolean;
  since: number;
  answeredAt: number | null;
  /** Last request or response of the dialog seen here: an idle leg is dropped after CallTableOptions.idleMs. */
  lastSeen: number;
  /** The client's connection, where the node knows it (the edge): a connection that closes ends its legs. */
  flow: string | null;
}

export interface CallTableOptions {
  /** An INVITE with no final answer this long is gone (RFC 3261 Timer C, 3 minutes). */
  setupMs?: number;
  /**
   * An answered leg with no request or response seen this long has ended without a BYE here (a client that
   * vanished). Call control refreshes sessions every 30 minutes by default (RFC 4028), so 2 hours is generous.
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
  /** Legs the node carries at most (capacity.calls): a new call beyond them is refused 503 (atCapacity). */
  capacity?: number;
  /** A leg ended (any way, and at close): whatever the node holds for it (its media relays) goes with it. */
  onEnded?: (key: string) => void;
}

/** A leg's key: its Call-ID and its client's user@host. */
export const legKey = (callId: string, client: string): string => `${callId}|${client}`;

/** The key of the leg whose client is in `msg`'s From or To. */
export const clientLeg = (msg: SipMessage, client: 'from' | 'to'): string => legKey(msg.callId(), addressOf(client === 'from' ? msg.from() : msg.to()));

export class CallTable {
  readonly #legs = new Map<string, CallLeg>();
  readonly #setupMs: number;
  readonly #idleMs: number;
  readonly #ackMs: number;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;
  readonly #onEnded: (key: string) => void;
  readonly capacity: number | null;
  /** Legs ended by BYE, by a failed INVITE, by their flow closing, by a 2xx never ACKed, and by the timeouts. */
  readonly ended = { bye: 0, failed: 0, flowClosed: 0, unconfirmed: 0, timedOut: 0 };
  /**
   * Messages of a call whose From, To or Call-ID did not parse. The table reads them after the hop forwarded
   * the message (a response, or what the other node of the pair checked, is not read whole): such a fault is
   * counted here, never answered or thrown into the hop that already passed the message on.
   */
  unreadable = 0;

  constructor(opts: CallTableOptions = {}) {
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

  has(key: string): boolean {
    return this.#legs.has(key);
  }

  /** A new call (an INVITE out of a dialog) while the node carries `capacity` legs already. */
  atCapacity(req: SipRequest): boolean {
    return req.method === 'INVITE' && this.capacity !== null && this.#legs.size >= this.capacity && tagOf(req.to()) === null;
  }

  /**
   * A request this node forwarded; towardClient: it came from call control (core's inside, the edge's core
   * channel) and goes to a client. Only INVITE dialogs are tracked; REGISTER costs one comparison.
   */
  request(req: SipRequest, towardClient: boolean, flow: string | null = null): void {
    if (req.method === 'REGISTER' || (req.method !== 'INVITE' && this.#legs.size === 0)) return;
    this.#read(() => this.#request(req, towardClient, flow));
  }

  #request(req: SipRequest, towardClient: boolean, flow: string | null): void {
    const client = addressOf(towardClient ? req.to() : req.from());
    const key = legKey(req.callId(), client);
    const leg = this.#legs.get(key);
    const now = this.#now();
    if (leg) {
      leg.lastSeen = now;
      if (req.method === 'BYE') this.#end(key, 'bye');
      else if (req.method === 'ACK' && leg.state === 'active') leg.confirmed = true;
      return;
    }
    if (req.method !== 'INVITE' || tagOf(req.to()) !== null) return;
    this.#legs.set(key, {
      callId: req.callId(),
      client,
      peer: addressOf(towardClient ? req.from() : req.to()),
      direction: towardClient ? 'to client' : 'from client',
      state: 'setup',
      confirmed: false,
      since: now,
      answeredAt: null,
      lastSeen: now,
      flow,
    });
  }

  /** A response this node forwarded; fromClient: the client answered a request from call control. */
  response(res: SipResponse, fromClient: boolean): void {
    if (this.#legs.size === 0 || res.status < 200) return;
    // The raw CSeq is enough to tell an INVITE's answer: a REGISTER's 200 is not parsed any further here.
    const cseq = res.header('cseq');
    if (cseq === undefined || !cseq.endsWith('INVITE')) return;
    this.#read(() => this.#response(res, fromClient));
  }

  #response(res: SipResponse, fromClient: boolean): void {
    const key = clientLeg(res, fromClient ? 'to' : 'from');
    const leg = this.#legs.get(key);
    if (!leg) return;
    const now = this.#now();
    leg.lastSeen = now;
    if (res.status < 300) {
      if (leg.state === 'setup') {
        leg.state = 'active';
        leg.answeredAt = now;
      }
    } else if (leg.state === 'setup') this.#end(key, 'failed');
  }

  /** The client's connection closed: its legs cannot go on through this node. */
  flowClosed(flow: string): void {
    if (this.#legs.size === 0) return;
    for (const [key, leg] of this.#legs) if (leg.flow === flow) this.#end(key, 'flowClosed');
  }

  sweep(): void {
    const now = this.#now();
    for (const [key, leg] of this.#legs) {
      if (leg.state === 'active' && !leg.confirmed && now - leg.answeredAt! >= this.#ackMs) this.#end(key, 'unconfirmed');
      else if (leg.state === 'setup' ? now - leg.since >= this.#setupMs : now - leg.lastSeen >= this.#idleMs) this.#end(key, 'timedOut');
    }
  }

  /** The newest legs first, at most `limit` of them (the status page shows a page, not every call). */
  list(limit = 50): CallLeg[] {
    return [...this.#legs.values()].slice(-limit).reverse().map((l) => ({ ...l }));
  }

  close(): void {
    clearInterval(this.#timer);
    const keys = [...this.#legs.keys()];
    this.#legs.clear();
    for (const key of keys) this.#onEnded(key);
  }

  #read(observe: () => void): void {
    try {
      observe();
    } catch (err) {
      if (!(err instanceof SipError)) throw err;
      this.unreadable++;
    }
  }

  #end(key: string, why: keyof CallTable['ended']): void {
    if (!this.#legs.delete(key)) return;
    this.ended[why]++;
    this.#onEnded(key);
  }
}

/** The media section's call figures: legs against capacity.calls (the capacity alarm reads them), relays and their counters. */
export function mediaStatus(calls: CallTable, media?: { relays: number; counters: Record<string, number> }): MediaStatus {
  return { calls: calls.size, capacity: calls.capacity, relays: media?.relays ?? 0, ...media?.counters };
}

/** The SIP section's call figures: `calls` (what drain waits for), the newest legs (with their media), and how legs ended. */
export function callStatus(calls: CallTable, media?: { legStatus(key: string): unknown }): { calls: number; callList: Array<Record<string, unknown>>; callsEnded: CallTable['ended']; callsUnreadable: number } {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return {
    calls: calls.size,
    callList: calls.list().map((l) => ({ client: l.client, peer: l.peer, direction: l.direction, state: l.state, confirmed: l.confirmed, since: iso(l.since), answeredAt: iso(l.answeredAt), callId: l.callId, media: media?.legStatus(legKey(l.callId, l.client)) ?? null })),
    callsEnded: { ...calls.ended },
    callsUnreadable: calls.unreadable,
  };
}
