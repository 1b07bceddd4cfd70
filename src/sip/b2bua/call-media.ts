// The relays of a node's call legs: one relay per relayed m= line of a leg, opened as the leg's SDP goes by and
// closed when the leg ends (BYE, failure, flow closed, timeout: the call table's onEnded), when an answer turns
// a stream off, or when an offer that opened them is refused. Both nodes' rewrites (edge-media.ts, core-media.ts)
// build on this; the SDP text never reaches the media plane, only addresses, ports and keys.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../log/index.js';
import type { Endpoint, LegName, LegOptions, LegStats, MediaEngine, Relay, SrtpKey } from '../../media/index.js';
import { SipError, type SipRequest, type SipResponse } from '../message/index.js';
import type { MediaDescription, Sdp } from '../sdp/index.js';
import { carriesAnswer, carriesOffer, hasSdp, offerFault, rewriteSdp } from './sdp-hop.js';

/**
 * One side of a node for a leg (the client's, or the inside's): how an offer from that side is rewritten, and how an
 * answer from it is. Which one a body is follows RFC 3264: an INVITE's SDP is the offer and its 18x/2xx the answer;
 * an INVITE without SDP (a delayed offer, as Unified CM sends in re-INVITEs) gets the offer in its 2xx and the
 * answer in the ACK.
 */
export interface SdpSide {
  offer(sdp: Sdp, key: string): void;
  answer(sdp: Sdp, key: string): void;
}

/** One relayed m= line: its relay and what the rewrites must remember between offer and answer. */
export interface Stream {
  relay: Relay;
  /** The remote a mux or unlatched leg was created with: a different one in a later SDP needs a new relay. */
  fixedRemote?: string;
  /** Core: the key it sends the client with (its a=crypto towards the edge), and the tag it answers under. */
  edgeKey?: SrtpKey;
  edgeTag?: number;
  /** Core: the key it sends the inside with, when the inside offered SRTP. */
  insideKey?: SrtpKey;
  insideTag?: number;
  latched: Partial<Record<LegName, string>>;
  authFailures: number;
}

export interface MediaSession {
  key: string;
  streams: Array<Stream | undefined>;
  /** The client's offer on the edge, kept until the answer opens the relays. */
  clientOffer?: Array<{ rtp: Endpoint; rtcp?: Endpoint; rtcpMux: boolean } | undefined>;
  /** The edge's mux pair for this leg (all its streams; the core's source address tells them apart). */
  muxPair?: number;
  answered: boolean;
  opened: number;
}

/** What a relay carries: RTP profiles only (RTP/AVP, RTP/AVPF, RTP/SAVP, RTP/SAVPF); DTLS or BFCP lines are turned off. */
export const relayable = (m: MediaDescription): boolean => !m.disabled && /^RTP\/S?AVPF?$/.test(m.proto);
export const secureProto = (proto: string): string => proto.replace(/^RTP\/AVP/, 'RTP/SAVP');
export const plainProto = (proto: string): string => proto.replace(/^RTP\/SAVP/, 'RTP/AVP');

export function endpoints(m: MediaDescription, address = m.address): { rtp: Endpoint; rtcp?: Endpoint } {
  const rtp = { address, port: m.port };
  if (m.rtcpMux) return { rtp, rtcp: rtp };
  const rtcpPort = m.rtcpPort;
  return rtcpPort === undefined ? { rtp } : { rtp, rtcp: { address, port: rtcpPort } };
}

const WILDCARD = new Set(['0.0.0.0', '']);
export const isWildcard = (address: string | undefined): boolean => address === undefined || WILDCARD.has(address);

export interface CallMediaOptions {
  engine: MediaEngine;
  log: Logger;
  /** Whether the call table still has this leg: a session whose leg never came (the INVITE was not sent) is let go. */
  hasLeg: (key: string) => boolean;
  sweepMs?: number;
}

export class CallMedia {
  protected readonly engine: MediaEngine;
  protected readonly log: Logger;
  readonly #sessions = new Map<string, MediaSession>();
  readonly #hasLeg: (key: string) => boolean;
  readonly #timer: NodeJS.Timeout;
  /** Legs in a delayed-offer exchange: the offer is due in the INVITE's answer, then the answer in the ACK. */
  readonly #delayed = new Map<string, 'offer' | 'answer'>();
  readonly counters = { relaysOpened: 0, relaysClosed: 0, mediaTimeouts: 0, authFailures: 0, offersRefused: 0, answersUnusable: 0 };

  constructor(opts: CallMediaOptions) {
    this.engine = opts.engine;
    this.log = opts.log;
    this.#hasLeg = opts.hasLeg;
    const sweepMs = opts.sweepMs ?? 30_000;
    this.#timer = setInterval(() => this.#sweep(sweepMs), sweepMs);
    this.#timer.unref();
  }

  get relays(): number {
    let n = 0;
    for (const s of this.#sessions.values()) n += s.streams.filter(Boolean).length;
    return n;
  }

  has(key: string): boolean {
    return this.#sessions.has(key);
  }

  protected session(key: string, create: boolean): MediaSession | undefined {
    let s = this.#sessions.get(key);
    if (!s && create) this.#sessions.set(key, (s = { key, streams: [], answered: false, opened: Date.now() }));
    return s;
  }

  /** Opens stream `index` of a leg (closing what was there): throws the engine's error (exhausted range) as is. */
  protected openStream(s: MediaSession, index: number, a: LegOptions, b: LegOptions, fixedRemote?: string): Stream {
    this.closeStream(s, index);
    const relay = this.engine.createRelay({ id: `${s.key}#${index}#${randomUUID()}`, a, b });
    const stream: Stream = { relay, fixedRemote, latched: {}, authFailures: 0 };
    relay.on('latched', (e) => (stream.latched[e.leg] = `${e.address}:${e.port}`));
    relay.on('authFailures', (e) => {
      stream.authFailures += e.count;
      this.counters.authFailures += e.count;
      this.log.warn({ plane: 'media', leg: s.key, stream: index, side: e.leg, count: e.count }, 'media SRTP authentication failures: packets dropped');
    });
    // Report only: a call on hold may be silent, and the SIP dialog (BYE, session timers, flow) decides its end.
    relay.on('timeout', (e) => {
      if (!s.answered) return;
      this.counters.mediaTimeouts++;
      this.log.warn({ plane: 'media', leg: s.key, stream: index, side: e.leg, silentMs: e.silentMs }, 'media timeout on an answered call');
    });
    s.streams[index] = stream;
    this.counters.relaysOpened++;
    return stream;
  }

  protected closeStream(s: MediaSession, index: number): void {
    const stream = s.streams[index];
    if (!stream) return;
    s.streams[index] = undefined;
    this.counters.relaysClosed++;
    void stream.relay.close();
  }

  /** The leg ended: its relays close and their ports go back to the pool. */
  release(key: string): void {
    this.#delayed.delete(key);
    const s = this.#sessions.get(key);
    if (!s) return;
    this.#sessions.delete(key);
    for (let i = 0; i < s.streams.length; i++) this.closeStream(s, i);
  }

  /**
   * Rewrites the offer of an INVITE on its way through, for the leg `leg()` names: undefined when there is none,
   * else the leg's key and, if it is refused, what to answer (488 for SDP the call cannot use, 503 when no relay
   * opens). A refused offer leaves no relay behind, but a live call's (a refused re-INVITE) stay. An INVITE without
   * SDP starts a delayed offer; the ACK that ends one carries its answer, rewritten by `side.answer`.
   */
  offer(req: SipRequest, leg: () => string, side: () => SdpSide): { key: string; fault?: { status: number; text: string } } | undefined {
    if (req.method === 'ACK') return void this.#answerInAck(req, leg, side);
    if (req.method === 'INVITE' && !hasSdp(req)) {
      const key = this.#key(leg);
      if (key !== undefined) this.#delayed.set(key, 'offer');
      return undefined;
    }
    if (!carriesOffer(req)) return undefined;
    const key = leg();
    this.#delayed.delete(key);
    const fresh = !this.#sessions.has(key);
    try {
      rewriteSdp(req, (sdp) => side().offer(sdp, key));
      return { key };
    } catch (err) {
      this.counters.offersRefused++;
      if (fresh) this.release(key);
      return { key, fault: offerFault(err) };
    }
  }

  /** The offer was not sent after all: relays opened for a leg that never came go. */
  unsent(key: string): void {
    if (!this.#hasLeg(key)) this.release(key);
  }

  /** A response's or an unchecked request's From/To may not parse: it names no leg, and passes untouched. */
  #key(leg: () => string): string | undefined {
    try {
      return leg();
    } catch (err) {
      if (!(err instanceof SipError)) throw err;
      this.counters.answersUnusable++;
      return undefined;
    }
  }

  /** The ACK of a delayed offer's 2xx: its SDP is the answer. Another ACK's body is none of the media's business. */
  #answerInAck(req: SipRequest, leg: () => string, side: () => SdpSide): void {
    if (!hasSdp(req) || this.#delayed.size === 0) return;
    const key = this.#key(leg);
    if (key === undefined || this.#delayed.get(key) !== 'answer') return;
    this.#delayed.delete(key);
    this.#unusable(key, () => rewriteSdp(req, (sdp) => side().answer(sdp, key)));
  }

  /** Runs a rewrite of SDP that cannot be refused (an answer, or a delayed offer in a 2xx): if it fails, the leg has no media and the message passes as it came. */
  #unusable(key: string, rewrite: () => void): void {
    try {
      rewrite();
    } catch (err) {
      // SDP it cannot use, or a relay that cannot open (an exhausted range): neither is reason to lose the message.
      if (!(err instanceof Error)) throw err;
      this.counters.answersUnusable++;
      this.release(key);
      this.log.warn({ leg: key, reason: err.message }, 'sip SDP unusable: media not relayed');
    }
  }

  /**
   * Rewrites the answer an INVITE's 18x/2xx carries (or, after an INVITE without SDP, the offer: `side.offer`, the
   * answer then due in the ACK); SDP that cannot be used closes the leg's relays and passes as it came (no media).
   */
  answer(res: SipResponse, leg: () => string, side: () => SdpSide): void {
    if (!carriesAnswer(res)) {
      // A delayed offer that failed leaves nothing to wait for.
      if (res.status >= 300 && this.#delayed.size > 0 && (res.header('cseq') ?? '').trim().endsWith('INVITE')) {
        const key = this.#key(leg);
        if (key !== undefined && this.#delayed.get(key) === 'offer') this.#delayed.delete(key);
      }
      return;
    }
    const key = this.#key(leg);
    if (key === undefined) return;
    if (this.#delayed.get(key) !== 'offer') return this.#unusable(key, () => rewriteSdp(res, (sdp) => side().answer(sdp, key)));
    this.#unusable(key, () => rewriteSdp(res, (sdp) => side().offer(sdp, key)));
    if (res.status >= 200 && this.#sessions.has(key)) this.#delayed.set(key, 'answer');
  }

  /** Per leg, for the call list: each stream's packets and bytes both ways, RTP loss, drops and latched remotes. */
  legStatus(key: string): Array<Record<string, unknown>> | undefined {
    const s = this.#sessions.get(key);
    if (!s) return undefined;
    const out: Array<Record<string, unknown>> = [];
    for (const [i, stream] of s.streams.entries()) {
      if (!stream || stream.relay.closed) continue;
      const st = stream.relay.stats();
      out.push({ stream: i, ports: stream.relay.ports, a: legFigures(st.a, stream.latched.a), b: legFigures(st.b, stream.latched.b), authFailures: stream.authFailures });
    }
    return out;
  }

  close(): void {
    clearInterval(this.#timer);
    for (const key of [...this.#sessions.keys()]) this.release(key);
  }

  #sweep(ms: number): void {
    const now = Date.now();
    for (const [key, s] of this.#sessions) if (now - s.opened >= ms && !this.#hasLeg(key)) this.release(key);
    // A delayed offer whose INVITE never became a leg (refused further on) has nothing to wait for.
    for (const key of this.#delayed.keys()) if (!this.#hasLeg(key)) this.#delayed.delete(key);
  }
}

function legFigures(l: LegStats, latched: string | undefined): Record<string, unknown> {
  const d = l.drops;
  // Loss of the RTP this leg receives (RFC 3550 A.3, from sequence numbers), as a share of what was sent to it.
  const lossPercent = l.rtpExpected > 0 ? Math.round((1000 * l.rtpLost) / l.rtpExpected) / 10 : 0;
  return {
    packetsIn: l.packetsIn, bytesIn: l.bytesIn, packetsOut: l.packetsOut, bytesOut: l.bytesOut, rtcpIn: l.rtcpIn, rtcpOut: l.rtcpOut,
    rtpExpected: l.rtpExpected, rtpLost: l.rtpLost, lossPercent, authFailures: d.auth,
    dropped: d.invalid + d.auth + d.replay + d.foreign + d.noRemote + d.protect + d.send, latched: latched ?? null,
  };
}
