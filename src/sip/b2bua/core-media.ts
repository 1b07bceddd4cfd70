// Core's media policy, the SRTP B2BUA: per relayed stream, an inside leg (a: plain RTP/AVP towards call control's
// phones, latching) and an edge leg (b: RTP/SAVP to the edge's mux pair, never latching). Core makes its own SDES key
// for what it sends the client and takes the client's for what it receives, so media is always encrypted between the
// client and core; the inside gets plain RTP unless it offered SRTP itself (then core keys that leg too).
import { randomBytes } from 'node:crypto';
import { SRTP_SUITES, type SrtpKey, type SrtpSuite } from '../../media/index.js';
import { SdpError, formatCrypto, parseCrypto, type SdpCrypto } from '../../sdp/index.js';
import {
  held,
  heldByAddress,
  isWildcard,
  moved,
  plainProto,
  relayable,
  secureProto,
  streamEndpoints,
  type Leg,
  type SessionDescription,
  type StreamDescription,
  type StreamKey,
} from '../../calls/index.js';
import { CallMedia, type CallMediaOptions, type MediaPolicy } from './call-media.js';

/** What core offers the client when the inside offered plain RTP (the suite every MRA client has). */
const OFFERED_SUITE: SrtpSuite = 'AES_CM_128_HMAC_SHA1_80';

export interface Addresses {
  /** Core's address towards the inside (the call-control connection's local address, or media.address). */
  inside: string;
  /** Core's address towards the edge (the traversal link's local address, or media.address). */
  edge: string;
  /** The edge as core dials it: where a wildcard mux address in the edge's SDP points. */
  edgeHost: string;
}

/** The key a stream already has for `suite` (a re-INVITE keeps it), else a new one under `tag`. */
function keep(k: StreamKey | undefined, suite: SrtpSuite, tag: number): StreamKey {
  return k?.suite === suite
    ? { ...k, tag }
    : { suite, key: randomBytes(SRTP_SUITES[suite].keySaltLength).toString('base64'), tag };
}
const srtpKey = (k: StreamKey): SrtpKey => ({ suite: k.suite, key: k.key });
const keyLine = (k: StreamKey) => formatCrypto(k.tag, k.suite, Buffer.from(k.key, 'base64'));
const taken = (c: SdpCrypto & { suite: SrtpSuite }): SrtpKey => ({ suite: c.suite, key: c.keySalt });
/** What goes to the client for an inside stream: an old-style hold (c=0.0.0.0) is said with a direction (docs/calls.md). */
const towardEdge = (from: StreamDescription, out: StreamDescription): StreamDescription =>
  heldByAddress(from) ? { ...out, direction: held(from.direction) } : out;

export class CoreMedia extends CallMedia {
  /** The keepalive on legs towards the edge (media.keepalive_s): they open the DMZ firewall's flow, and keep it. */
  readonly #keepaliveMs: number;

  constructor(opts: CallMediaOptions & { keepaliveMs: number }) {
    super(opts);
    this.#keepaliveMs = opts.keepaliveMs;
  }

  /** The first a=crypto with a suite the engine runs, a key of the suite's length and no MKI or session parameter. */
  #pick(s: StreamDescription): (SdpCrypto & { suite: SrtpSuite }) | undefined {
    const suites = this.engine.info.srtpSuites;
    for (const [i, value] of s.crypto.entries()) {
      const c = parseCrypto(value, `m= line ${s.index + 1}, a=crypto ${i + 1}`);
      const info = SRTP_SUITES[c.suite as SrtpSuite];
      if (info && suites.includes(c.suite) && c.keySalt.length === info.keySaltLength && !c.unsupportedParams)
        return c as SdpCrypto & { suite: SrtpSuite };
    }
    return undefined;
  }

  /** SDP from the client's side (through the edge), with core's addresses `at` as each side sees them. */
  clientSide(at: Addresses): MediaPolicy {
    return { offer: (leg, d) => this.offerFromClient(leg, d, at), answer: (leg, d) => this.answerFromEdge(leg, d, at) };
  }

  /** SDP from the inside's side (call control's phones). */
  insideSide(at: Addresses): MediaPolicy {
    return {
      offer: (leg, d) => this.offerFromInside(leg, d, at),
      answer: (leg, d) => this.answerFromInside(leg, d, at),
    };
  }

  /** Call control's offer towards a client: RTP/SAVP with core's key, from core's edge leg. */
  offerFromInside(leg: Leg, d: SessionDescription, at: Addresses): SessionDescription {
    // Checked whole before any relay opens, so a refused offer leaves nothing behind.
    const inside = d.streams.map((s) =>
      relayable(s) && /^RTP\/SAVP/.test(s.proto) ? (this.#pick(s) ?? null) : undefined,
    );
    if (inside.some((c) => c === null)) throw new SdpError('no usable a=crypto in an RTP/SAVP stream');
    const streams = d.streams.map((s) => {
      if (!relayable(s)) return s.port === 0 ? s : moved(s, at.edge, 0);
      // A phone on hold by address (c=0.0.0.0) says nothing of where it is: its leg keeps what it had, or latches.
      const remote = heldByAddress(s) ? undefined : streamEndpoints(s);
      let stream = leg.streams[s.index];
      if (stream) {
        if (remote) stream.setRemote('a', remote.rtp, remote.rtcp);
      } else
        stream = this.openStream(
          leg,
          s,
          {
            ...(remote ? { remote: remote.rtp, ...(remote.rtcp ? { remoteRtcp: remote.rtcp } : {}) } : {}),
            rtcpMux: s.rtcpMux,
          },
          { latch: false, rtcpMux: s.rtcpMux, keepaliveMs: this.#keepaliveMs },
        );
      const c = inside[s.index];
      if (c) stream.keys.inside = keep(stream.keys.inside, c.suite, c.tag);
      else delete stream.keys.inside;
      stream.setKeys('a', c ? { recv: taken(c), send: srtpKey(stream.keys.inside!) } : { recv: null, send: null });
      // A re-INVITE keeps core's key: what it sends meanwhile still decrypts under the one the client has.
      stream.keys.edge = keep(stream.keys.edge, OFFERED_SUITE, 1);
      return towardEdge(s, {
        ...moved(s, at.edge, stream.relay.ports.b.rtp, secureProto(s.proto)),
        crypto: [keyLine(stream.keys.edge)],
      });
    });
    return { address: at.edge, streams };
  }

  /** The client's answer (through the edge): core learns the edge's mux port and the client's key. */
  answerFromEdge(leg: Leg, d: SessionDescription, at: Addresses): SessionDescription {
    if (!leg.hasMedia) return d;
    const keys = d.streams.map((s) => {
      const edgeKey = leg.streams[s.index]?.keys.edge;
      if (!edgeKey || !relayable(s)) return undefined;
      const c = this.#pick(s);
      if (!c || c.suite !== edgeKey.suite)
        throw new SdpError(`m= line ${s.index + 1}: the answer has no a=crypto for ${edgeKey.suite}`);
      return c;
    });
    const streams = d.streams.map((s) => {
      const stream = leg.streams[s.index];
      const c = keys[s.index];
      if (!stream) return s;
      if (!c) {
        leg.closeStream(s.index);
        return s;
      }
      const edge = streamEndpoints(s, isWildcard(s.address) ? at.edgeHost : s.address);
      stream.setRemote('b', edge.rtp, edge.rtcp);
      stream.setKeys('b', { recv: taken(c), send: srtpKey(stream.keys.edge!) });
      const inside = stream.keys.inside;
      return {
        ...moved(s, at.inside, stream.relay.ports.a.rtp, inside ? secureProto(s.proto) : plainProto(s.proto)),
        crypto: inside ? [keyLine(inside)] : [],
      };
    });
    leg.answered = true;
    return { address: at.inside, streams };
  }

  /** A client's offer (through the edge) towards call control: refused without SRTP; plain RTP/AVP to the inside. */
  offerFromClient(leg: Leg, d: SessionDescription, at: Addresses): SessionDescription {
    const keys = d.streams.map((s) => (relayable(s) ? (this.#pick(s) ?? null) : undefined));
    if (keys.some((c) => c === null))
      throw new SdpError('media encryption is forced: every stream needs an a=crypto this node supports');
    const streams = d.streams.map((s) => {
      const c = keys[s.index];
      if (!c) return s.port === 0 ? s : moved(s, at.inside, 0);
      const edge = streamEndpoints(s, isWildcard(s.address) ? at.edgeHost : s.address);
      const fixed = `${edge.rtp.address}:${edge.rtp.port}`;
      let stream = leg.streams[s.index];
      if (!stream || stream.fixedRemote !== fixed)
        stream = this.openStream(
          leg,
          s,
          { rtcpMux: s.rtcpMux },
          {
            remote: edge.rtp,
            ...(edge.rtcp ? { remoteRtcp: edge.rtcp } : {}),
            latch: false,
            rtcpMux: s.rtcpMux,
            keepaliveMs: this.#keepaliveMs,
          },
          fixed,
        );
      stream.keys.edge = keep(stream.keys.edge, c.suite, c.tag);
      delete stream.keys.inside;
      stream.setKeys('b', { recv: taken(c), send: srtpKey(stream.keys.edge) });
      return { ...moved(s, at.inside, stream.relay.ports.a.rtp, plainProto(s.proto)), crypto: [] };
    });
    return { address: at.inside, streams };
  }

  /** Call control's answer to a client's offer: core's edge leg and key go to the client. */
  answerFromInside(leg: Leg, d: SessionDescription, at: Addresses): SessionDescription {
    if (!leg.hasMedia) return d;
    const streams = d.streams.map((s) => {
      const stream = leg.streams[s.index];
      const edgeKey = stream?.keys.edge;
      if (!stream || !edgeKey) return s;
      if (!relayable(s)) {
        leg.closeStream(s.index);
        return s;
      }
      if (!heldByAddress(s)) {
        const remote = streamEndpoints(s);
        stream.setRemote('a', remote.rtp, remote.rtcp);
      }
      return towardEdge(s, {
        ...moved(s, at.edge, stream.relay.ports.b.rtp, secureProto(s.proto)),
        crypto: [keyLine(edgeKey)],
      });
    });
    leg.answered = true;
    return { address: at.edge, streams };
  }
}
