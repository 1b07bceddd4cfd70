// Core keeps each leg's SIP dialog (RFC 3261 §12: both parties' tags and remote targets, the route to each side, the
// CSeqs seen) in the call model, so that it can end a call itself: a session that was not refreshed in time (RFC 4028
// session timers) or, where media.timeout_action says so, media that stopped. It then sends a BYE to each side, as each
// would have sent it to the other, and the leg ends with its relays. Everything else of the dialog passes as it came.
import type { Logger } from '../../log/index.js';
import type { DialogData, DialogParty, Leg, LegEnd } from '../../calls/index.js';
import {
  formatNameAddr,
  generateBranch,
  tagOf,
  type NameAddr,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../message/index.js';

export interface DialogKeeperOptions {
  /** The user part of core's own Record-Route entries (mra-<node>): where core stands in a recorded route set. */
  ownUser: string;
  /** Core's Via host towards the edge (it has no address of its own there). */
  node: string;
  /** Sends towards the client: over the traversal link to the edge, which follows the flow token in the Route. */
  toEdge(data: string): boolean;
  /** Sends towards the inside, over the call-control connection the dialog rides; false when it is gone. */
  toInside(
    connectionId: string,
    via: (transport: string, host: string, port: number) => string,
    build: (via: string) => string,
  ): boolean;
  /** The leg is over: the call model ends it (its relays close) and counts why. */
  end(leg: Leg, why: LegEnd): void;
  now?: () => number;
  log: Logger;
}

/** Why core ends a call itself, and what its BYEs say (RFC 3326 Reason). */
const ENDINGS: Record<'sessionExpired' | 'mediaTimeout', { cause: number; text: string }> = {
  sessionExpired: { cause: 408, text: 'Session timer expired without a refresh' },
  mediaTimeout: { cause: 408, text: 'Media timeout' },
};

/** A name-addr without its tag parameter, as From and To carry the party. */
function partyUri(n: NameAddr): string {
  return formatNameAddr({ ...n, params: n.params.filter((p) => p.name.toLowerCase() !== 'tag') });
}

function contactOf(msg: SipMessage): string | null {
  if (!msg.has('contact')) return null;
  const c = msg.contacts();
  return c === '*' || !c[0] ? null : formatNameAddr({ ...c[0], params: [] }).replace(/^<|>$/g, '');
}

/** RFC 4028: Session-Expires (or x) = delta-seconds *(;param). */
function sessionExpires(msg: SipMessage): number | null {
  const v = msg.header('session-expires') ?? msg.header('x');
  const n = v === undefined ? NaN : Number(/^\s*(\d{1,10})/.exec(v)?.[1]);
  return Number.isFinite(n) && n > 0 ? n : null;
}

export class DialogKeeper {
  readonly #opts: DialogKeeperOptions;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #now: () => number;
  /** Calls core ended itself, by why. */
  readonly ended = { sessionExpired: 0, mediaTimeout: 0 };

  constructor(opts: DialogKeeperOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * A request core forwarded on `leg` (fromClient: it came over the link). The INVITE that forms the dialog records
   * both parties as far as they are known; each later request raises its sender's CSeq, and a target refresh (a
   * re-INVITE, an UPDATE) its Contact.
   */
  request(req: SipRequest, leg: Leg, fromClient: boolean, insideConnection: string): void {
    if (req.method === 'ACK' || req.method === 'CANCEL') return;
    const { seq } = req.cseq();
    if (!leg.dialog && req.method === 'INVITE' && tagOf(req.to()) === null) {
      const caller: DialogParty = {
        uri: partyUri(req.from()),
        tag: tagOf(req.from()),
        contact: contactOf(req),
        cseq: seq,
      };
      const callee: DialogParty = { uri: partyUri(req.to()), tag: null, contact: null, cseq: 0 };
      leg.dialog = {
        client: fromClient ? caller : callee,
        inside: fromClient ? callee : caller,
        toClient: [],
        toInside: [],
        insideConnection,
        sessionExpires: null,
        refreshedAt: null,
      };
      return;
    }
    const d = leg.dialog;
    if (!d) return;
    const sender = fromClient ? d.client : d.inside;
    sender.cseq = Math.max(sender.cseq, seq);
    if ((req.method === 'INVITE' || req.method === 'UPDATE') && req.has('contact'))
      sender.contact = contactOf(req) ?? sender.contact;
  }

  /**
   * A response core forwarded on `leg` (fromClient: the client answered). A 2xx to the dialog's INVITE completes
   * it (the answerer's tag and Contact, the route set to each side); a 2xx to an INVITE or UPDATE with Session-Expires
   * (re)arms the session timer.
   */
  response(res: SipResponse, leg: Leg, fromClient: boolean): void {
    const d = leg.dialog;
    if (!d || res.status < 200 || res.status >= 300) return;
    const method = res.cseq().method;
    if (method !== 'INVITE' && method !== 'UPDATE') return;
    const answerer = fromClient ? d.client : d.inside;
    answerer.tag ??= tagOf(res.to());
    if (res.has('contact')) answerer.contact = contactOf(res) ?? answerer.contact;
    if (method === 'INVITE' && d.toClient.length === 0 && d.toInside.length === 0) this.#routes(res, leg, d);
    const se = sessionExpires(res);
    if (se !== null) {
      d.sessionExpires = se;
      d.refreshedAt = this.#now();
      this.#arm(leg, se);
    }
  }

  /** The route set the 2xx recorded, split at core's own entry into the way to each side (RFC 3261 §12.1.1). */
  #routes(res: SipResponse, leg: Leg, d: DialogData): void {
    const rr = res.recordRoutes();
    const own = (n: NameAddr) => n.uri.kind === 'sip' && n.uri.user === this.#opts.ownUser;
    // A call between two remote clients through one core records core twice: the caller's leg is the entry nearest
    // the caller (the last one), the callee's the one nearest the callee (the first).
    const i = leg.direction === 'from client' ? rr.map(own).lastIndexOf(true) : rr.findIndex(own);
    if (i < 0) return;
    const towardAnswerer = rr
      .slice(0, i)
      .reverse()
      .map((n) => formatNameAddr(n));
    const towardCaller = rr.slice(i + 1).map((n) => formatNameAddr(n));
    if (leg.direction === 'from client') {
      d.toInside = towardAnswerer;
      d.toClient = towardCaller;
    } else {
      d.toClient = towardAnswerer;
      d.toInside = towardCaller;
    }
  }

  /**
   * A leg adopted from a dead core: its session timer runs on from the last refresh that core saw (RFC 4028), so an
   * adopted call that is no longer refreshed still ends.
   */
  resume(leg: Leg): void {
    const d = leg.dialog;
    if (d?.sessionExpires == null || d.refreshedAt === null) return;
    this.#arm(leg, Math.max(0, (d.refreshedAt + d.sessionExpires * 1000 - this.#now()) / 1000));
  }

  #arm(leg: Leg, seconds: number): void {
    clearTimeout(this.#timers.get(leg.key));
    const timer = setTimeout(() => {
      this.#timers.delete(leg.key);
      if (!leg.closed) this.hangUp(leg, 'sessionExpired');
    }, seconds * 1000);
    timer.unref();
    this.#timers.set(leg.key, timer);
  }

  /** The leg ended (any way): its session timer goes with it. */
  forget(key: string): void {
    clearTimeout(this.#timers.get(key));
    this.#timers.delete(key);
  }

  /**
   * Ends `leg` from core: a BYE to the client (through the edge, as from the inside party) and one to the inside (as
   * from the client), each with a Reason, then the leg ends in the call model. A dialog core does not know whole (no
   * tags or targets yet) only ends the leg.
   */
  hangUp(leg: Leg, why: 'sessionExpired' | 'mediaTimeout'): void {
    if (leg.closed) return;
    const d = leg.dialog;
    const ending = ENDINGS[why];
    this.ended[why]++;
    if (d?.client.tag && d.inside.tag && d.client.contact && d.inside.contact) {
      const toClient = this.#bye(leg.callId, d.inside, d.client, d.toClient, ending);
      const sentOut = this.#opts.toEdge(
        toClient(`SIP/2.0/TLS ${this.#opts.node}.mra.invalid;branch=${generateBranch()};mra-core=self`),
      );
      const sentIn =
        d.insideConnection !== null &&
        this.#opts.toInside(
          d.insideConnection,
          (t, host, port) => `SIP/2.0/${t.toUpperCase()} ${host}:${port};branch=${generateBranch()};mra-core=self`,
          this.#bye(leg.callId, d.client, d.inside, d.toInside, ending),
        );
      this.#opts.log.warn({ leg: leg.key, why, byeToClient: sentOut, byeToInside: sentIn }, 'sip call ended by core');
    } else this.#opts.log.warn({ leg: leg.key, why }, 'sip call ended by core (dialog not complete: no BYE sent)');
    this.#opts.end(leg, why);
  }

  /** A BYE from `sender` to `target` along `route`, given its Via. */
  #bye(
    callId: string,
    sender: DialogParty,
    target: DialogParty,
    route: readonly string[],
    ending: { cause: number; text: string },
  ): (via: string) => string {
    return (via) =>
      [
        `BYE ${target.contact} SIP/2.0`,
        `Via: ${via}`,
        ...route.map((r) => `Route: ${r}`),
        'Max-Forwards: 70',
        `From: ${sender.uri};tag=${sender.tag}`,
        `To: ${target.uri};tag=${target.tag}`,
        `Call-ID: ${callId}`,
        `CSeq: ${sender.cseq + 1} BYE`,
        `Reason: SIP;cause=${ending.cause};text="${ending.text}"`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
  }

  close(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }
}
