// The calls a node carries, as its stateless proxy sees them go by: one leg per remote client in an INVITE dialog
// (a call between two MRA clients is two legs, as Expressway counts traversal calls). The legs live in the call
// model's registry (src/calls/); this table is what SIP does to them: which message opens a leg, answers, confirms
// or ends it. Nothing here routes anything.
import { CallRegistry, legKey, type Leg, type LegData, type LegEnd } from '../../calls/index.js';
import { SipError, tagOf, type SipMessage, type SipRequest, type SipResponse } from '../message/index.js';
import { addressOf } from './hop.js';
import type { MediaStatus } from './status.js';

export { legKey };
export type CallLeg = Omit<LegData, 'streams' | 'pendingOffer' | 'muxPair' | 'delayed' | 'key' | 'answered'>;

export interface CallTableOptions {
  /** An INVITE with no final answer this long is gone (RFC 3261 Timer C, 3 minutes). */
  setupMs?: number;
  /** An answered leg with nothing seen this long has ended without a BYE here (a client that vanished). */
  idleMs?: number;
  /** An answered leg whose ACK has not passed this long is over (64·T1, RFC 3261 §13.3.1.4). */
  ackMs?: number;
  /** How often the timeouts are checked. */
  sweepMs?: number;
  now?: () => number;
  /** Legs the node carries at most (capacity.calls): a new call beyond them is refused 503 (atCapacity). */
  capacity?: number;
  /** A leg ended (any way, and at close), after its media closed; `relays`: how many it had open. */
  onEnded?: (key: string, relays: number) => void;
}

/** The key of the leg whose client is in `msg`'s From or To. */
export const clientLeg = (msg: SipMessage, client: 'from' | 'to'): string =>
  legKey(msg.callId(), addressOf(client === 'from' ? msg.from() : msg.to()));

/** A leg a request opened (`fresh`: this request made it; if it is not sent after all, discard it). */
export interface OpenedLeg {
  leg: Leg;
  fresh: boolean;
}

export class CallTable {
  readonly legs: CallRegistry;
  /**
   * Messages of a call whose From, To or Call-ID did not parse. The table reads them after the hop forwarded
   * the message (a response, or what the other node of the pair checked, is not read whole): such a fault is
   * counted here, never answered or thrown into the hop that already passed the message on.
   */
  unreadable = 0;

  constructor(opts: CallTableOptions = {}) {
    const { onEnded, ...rest } = opts;
    this.legs = new CallRegistry({
      ...rest,
      ...(onEnded ? { onEnded: (leg, _why, relays) => onEnded(leg.key, relays) } : {}),
    });
  }

  get size(): number {
    return this.legs.size;
  }

  get capacity(): number | null {
    return this.legs.capacity;
  }

  get ended(): Record<LegEnd, number> {
    return this.legs.ended;
  }

  has(key: string): boolean {
    return this.legs.has(key);
  }

  /** A new call (an INVITE out of a dialog) while the node carries `capacity` legs already. */
  atCapacity(req: SipRequest): boolean {
    return req.method === 'INVITE' && this.legs.atCapacity() && tagOf(req.to()) === null;
  }

  /**
   * The leg a request belongs to, before it is forwarded (its SDP is rewritten for that leg): an INVITE out of a
   * dialog opens one; a request in a dialog finds its own. towardClient: it came from the inside and goes to a client.
   */
  legFor(req: SipRequest, towardClient: boolean, flow: string | null = null): OpenedLeg | undefined {
    if (req.method === 'REGISTER' || (req.method !== 'INVITE' && this.legs.size === 0)) return undefined;
    return this.#read(() => {
      const client = addressOf(towardClient ? req.to() : req.from());
      const existing = this.legs.get(legKey(req.callId(), client));
      if (existing) return { leg: existing, fresh: false };
      if (req.method !== 'INVITE' || tagOf(req.to()) !== null) return undefined;
      const leg = this.legs.open({
        callId: req.callId(),
        client,
        peer: addressOf(towardClient ? req.from() : req.to()),
        direction: towardClient ? 'to client' : 'from client',
        flow,
      });
      return { leg, fresh: true };
    });
  }

  /** The leg a response (or an ACK) names: its client is in From or To. Undefined when there is none or it does not parse. */
  legOf(msg: SipMessage, client: 'from' | 'to'): Leg | undefined {
    if (this.legs.size === 0) return undefined;
    return this.#read(() => this.legs.get(clientLeg(msg, client)));
  }

  /** A leg a request opened was not forwarded after all (refused further on, or the send failed). */
  unsent(opened: OpenedLeg | undefined): void {
    if (opened?.fresh) this.legs.discard(opened.leg.key);
  }

  /**
   * A request this node forwarded; towardClient: it came from call control (core's inside, the edge's core
   * channel) and goes to a client. Only INVITE dialogs are tracked; REGISTER costs one comparison.
   */
  request(req: SipRequest, towardClient: boolean, flow: string | null = null, known?: Leg): void {
    if (req.method === 'REGISTER' || (req.method !== 'INVITE' && this.legs.size === 0)) return;
    const leg = known ?? this.legFor(req, towardClient, flow)?.leg;
    if (!leg || leg.closed) return;
    leg.lastSeen = this.legs.now();
    if (req.method === 'BYE') this.legs.end(leg.key, 'bye');
    else if (req.method === 'ACK' && leg.state === 'active') leg.confirmed = true;
  }

  /** A response this node forwarded; fromClient: the client answered a request from call control. */
  response(res: SipResponse, fromClient: boolean): void {
    if (this.legs.size === 0 || res.status < 200) return;
    // The raw CSeq is enough to tell an INVITE's answer: a REGISTER's 200 is not parsed any further here.
    const cseq = res.header('cseq');
    if (cseq === undefined || !cseq.endsWith('INVITE')) return;
    const leg = this.legOf(res, fromClient ? 'to' : 'from');
    if (!leg) return;
    const now = this.legs.now();
    leg.lastSeen = now;
    if (res.status < 300) {
      if (leg.state === 'setup') {
        leg.state = 'active';
        leg.answeredAt = now;
      }
    } else if (leg.state === 'setup') this.legs.end(leg.key, 'failed');
  }

  /** The client's connection closed: its legs cannot go on through this node. */
  flowClosed(flow: string): void {
    this.legs.flowClosed(flow);
  }

  sweep(): void {
    this.legs.sweep();
  }

  /** The newest legs first, at most `limit` of them (the status page shows a page, not every call). */
  list(limit = 50): CallLeg[] {
    return this.legs.list(limit).map((l) => ({
      callId: l.callId,
      client: l.client,
      peer: l.peer,
      direction: l.direction,
      flow: l.flow,
      state: l.state,
      confirmed: l.confirmed,
      since: l.since,
      answeredAt: l.answeredAt,
      lastSeen: l.lastSeen,
    }));
  }

  close(): void {
    this.legs.close();
  }

  #read<T>(observe: () => T): T | undefined {
    try {
      return observe();
    } catch (err) {
      if (!(err instanceof SipError)) throw err;
      this.unreadable++;
      return undefined;
    }
  }
}

/** The media section's call figures: legs against capacity.calls (the capacity alarm reads them), relays and their counters. */
export function mediaStatus(calls: CallTable, media?: { counters: Record<string, number> }): MediaStatus {
  return { calls: calls.size, capacity: calls.capacity, relays: calls.legs.relays, ...media?.counters };
}

/** The SIP section's call figures: `calls` (what drain waits for), the newest legs (with their media), and how legs ended. */
export function callStatus(
  calls: CallTable,
  media?: { legStatus(leg: Leg): unknown },
): {
  calls: number;
  callList: Array<Record<string, unknown>>;
  callsEnded: CallTable['ended'];
  callsUnreadable: number;
} {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return {
    calls: calls.size,
    callList: calls.legs.list().map((l) => ({
      client: l.client,
      peer: l.peer,
      direction: l.direction,
      state: l.state,
      confirmed: l.confirmed,
      kind: l.kind,
      since: iso(l.since),
      answeredAt: iso(l.answeredAt),
      callId: l.callId,
      media: media?.legStatus(l) ?? null,
    })),
    callsEnded: { ...calls.ended },
    callsUnreadable: calls.unreadable,
  };
}
