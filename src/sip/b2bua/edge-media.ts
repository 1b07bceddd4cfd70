// The edge's media policy: per relayed stream, an external leg (a: its own ports, latching on the client) and a mux
// leg (b: the shared traversal pair, demultiplexed by core's address for the call). The client is told the edge's
// public address and external port, core the edge's mux address and port. a=crypto passes untouched: SRTP is
// end to end between the client and core, and the edge holds no key.
import {
  held,
  heldByAddress,
  moved,
  relayable,
  streamEndpoints,
  type Leg,
  type SessionDescription,
  type StreamDescription,
} from '../../calls/index.js';
import { CallMedia, type CallMediaOptions, type MediaPolicy } from './call-media.js';

export interface EdgeMediaOptions extends CallMediaOptions {
  /** What SDP towards clients names (media.public_address); undefined: the address the client's connection reached. */
  publicAddress?: string;
  /** What SDP towards core names: the edge's traversal-side address. */
  muxAddress: string;
}

type Endpoints = ReturnType<typeof streamEndpoints>;

/** What goes to core for a client's stream: an old-style hold (c=0.0.0.0) is said with a direction (docs/calls.md). */
const towardCore = (from: StreamDescription, out: StreamDescription): StreamDescription =>
  heldByAddress(from) ? { ...out, direction: held(from.direction) } : out;
const fixedKey = (e: Endpoints) => `${e.rtp.address}:${e.rtp.port}`;

export class EdgeMedia extends CallMedia {
  readonly #publicAddress: string | undefined;
  readonly #muxAddress: string;
  #nextPair = 0;

  constructor(opts: EdgeMediaOptions) {
    super(opts);
    this.#publicAddress = opts.publicAddress;
    this.#muxAddress = opts.muxAddress;
  }

  #muxPort(leg: Leg): number {
    leg.muxPair ??= this.#nextPair++ % this.engine.info.muxPorts.length;
    return this.engine.info.muxPorts[leg.muxPair]!;
  }

  #muxLeg(leg: Leg, core: Endpoints, rtcpMux: boolean) {
    this.#muxPort(leg);
    return {
      mux: { pair: leg.muxPair! },
      remote: core.rtp,
      ...(core.rtcp ? { remoteRtcp: core.rtcp } : {}),
      rtcpMux,
      latch: false,
    };
  }

  /** SDP from the client's side: its offers keep their streams for core's answer, its answers set the external legs. */
  readonly clientSide: MediaPolicy = {
    offer: (leg, d) => this.offerFromClient(leg, d),
    answer: (leg, d) => this.answerFromClient(leg, d),
  };

  /** SDP from core's side, towards a client whose connection reached the edge at `localAddress` (what it is told). */
  coreSide(localAddress: string): MediaPolicy {
    return {
      offer: (leg, d) => this.offerToClient(leg, d, localAddress),
      answer: (leg, d) => this.answerToClient(leg, d, localAddress),
    };
  }

  /** A stream that is not relayed: an enabled one is turned off (port 0) at `address`. */
  #off(s: StreamDescription, address: string): StreamDescription {
    return s.port === 0 ? s : moved(s, address, 0);
  }

  /** A client's offer on its way to core: its streams are to reach the edge's mux pair. Relays open with the answer. */
  offerFromClient(leg: Leg, d: SessionDescription): SessionDescription {
    const pending: StreamDescription[] = [];
    leg.pendingOffer = pending;
    const streams = d.streams.map((s) => {
      if (!relayable(s)) return this.#off(s, this.#muxAddress);
      pending[s.index] = s;
      const stream = leg.streams[s.index];
      return towardCore(s, moved(s, this.#muxAddress, stream ? stream.relay.ports.b.rtp : this.#muxPort(leg)));
    });
    return { address: this.#muxAddress, streams };
  }

  /** Core's answer to a client's offer: the relays open (or follow a new core address) and the client gets the edge's. */
  answerToClient(leg: Leg, d: SessionDescription, localAddress: string): SessionDescription {
    const offered = leg.pendingOffer;
    if (!offered) return d;
    const pub = this.#publicAddress ?? localAddress;
    const streams = d.streams.map((s) => {
      const client = offered[s.index];
      if (!client || !relayable(s)) {
        leg.closeStream(s.index);
        return s;
      }
      const core = streamEndpoints(s);
      // A client on hold by address (c=0.0.0.0) says nothing of where it is: its leg keeps what it had, or latches.
      const at = heldByAddress(client) ? undefined : streamEndpoints(client);
      let stream = leg.streams[s.index];
      if (stream && stream.fixedRemote === fixedKey(core)) {
        if (at) stream.setRemote('a', at.rtp, at.rtcp);
      } else
        stream = this.openStream(
          leg,
          s,
          { ...(at ? { remote: at.rtp, ...(at.rtcp ? { remoteRtcp: at.rtcp } : {}) } : {}), rtcpMux: client.rtcpMux },
          this.#muxLeg(leg, core, s.rtcpMux),
          fixedKey(core),
        );
      return moved(s, pub, stream.relay.ports.a.rtp);
    });
    leg.answered = true;
    return { address: pub, streams };
  }

  /** Core's offer towards a client: the relays open now (core's address is the mux leg's key). */
  offerToClient(leg: Leg, d: SessionDescription, localAddress: string): SessionDescription {
    leg.pendingOffer = undefined;
    const pub = this.#publicAddress ?? localAddress;
    const streams = d.streams.map((s) => {
      if (!relayable(s)) return this.#off(s, pub);
      const core = streamEndpoints(s);
      let stream = leg.streams[s.index];
      if (!stream || stream.fixedRemote !== fixedKey(core))
        stream = this.openStream(leg, s, { rtcpMux: s.rtcpMux }, this.#muxLeg(leg, core, s.rtcpMux), fixedKey(core));
      return moved(s, pub, stream.relay.ports.a.rtp);
    });
    return { address: pub, streams };
  }

  /** The client's answer on its way to core: the external legs learn where to send; core gets the mux address. */
  answerFromClient(leg: Leg, d: SessionDescription): SessionDescription {
    if (leg.pendingOffer) return d;
    const streams = d.streams.map((s) => {
      const stream = leg.streams[s.index];
      if (!stream) return s;
      if (!relayable(s)) {
        leg.closeStream(s.index);
        return s;
      }
      if (!heldByAddress(s)) {
        const client = streamEndpoints(s);
        stream.setRemote('a', client.rtp, client.rtcp);
      }
      return towardCore(s, moved(s, this.#muxAddress, stream.relay.ports.b.rtp));
    });
    leg.answered = true;
    return { address: this.#muxAddress, streams };
  }
}
