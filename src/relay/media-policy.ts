// The relay role's media policy, over neutral streams (src/calls): what an offer from one side of a dialogue becomes
// towards the other, and what the answer becomes towards the offerer. Each relayed m= line is one relay: its legs
// face the two sides, each with its own profile (RTP/AVP or RTP/SAVP: SDES keys made here, so SAVP↔AVP bridging is
// decrypt-here/encrypt-there), its own rtcp-mux, latching onto what each side sends. ICE and DTLS attributes are
// removed (the relay is the only address either side sees, and it is no ICE agent); so is any m= line it cannot
// relay (not RTP), with a warning.
import type { LegOptions, MediaEngine } from '../media/index.js';
import {
  isWildcard,
  moved,
  relayable,
  streamEndpoints,
  type MediaStream,
  type SessionDescription,
  type StreamDescription,
  type StreamEvents,
  type StreamKey,
} from '../calls/index.js';
import type { MediaOptions } from './flags.js';
import { NgError } from './request.js';
import {
  cryptoLine,
  isSecure,
  keyFor,
  srtpKey,
  suitesToOffer,
  theirKey,
  usableCrypto,
  type UsableCrypto,
} from './sdes.js';
import { other, type Dialogue, type SideName } from './dialogue.js';

const SIDE_LEG: LegOptions = { rtcpMux: false, latch: true };

export class RelayMedia {
  constructor(
    private readonly engine: MediaEngine,
    private readonly events: (d: Dialogue) => StreamEvents,
  ) {}

  /** Where a side receives: its SDP's address, unless SIP-source-address or media-address say otherwise. */
  #remoteAddress(s: StreamDescription, o: MediaOptions): string | undefined {
    if (isWildcard(s.address)) return undefined;
    return o.mediaAddress ?? (o.sipSource ? o.receivedFrom : undefined) ?? s.address;
  }

  #setRemote(stream: MediaStream, side: SideName, s: StreamDescription, o: MediaOptions): void {
    const address = this.#remoteAddress(s, o);
    if (address === undefined) return;
    const e = streamEndpoints(s, address);
    const was = stream.toData().legs[side].options;
    if (
      was.remote?.address === e.rtp.address &&
      was.remote.port === e.rtp.port &&
      was.remoteRtcp?.port === e.rtcp?.port
    )
      return;
    stream.setRemote(side, e.rtp, e.rtcp);
  }

  #setMux(stream: MediaStream, side: SideName, mux: boolean): void {
    if ((stream.toData().legs[side].options.rtcpMux ?? false) !== mux) stream.setRtcpMux(side, mux);
  }

  /** The address SDP towards a side carries: its interface's, or the 0.0.0.0 of an RFC 2543 hold passed on. */
  #addressFor(d: Dialogue, to: SideName, address: string | undefined, o: MediaOptions): string | undefined {
    if (address === undefined) return undefined;
    return isWildcard(address) && !o.replaceZeroAddress ? address : d.side(to).iface.address;
  }

  /** An offer from side `from` of `d`: opens (or keeps) a relay per RTP m= line and describes it to the other side. */
  offer(
    d: Dialogue,
    from: SideName,
    desc: SessionDescription,
    o: MediaOptions,
  ): { out: SessionDescription; warnings: string[] } {
    const to = other(from);
    const warnings: string[] = [];
    const suites = this.engine.info.srtpSuites;
    // Checked whole before any relay opens or changes, so a refused offer leaves everything as it was.
    const plan = desc.streams.map((s) => {
      if (s.port === 0) return undefined;
      if (/^UDP\/TLS\//.test(s.proto))
        throw new NgError(`m= line ${s.index + 1}: ${s.proto} (DTLS-SRTP) is not supported: SDES only`);
      if (!relayable(s)) return null;
      const theirs = isSecure(s.proto) ? usableCrypto(s, suites) : [];
      if (isSecure(s.proto) && theirs.length === 0)
        throw new NgError(`m= line ${s.index + 1}: no a=crypto with a suite this relay supports`);
      const proto = o.transport ?? d.side(to).proto.get(s.index) ?? s.proto;
      const offer = isSecure(proto)
        ? suitesToOffer(
            theirs.map((c) => c.suite),
            suites,
            o.sdes,
          )
        : [];
      if (isSecure(proto) && (o.sdes.off || offer.length === 0))
        throw new NgError(`m= line ${s.index + 1}: ${proto} asked for, but the SDES flags leave no suite to offer`);
      return { s, theirs, proto, offer };
    });
    const offered = new Map<number, StreamKey[]>();
    const muxOffered = new Map<number, boolean>();
    const streams = desc.streams.map((s, i): StreamDescription => {
      const p = plan[i];
      if (p === undefined || p === null) {
        d.leg.closeStream(s.index);
        if (p === null)
          warnings.push(`m= line ${s.index + 1} (${s.media} ${s.proto}) rejected: this relay carries RTP only`);
        // A disabled RTP line takes the profile asked for all the same (rtpengine does).
        const proto = /^RTP\/S?AVPF?$/.test(s.proto) ? (o.transport ?? s.proto) : s.proto;
        return { ...s, port: 0, proto, crypto: [], ice: undefined, dtls: undefined };
      }
      let stream = d.leg.streams[s.index];
      if (stream) this.#setRemote(stream, from, s, o);
      else {
        // A new relay learns the offerer's address as it opens: one call into the engine, not two.
        const address = this.#remoteAddress(s, o);
        const e = address === undefined ? undefined : streamEndpoints(s, address);
        const offerer: LegOptions = {
          ...SIDE_LEG,
          ...(e ? { remote: e.rtp, ...(e.rtcp ? { remoteRtcp: e.rtcp } : {}) } : {}),
        };
        stream = d.leg.openStream(
          this.engine,
          s,
          from === 'a' ? offerer : SIDE_LEG,
          from === 'b' ? offerer : SIDE_LEG,
          this.events(d),
        );
      }
      d.side(from).proto.set(s.index, s.proto);
      d.side(to).proto.set(s.index, p.proto);
      // The offerer's suites keep its tags; the relay's own take the lowest free ones.
      const used = new Set(p.theirs.map((c) => c.tag));
      let next = 1;
      const keys = p.offer.map((suite) => {
        let tag = p.theirs.find((c) => c.suite === suite)?.tag;
        if (tag === undefined) {
          while (used.has(next)) next++;
          tag = next;
        }
        used.add(tag);
        return keyFor(suite, tag, stream.keys[to]);
      });
      offered.set(s.index, keys);
      const mux = s.rtcpMux
        ? !o.rtcpMux.has('demux') && !o.rtcpMux.has('reject')
        : o.rtcpMux.has('offer') || o.rtcpMux.has('require');
      muxOffered.set(s.index, mux);
      const port = stream.relay.ports[to].rtp;
      const out = moved(s, this.#addressFor(d, to, s.address, o)!, port, p.proto);
      return {
        ...out,
        rtcpMux: mux,
        ...(s.rtcpPort !== undefined ? { rtcpPort: port + 1 } : {}),
        crypto: keys.map((k) => cryptoLine(k, o.sdes.pad)),
        ice: undefined,
        dtls: undefined,
      };
    });
    d.offer = { from, streams: desc.streams, options: o, offered, muxOffered };
    if (desc.streams.some((s) => s.ice) && !o.iceRemoveAsked)
      warnings.push('ICE removed: this relay is no ICE agent, both sides see only its address');
    return { out: this.#session(d, to, desc, streams, o), warnings };
  }

  /** The answer from side `to` to the dialogue's last offer: keys and remotes set, and the answer the offerer gets. */
  answer(
    d: Dialogue,
    answerer: SideName,
    desc: SessionDescription,
    o: MediaOptions,
  ): { out: SessionDescription; warnings: string[] } {
    const offer = d.offer;
    if (!offer || offer.from === answerer) throw new NgError(`no offer from tag "${d.tag(other(answerer))}" to answer`);
    const from = offer.from;
    const suites = this.engine.info.srtpSuites;
    const muxFlags = new Set([...offer.options.rtcpMux, ...o.rtcpMux]);
    // Every a=crypto read before any key changes.
    const chosen = desc.streams.map((r) => {
      const s = offer.streams[r.index];
      const stream = d.leg.streams[r.index];
      if (!s || !stream || r.port === 0) return undefined;
      const keys = offer.offered.get(r.index) ?? [];
      let mine: StreamKey | undefined;
      let theirs: UsableCrypto | undefined;
      if (isSecure(r.proto)) {
        const answered = usableCrypto(r, suites);
        theirs =
          answered.find((c) => keys.some((k) => k.tag === c.tag && k.suite === c.suite)) ??
          answered.find((c) => keys.some((k) => k.suite === c.suite));
        mine = theirs && keys.find((k) => k.suite === theirs!.suite);
        if (!theirs || !mine)
          throw new NgError(`m= line ${r.index + 1}: the answer's a=crypto matches no suite that was offered`);
      }
      const offerers = isSecure(s.proto) ? usableCrypto(s, suites) : [];
      const forOfferer = offerers.find((c) => c.suite === theirs?.suite) ?? offerers[0];
      return { r, s, stream, mine, theirs, forOfferer };
    });
    const streams = desc.streams.map((r, i): StreamDescription => {
      const c = chosen[i];
      if (!c) {
        if (r.port === 0) d.leg.closeStream(r.index);
        // Refused towards the offerer in the profile it offered.
        return {
          ...r,
          port: 0,
          proto: offer.streams[r.index]?.proto ?? r.proto,
          crypto: [],
          ice: undefined,
          dtls: undefined,
        };
      }
      const { stream, s } = c;
      this.#setRemote(stream, answerer, r, o);
      d.side(answerer).proto.set(r.index, r.proto);
      stream.setKeys(
        answerer,
        c.theirs ? { recv: theirKey(c.theirs), send: srtpKey(c.mine!) } : { recv: null, send: null },
      );
      if (c.mine) stream.keys[answerer] = c.mine;
      else delete stream.keys[answerer];
      const answererMux = r.rtcpMux && (offer.muxOffered.get(r.index) ?? false);
      this.#setMux(stream, answerer, answererMux);
      const offererMux =
        s.rtcpMux && !muxFlags.has('reject') && (muxFlags.has('demux') || muxFlags.has('accept') || answererMux);
      this.#setMux(stream, from, offererMux);
      let crypto: string[] = [];
      if (c.forOfferer) {
        const k = keyFor(c.forOfferer.suite, c.forOfferer.tag, stream.keys[from]);
        stream.keys[from] = k;
        stream.setKeys(from, { recv: theirKey(c.forOfferer), send: srtpKey(k) });
        crypto = [cryptoLine(k, o.sdes.pad || offer.options.sdes.pad)];
      } else {
        delete stream.keys[from];
        stream.setKeys(from, { recv: null, send: null });
      }
      const proto = o.transportAccept
        ? isSecure(s.proto)
          ? r.proto.replace(/^RTP\/AVP/, 'RTP/SAVP')
          : r.proto.replace(/^RTP\/SAVP/, 'RTP/AVP')
        : s.proto;
      const port = stream.relay.ports[from].rtp;
      const out = moved(r, this.#addressFor(d, from, r.address, o)!, port, proto);
      return {
        ...out,
        rtcpMux: offererMux,
        ...(r.rtcpPort !== undefined ? { rtcpPort: offererMux ? port : port + 1 } : {}),
        crypto,
        ice: undefined,
        dtls: undefined,
      };
    });
    d.leg.state = 'active';
    d.leg.confirmed = true;
    if (!d.leg.answered) {
      d.leg.answered = true;
      d.leg.answeredAt = Date.now();
    }
    return { out: this.#session(d, from, desc, streams, o), warnings: [] };
  }

  #session(
    d: Dialogue,
    to: SideName,
    desc: SessionDescription,
    streams: StreamDescription[],
    o: MediaOptions,
  ): SessionDescription {
    const address = this.#addressFor(d, to, desc.address, o);
    return {
      ...desc,
      ...(address !== undefined ? { address } : {}),
      ...(o.replaceOrigin ? { origin: d.side(to).iface.address } : {}),
      iceLite: false,
      streams,
    };
  }
}
