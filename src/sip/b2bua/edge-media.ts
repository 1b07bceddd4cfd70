// The edge's media: per relayed m= line, an external leg (a: its own ports, latching on the client) and a mux
// leg (b: the shared traversal pair, demultiplexed by core's address for the call). The client is told the edge's
// public address and external port, core the edge's mux address and port. a=crypto passes untouched: SRTP is
// end to end between the client and core, and the edge holds no key.
import { Sdp } from '../sdp/index.js';
import { CallMedia, endpoints, relayable, type CallMediaOptions, type MediaSession, type SdpSide } from './call-media.js';

export interface EdgeMediaOptions extends CallMediaOptions {
  /** What SDP towards clients names (media.public_address); undefined: the address the client's connection reached. */
  publicAddress?: string;
  /** What SDP towards core names: the edge's traversal-side address. */
  muxAddress: string;
}

export class EdgeMedia extends CallMedia {
  readonly #publicAddress: string | undefined;
  readonly #muxAddress: string;
  #nextPair = 0;

  constructor(opts: EdgeMediaOptions) {
    super(opts);
    this.#publicAddress = opts.publicAddress;
    this.#muxAddress = opts.muxAddress;
  }

  #muxPort(s: MediaSession): number {
    s.muxPair ??= this.#nextPair++ % this.engine.info.muxPorts.length;
    return this.engine.info.muxPorts[s.muxPair]!;
  }

  #muxLeg(s: MediaSession, core: { rtp: { address: string; port: number }; rtcp?: { address: string; port: number } }, rtcpMux: boolean) {
    this.#muxPort(s);
    return { mux: { pair: s.muxPair! }, remote: core.rtp, ...(core.rtcp ? { remoteRtcp: core.rtcp } : {}), rtcpMux, latch: false };
  }

  /** SDP from the client's side: its offers keep their streams for core's answer, its answers set the external legs. */
  readonly clientSide: SdpSide = { offer: (sdp, key) => this.offerFromClient(key, sdp), answer: (sdp, key) => this.answerFromClient(key, sdp) };

  /** SDP from core's side, towards a client whose connection reached the edge at `localAddress` (what it is told). */
  coreSide(localAddress: string): SdpSide {
    return { offer: (sdp, key) => this.offerToClient(key, sdp, localAddress), answer: (sdp, key) => this.answerToClient(key, sdp, localAddress) };
  }

  /** A client's offer on its way to core: its streams are to reach the edge's mux pair. Relays open with the answer. */
  offerFromClient(key: string, sdp: Sdp): void {
    const s = this.session(key, true)!;
    s.clientOffer = [];
    for (const m of sdp.media) {
      if (!relayable(m)) {
        if (!m.disabled) m.setTransport(this.#muxAddress, 0);
        continue;
      }
      s.clientOffer[m.index] = { ...endpoints(m), rtcpMux: m.rtcpMux };
      const stream = s.streams[m.index];
      m.setTransport(this.#muxAddress, stream ? stream.relay.ports.b.rtp : this.#muxPort(s));
    }
    sdp.setSessionAddress(this.#muxAddress);
  }

  /** Core's answer to a client's offer: the relays open (or follow a new core address) and the client gets the edge's. */
  answerToClient(key: string, sdp: Sdp, localAddress: string): void {
    const s = this.session(key, false);
    if (!s?.clientOffer) return;
    const pub = this.#publicAddress ?? localAddress;
    for (const m of sdp.media) {
      const client = s.clientOffer[m.index];
      if (!client || !relayable(m)) {
        this.closeStream(s, m.index);
        continue;
      }
      const core = endpoints(m);
      const fixed = `${core.rtp.address}:${core.rtp.port}`;
      let stream = s.streams[m.index];
      if (stream && stream.fixedRemote === fixed) stream.relay.setRemote('a', client.rtp, client.rtcp);
      else stream = this.openStream(s, m.index, { remote: client.rtp, ...(client.rtcp ? { remoteRtcp: client.rtcp } : {}), rtcpMux: client.rtcpMux }, this.#muxLeg(s, core, m.rtcpMux), fixed);
      m.setTransport(pub, stream.relay.ports.a.rtp);
    }
    sdp.setSessionAddress(pub);
    s.answered = true;
  }

  /** Core's offer towards a client: the relays open now (core's address is the mux leg's key). */
  offerToClient(key: string, sdp: Sdp, localAddress: string): void {
    const s = this.session(key, true)!;
    s.clientOffer = undefined;
    const pub = this.#publicAddress ?? localAddress;
    for (const m of sdp.media) {
      if (!relayable(m)) {
        if (!m.disabled) m.setTransport(pub, 0);
        continue;
      }
      const core = endpoints(m);
      const fixed = `${core.rtp.address}:${core.rtp.port}`;
      let stream = s.streams[m.index];
      if (!stream || stream.fixedRemote !== fixed) stream = this.openStream(s, m.index, { rtcpMux: m.rtcpMux }, this.#muxLeg(s, core, m.rtcpMux), fixed);
      m.setTransport(pub, stream.relay.ports.a.rtp);
    }
    sdp.setSessionAddress(pub);
  }

  /** The client's answer on its way to core: the external legs learn where to send; core gets the mux address. */
  answerFromClient(key: string, sdp: Sdp): void {
    const s = this.session(key, false);
    if (!s || s.clientOffer) return;
    for (const m of sdp.media) {
      const stream = s.streams[m.index];
      if (!stream) continue;
      if (!relayable(m)) {
        this.closeStream(s, m.index);
        continue;
      }
      const client = endpoints(m);
      stream.relay.setRemote('a', client.rtp, client.rtcp);
      m.setTransport(this.#muxAddress, stream.relay.ports.b.rtp);
    }
    sdp.setSessionAddress(this.#muxAddress);
    s.answered = true;
  }
}
