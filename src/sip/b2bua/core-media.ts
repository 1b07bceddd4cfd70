// Core's media B2BUA: per relayed m= line, an inside leg (a: plain RTP/AVP towards call control's phones, latching)
// and an edge leg (b: RTP/SAVP to the edge's mux pair, never latching). Core makes its own SDES key for what it
// sends the client and takes the client's for what it receives, so media is always encrypted between the client
// and core; the inside gets plain RTP unless it offered SRTP itself (then core keys that leg too).
import { randomBytes } from 'node:crypto';
import { SRTP_SUITES, type SrtpKey, type SrtpSuite } from '../../media/index.js';
import { Sdp, SdpError, formatCrypto, parseCrypto, type MediaDescription, type SdpCrypto } from '../sdp/index.js';
import { CallMedia, endpoints, isWildcard, plainProto, relayable, secureProto, type CallMediaOptions, type SdpSide } from './call-media.js';

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

const newKey = (suite: SrtpSuite): SrtpKey => ({ suite, key: randomBytes(SRTP_SUITES[suite].keySaltLength) });
/** The key a stream already has for `suite`, else a new one. */
const keep = (k: SrtpKey | undefined, suite: SrtpSuite): SrtpKey => (k?.suite === suite ? k : newKey(suite));
const keyLine = (tag: number, k: SrtpKey) => formatCrypto(tag, k.suite, k.key as Buffer);

export class CoreMedia extends CallMedia {
  /** The keepalive on legs towards the edge (media.keepalive_s): they open the DMZ firewall's flow, and keep it. */
  readonly #keepaliveMs: number;

  constructor(opts: CallMediaOptions & { keepaliveMs: number }) {
    super(opts);
    this.#keepaliveMs = opts.keepaliveMs;
  }

  /** The first a=crypto line with a suite the engine runs, a key of the suite's length and no MKI or session parameter. */
  #pick(m: MediaDescription): (SdpCrypto & { suite: SrtpSuite }) | undefined {
    const suites = this.engine.info.srtpSuites;
    for (const [i, value] of m.attributes('crypto').entries()) {
      const c = parseCrypto(value, `m= line ${m.index + 1}, a=crypto ${i + 1}`);
      const info = SRTP_SUITES[c.suite as SrtpSuite];
      if (info && suites.includes(c.suite) && c.keySalt.length === info.keySaltLength && !c.unsupportedParams) return c as SdpCrypto & { suite: SrtpSuite };
    }
    return undefined;
  }

  /** SDP from the client's side (through the edge), with core's addresses `at` as each side sees them. */
  clientSide(at: Addresses): SdpSide {
    return { offer: (sdp, key) => this.offerFromClient(key, sdp, at), answer: (sdp, key) => this.answerFromEdge(key, sdp, at) };
  }

  /** SDP from the inside's side (call control's phones). */
  insideSide(at: Addresses): SdpSide {
    return { offer: (sdp, key) => this.offerFromInside(key, sdp, at), answer: (sdp, key) => this.answerFromInside(key, sdp, at) };
  }

  /** Call control's offer towards a client: RTP/SAVP with core's key, from core's edge leg. */
  offerFromInside(key: string, sdp: Sdp, at: Addresses): void {
    // Checked whole before any relay opens, so a refused offer leaves nothing behind.
    const inside = sdp.media.map((m) => (relayable(m) && /^RTP\/SAVP/.test(m.proto) ? this.#pick(m) ?? null : undefined));
    if (inside.some((c) => c === null)) throw new SdpError('no usable a=crypto in an RTP/SAVP stream');
    const s = this.session(key, true)!;
    for (const m of sdp.media) {
      if (!relayable(m)) {
        if (!m.disabled) m.setTransport(at.edge, 0);
        continue;
      }
      const remote = endpoints(m);
      let stream = s.streams[m.index];
      if (stream) stream.relay.setRemote('a', remote.rtp, remote.rtcp);
      else stream = this.openStream(s, m.index, { remote: remote.rtp, ...(remote.rtcp ? { remoteRtcp: remote.rtcp } : {}), rtcpMux: m.rtcpMux }, { latch: false, rtcpMux: m.rtcpMux, keepaliveMs: this.#keepaliveMs });
      const c = inside[m.index];
      stream.insideKey = c ? keep(stream.insideKey, c.suite) : undefined;
      stream.insideTag = c?.tag;
      stream.relay.setKeys('a', c ? { recv: { suite: c.suite, key: c.keySalt }, send: stream.insideKey } : { recv: null, send: null });
      // A re-INVITE keeps core's key: what it sends meanwhile still decrypts under the one the client has.
      stream.edgeKey = keep(stream.edgeKey, OFFERED_SUITE);
      stream.edgeTag = 1;
      m.removeAttributes('crypto');
      m.addAttribute('crypto', keyLine(1, stream.edgeKey));
      m.setTransport(at.edge, stream.relay.ports.b.rtp, secureProto(m.proto));
    }
    sdp.setSessionAddress(at.edge);
  }

  /** The client's answer (through the edge): core learns the edge's mux port and the client's key. */
  answerFromEdge(key: string, sdp: Sdp, at: Addresses): void {
    const s = this.session(key, false);
    if (!s) return;
    const streams = sdp.media.map((m) => {
      const stream = s.streams[m.index];
      if (!stream?.edgeKey || !relayable(m)) return undefined;
      const c = this.#pick(m);
      if (!c || c.suite !== stream.edgeKey.suite) throw new SdpError(`m= line ${m.index + 1}: the answer has no a=crypto for ${stream.edgeKey.suite}`);
      return c;
    });
    for (const m of sdp.media) {
      const stream = s.streams[m.index];
      const c = streams[m.index];
      if (!stream) continue;
      if (!c) {
        this.closeStream(s, m.index);
        continue;
      }
      const edge = endpoints(m, isWildcard(m.address) ? at.edgeHost : m.address);
      stream.relay.setRemote('b', edge.rtp, edge.rtcp);
      stream.relay.setKeys('b', { recv: { suite: c.suite, key: c.keySalt }, send: stream.edgeKey });
      m.removeAttributes('crypto');
      if (stream.insideKey) m.addAttribute('crypto', keyLine(stream.insideTag!, stream.insideKey));
      m.setTransport(at.inside, stream.relay.ports.a.rtp, stream.insideKey ? secureProto(m.proto) : plainProto(m.proto));
    }
    sdp.setSessionAddress(at.inside);
    s.answered = true;
  }

  /** A client's offer (through the edge) towards call control: refused without SRTP; plain RTP/AVP to the inside. */
  offerFromClient(key: string, sdp: Sdp, at: Addresses): void {
    const keys = sdp.media.map((m) => (relayable(m) ? this.#pick(m) ?? null : undefined));
    if (keys.some((c) => c === null)) throw new SdpError('media encryption is forced: every stream needs an a=crypto this node supports');
    const s = this.session(key, true)!;
    for (const m of sdp.media) {
      const c = keys[m.index];
      if (!c) {
        if (!m.disabled) m.setTransport(at.inside, 0);
        continue;
      }
      const edge = endpoints(m, isWildcard(m.address) ? at.edgeHost : m.address);
      const fixed = `${edge.rtp.address}:${edge.rtp.port}`;
      let stream = s.streams[m.index];
      if (!stream || stream.fixedRemote !== fixed) stream = this.openStream(s, m.index, { rtcpMux: m.rtcpMux }, { remote: edge.rtp, ...(edge.rtcp ? { remoteRtcp: edge.rtcp } : {}), latch: false, rtcpMux: m.rtcpMux, keepaliveMs: this.#keepaliveMs }, fixed);
      stream.edgeKey = keep(stream.edgeKey, c.suite);
      stream.edgeTag = c.tag;
      stream.insideKey = undefined;
      stream.relay.setKeys('b', { recv: { suite: c.suite, key: c.keySalt }, send: stream.edgeKey });
      m.removeAttributes('crypto');
      m.setTransport(at.inside, stream.relay.ports.a.rtp, plainProto(m.proto));
    }
    sdp.setSessionAddress(at.inside);
  }

  /** Call control's answer to a client's offer: core's edge leg and key go to the client. */
  answerFromInside(key: string, sdp: Sdp, at: Addresses): void {
    const s = this.session(key, false);
    if (!s) return;
    for (const m of sdp.media) {
      const stream = s.streams[m.index];
      if (!stream?.edgeKey) continue;
      if (!relayable(m)) {
        this.closeStream(s, m.index);
        continue;
      }
      const remote = endpoints(m);
      stream.relay.setRemote('a', remote.rtp, remote.rtcp);
      m.removeAttributes('crypto');
      m.addAttribute('crypto', keyLine(stream.edgeTag!, stream.edgeKey));
      m.setTransport(at.edge, stream.relay.ports.b.rtp, secureProto(m.proto));
    }
    sdp.setSessionAddress(at.edge);
    s.answered = true;
  }
}
