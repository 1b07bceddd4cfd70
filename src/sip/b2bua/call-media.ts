// The relays of a node's call legs: one relay per relayed m= line of a leg, opened as the leg's SDP goes by and
// closed when the leg ends (BYE, failure, flow closed, timeout: the call table's onEnded), when an answer turns
// a stream off, or when an offer that opened them is refused. Both nodes' rewrites (edge-media.ts, core-media.ts)
// build on this; the SDP text never reaches the media plane, only addresses, ports and keys.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../log/index.js';
import type { Endpoint, LegName, LegOptions, LegStats, MediaEngine, Relay, SrtpKey } from '../../media/index.js';
import { SipError, type SipRequest, type SipResponse } from '../index.js';
import { SdpError, type MediaDescription, type Sdp } from '../sdp/index.js';
import { carriesAnswer, carriesOffer, offerFault, rewriteSdp } from './sdp-hop.js';

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
    const s = this.#sessions.get(key);
    if (!s) return;
    this.#sessions.delete(key);
    for (let i = 0; i < s.streams.length; i++) this.closeStream(s, i);
  }

  /**
   * Rewrites the offer of an INVITE on its way through, for the leg `leg()` names: undefined when there is none,
   * else the leg's key and, if it is refused, what to answer (488 for SDP the call cannot use, 503 when no relay
   * opens). A refused offer leaves no relay behind, but a live call's (a refused re-INVITE) stay.
   */
  offer(req: SipRequest, leg: () => string, rewrite: (sdp: Sdp, key: string) => void): { key: string; fault?: { status: number; text: string } } | undefined {
    if (!carriesOffer(req)) return undefined;
    const key = leg();
    const fresh = !this.#sessions.has(key);
    try {
      rewriteSdp(req, (sdp) => rewrite(sdp, key));
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

  /** Rewrites the answer an INVITE's 18x/2xx carries; one whose SDP cannot be used closes the leg's relays and passes as it came (no media). */
  answer(res: SipResponse, leg: () => string, rewrite: (sdp: Sdp, key: string) => void): void {
    if (!carriesAnswer(res)) return;
    let key: string;
    try {
      key = leg();
    } catch (err) {
      // A response is passed on by its Via and not checked whole: a From/To that does not parse names no leg.
      if (!(err instanceof SipError)) throw err;
      this.counters.answersUnusable++;
      return;
    }
    try {
      rewriteSdp(res, (sdp) => rewrite(sdp, key));
    } catch (err) {
      if (!(err instanceof SdpError)) throw err;
      this.counters.answersUnusable++;
      this.release(key);
      this.log.warn({ leg: key, reason: err.message }, 'sip answer SDP unusable: media not relayed');
    }
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
