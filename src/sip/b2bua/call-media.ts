// Where a node's SIP meets its call model: which message carries an offer or an answer (RFC 3264), the delayed offer
// (an INVITE without SDP: the offer in the 2xx, the answer in the ACK), and what a failed rewrite costs. The SDP is
// translated into neutral streams once (src/calls/sdp-translate.ts) and back; what each stream becomes is the node's
// policy (edge-media.ts, core-media.ts), which opens, re-points, keys and closes the leg's relays.
import type { Logger } from '../../log/index.js';
import type { LegOptions, MediaEngine } from '../../media/index.js';
import {
  rewriteBody,
  type Leg,
  type LegData,
  type MediaStream,
  type SessionDescription,
  type StreamEvents,
} from '../../calls/index.js';
import type { SipMessage, SipRequest, SipResponse } from '../message/index.js';
import { answeredMethod, carriesAnswer, carriesOffer, hasSdp, offerFault, type OfferFault } from './sdp-hop.js';

/**
 * One side of a node for a leg (the client's, or the inside's): what an offer from that side becomes on its way
 * to the other, and what an answer from it becomes. Neutral streams in, neutral streams out; no SDP text.
 */
export interface MediaPolicy {
  offer(leg: Leg, d: SessionDescription): SessionDescription;
  answer(leg: Leg, d: SessionDescription): SessionDescription;
}

/**
 * ICE ends at the node: each side is told the relay's address and port, which are the only candidates that reach the
 * other side through the pair (core re-keys SRTP, so media cannot go end to end). Candidates from one side would name
 * addresses the other cannot reach (an inside phone's, a client's behind its NAT), so ICE attributes are removed and
 * both sides use plain c=/m= media (RFC 8839: an answer without ICE means no ICE).
 */
function withoutIce(d: SessionDescription): SessionDescription {
  return { ...d, iceLite: false, streams: d.streams.map((s) => (s.ice ? { ...s, ice: undefined } : s)) };
}

export interface CallMediaOptions {
  engine: MediaEngine;
  log: Logger;
  /** An answered call's stream went silent for media.timeout_s: what the node does beyond reporting it (core: hang up). */
  onTimeout?: (leg: Leg) => void;
  /** Who a refused offer's Warning names (RFC 3261 §20.43 warn-agent): the node's host name or pseudonym. */
  agent?: string;
  /** A leg's media changed by itself (a relay latched or re-latched): core writes the call to the store again. */
  onChange?: (leg: Leg) => void;
}

export class CallMedia {
  protected readonly engine: MediaEngine;
  protected readonly log: Logger;
  readonly #onTimeout: ((leg: Leg) => void) | undefined;
  readonly #onChange: ((leg: Leg) => void) | undefined;
  readonly #agent: string;
  readonly counters = {
    relaysOpened: 0,
    relaysClosed: 0,
    mediaTimeouts: 0,
    authFailures: 0,
    offersRefused: 0,
    answersUnusable: 0,
  };

  constructor(opts: CallMediaOptions) {
    this.engine = opts.engine;
    this.log = opts.log;
    this.#onTimeout = opts.onTimeout;
    this.#onChange = opts.onChange;
    this.#agent = opts.agent ?? 'mra-edge';
  }

  /** Opens stream `index` of `leg` (closing what was there): throws the engine's error (an exhausted range) as is. */
  protected openStream(
    leg: Leg,
    at: { index: number; media: string },
    a: LegOptions,
    b: LegOptions,
    fixedRemote?: string,
  ): MediaStream {
    const stream = leg.openStream(this.engine, at, a, b, this.#events(leg), fixedRemote);
    this.counters.relaysOpened++;
    return stream;
  }

  /**
   * Opens `leg`'s streams again from the data another node stored (an adopted call): the same ports on `bindAddress`,
   * the same keys and SRTP counters. Throws the engine's error (ports in use) as it is; what opened stays on the leg.
   */
  restore(leg: Leg, data: LegData, bindAddress: string | null): void {
    for (const d of data.streams) {
      leg.restoreStream(this.engine, d, this.#events(leg), bindAddress);
      this.counters.relaysOpened++;
    }
  }

  /** What a leg's relays report: counted and logged under the leg's key. */
  #events(leg: Leg): StreamEvents {
    return {
      authFailures: (stream, side, count) => {
        this.counters.authFailures += count;
        this.log.warn(
          { plane: 'media', leg: leg.key, stream: stream.index, side, count },
          'media SRTP authentication failures: packets dropped',
        );
      },
      // Reported; ended only where the node is told to (core's media.timeout_action: hangup): a call on hold may
      // be silent, and otherwise the SIP dialog (BYE, session timers, flow) decides its end.
      timeout: (stream, side, silentMs) => {
        if (!leg.answered) return;
        this.counters.mediaTimeouts++;
        this.log.warn(
          { plane: 'media', leg: leg.key, stream: stream.index, side, silentMs },
          'media timeout on an answered call',
        );
        this.#onTimeout?.(leg);
      },
      latched: () => this.#onChange?.(leg),
      closed: () => this.counters.relaysClosed++,
    };
  }

  /**
   * Rewrites the offer of an INVITE on its way through, for `leg`: undefined when there is none, else whether it is
   * refused and with what (400 for SDP that does not parse, 488 for SDP the call cannot use, each with a Warning; 503
   * when no relay opens). A refused offer leaves no relay
   * behind on a new leg, but a live call's (a refused re-INVITE) stay. An INVITE without SDP starts a delayed offer;
   * the ACK that ends one carries its answer, rewritten by `side.answer`.
   */
  offer(req: SipRequest, leg: Leg | undefined, side: () => MediaPolicy): { fault?: OfferFault } | undefined {
    if (!leg) return undefined;
    if (req.method === 'ACK') return void this.#answerInAck(req, leg, side);
    if (req.method === 'INVITE' && !hasSdp(req)) {
      leg.delayed = 'offer';
      return undefined;
    }
    if (!carriesOffer(req)) return undefined;
    // A PRACK during a delayed offer answers the offer a reliable 18x carried (RFC 3262 §5); otherwise it offers.
    if (req.method === 'PRACK' && leg.delayed !== undefined) {
      leg.delayed = undefined;
      return void this.#unusable(leg, req, (d) => withoutIce(side().answer(leg, d)));
    }
    if (req.method === 'INVITE') leg.delayed = undefined;
    const fresh = !leg.hasMedia;
    try {
      req.body = rewriteBody(req.body, (d) => withoutIce(side().offer(leg, d)));
      return {};
    } catch (err) {
      this.counters.offersRefused++;
      if (fresh) leg.closeMedia();
      return { fault: offerFault(err, this.#agent) };
    }
  }

  /** The ACK of a delayed offer's 2xx: its SDP is the answer. Another ACK's body is none of the media's business. */
  #answerInAck(req: SipRequest, leg: Leg, side: () => MediaPolicy): void {
    if (!hasSdp(req) || leg.delayed !== 'answer') return;
    leg.delayed = undefined;
    this.#unusable(leg, req, (d) => withoutIce(side().answer(leg, d)));
  }

  /** Runs a rewrite of SDP that cannot be refused (an answer, or a delayed offer in a 2xx): if it fails, the leg has no media and the message passes as it came. */
  #unusable(leg: Leg, msg: SipMessage, decide: (d: SessionDescription) => SessionDescription): void {
    try {
      msg.body = rewriteBody(msg.body, decide);
    } catch (err) {
      // SDP it cannot use, or a relay that cannot open (an exhausted range): neither is reason to lose the message.
      if (!(err instanceof Error)) throw err;
      this.counters.answersUnusable++;
      leg.closeMedia();
      this.log.warn({ leg: leg.key, reason: err.message }, 'sip SDP unusable: media not relayed');
    }
  }

  /**
   * Rewrites the answer an INVITE's 18x/2xx carries (or, after an INVITE without SDP, the offer: `side.offer`, the
   * answer then due in the ACK); SDP that cannot be used closes the leg's relays and passes as it came (no media).
   */
  answer(res: SipResponse, legOf: () => Leg | undefined, side: () => MediaPolicy): void {
    if (!carriesAnswer(res)) {
      // A delayed offer that failed leaves nothing to wait for.
      if (res.status >= 300 && answeredMethod(res) === 'INVITE') {
        const leg = legOf();
        if (leg?.delayed === 'offer') leg.delayed = undefined;
      }
      return;
    }
    const leg = legOf();
    if (!leg) return;
    if (leg.delayed !== 'offer' || answeredMethod(res) !== 'INVITE')
      return this.#unusable(leg, res, (d) => withoutIce(side().answer(leg, d)));
    this.#unusable(leg, res, (d) => withoutIce(side().offer(leg, d)));
    if (res.status >= 200 && leg.hasMedia) leg.delayed = 'answer';
  }

  /**
   * Per leg, for the call list: each stream's packets and bytes both ways, RTP loss, drops, latched remotes, and
   * the path that carries the RTP each side receives (`kernel` or `user`, docs/media.md "Two paths").
   */
  legStatus(leg: Leg): Array<Record<string, unknown>> | undefined {
    if (!leg.hasMedia) return undefined;
    const out: Array<Record<string, unknown>> = [];
    for (const stream of leg.streams) {
      const st = stream?.stats();
      if (!stream || !st) continue;
      out.push({
        stream: stream.index,
        media: stream.media,
        ports: stream.relay.ports,
        a: legFigures(st.a, stream.latched('a')),
        b: legFigures(st.b, stream.latched('b')),
        authFailures: stream.authFailures,
      });
    }
    return out;
  }
}

function legFigures(
  l: ReturnType<MediaStream['relay']['stats']>['a'],
  latched: string | null,
): Record<string, unknown> {
  const d = l.drops;
  // Loss of the RTP this leg receives (RFC 3550 A.3, from sequence numbers), as a share of what was sent to it.
  const lossPercent = l.rtpExpected > 0 ? Math.round((1000 * l.rtpLost) / l.rtpExpected) / 10 : 0;
  return {
    packetsIn: l.packetsIn,
    bytesIn: l.bytesIn,
    packetsOut: l.packetsOut,
    bytesOut: l.bytesOut,
    rtcpIn: l.rtcpIn,
    rtcpOut: l.rtcpOut,
    rtpExpected: l.rtpExpected,
    rtpLost: l.rtpLost,
    lossPercent,
    authFailures: d.auth,
    dropped: d.invalid + d.auth + d.replay + d.foreign + d.noRemote + d.protect + d.send,
    latched,
    path: l.path,
  };
}
