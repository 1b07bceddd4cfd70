// One relayed m= line of a leg: the engine's relay and what was told to it (remotes, keys), recorded as plain data so
// that the stream can be listed, stored and rebuilt elsewhere. Packets never come here.
import type {
  Endpoint,
  LegName,
  LegOptions,
  LegSrtpIndices,
  LegStats,
  MediaEngine,
  Relay,
  SrtpKey,
  SrtpSuite,
} from '../media/index.js';

/** An SDES key a policy made or took, and the a=crypto tag it goes under. Key||salt in base64: plain data. */
export interface StreamKey {
  suite: SrtpSuite;
  key: string;
  tag: number;
}

/** A relay leg as it was configured: enough to open it again with the same options. */
export interface RelayLegData {
  options: LegOptions;
  /** Keys given to it (base64 key||salt): `recv` unprotects what arrives, `send` protects what leaves. */
  recv: { suite: SrtpSuite; key: string } | null;
  send: { suite: SrtpSuite; key: string } | null;
  /** Where packets came from once it latched (address:port). */
  latched: string | null;
}

export interface MediaStreamData {
  index: number;
  /** audio, video, ... (the m= line's media). */
  media: string;
  relayId: string;
  ports: { a: { rtp: number; rtcp: number }; b: { rtp: number; rtcp: number } };
  legs: Record<LegName, RelayLegData>;
  /** The remote a fixed (mux or unlatched) leg was made for: a different one in a later SDP needs a new relay. */
  fixedRemote?: string;
  /** The keys the node's policy keeps for this stream, by role (core: `edge`, what it sends the client; `inside`). */
  keys: Record<string, StreamKey>;
  authFailures: number;
  /**
   * Where each relay leg's SRTP stands both ways (rollover counter, highest sequence number per SSRC): what a relay
   * rebuilt from this data on another node resumes from. Only when asked for (a store write), not for the status page.
   */
  srtp?: Record<LegName, LegSrtpIndices>;
}

/** What a stream's relay reports that its owner counts and logs (it never ends a call by itself). */
export interface StreamEvents {
  authFailures(stream: MediaStream, leg: LegName, count: number): void;
  timeout(stream: MediaStream, leg: LegName, silentMs: number): void;
  /** A relay leg latched, or re-latched, onto a source (a stored call records where it sends). */
  latched?(stream: MediaStream, leg: LegName): void;
  /** The relay was closed (once per stream, however it came to close). */
  closed(stream: MediaStream): void;
}

/** An address:port as the latch records it. */
function endpoint(text: string): Endpoint | undefined {
  const at = text.lastIndexOf(':');
  const port = Number(text.slice(at + 1));
  return at > 0 && Number.isInteger(port) && port > 0 && port < 65536
    ? { address: text.slice(0, at), port }
    : undefined;
}

const keyText = (k: SrtpKey | null | undefined) =>
  k ? { suite: k.suite, key: typeof k.key === 'string' ? k.key : k.key.toString('base64') } : null;

export class MediaStream {
  readonly index: number;
  readonly media: string;
  readonly relay: Relay;
  readonly fixedRemote: string | undefined;
  readonly keys: Record<string, StreamKey> = {};
  authFailures = 0;
  readonly #legs: Record<LegName, RelayLegData>;
  readonly #events: StreamEvents;

  /** Opens the relay: throws the engine's error (an exhausted range) as it is. */
  constructor(
    engine: MediaEngine,
    id: string,
    at: { index: number; media: string },
    a: LegOptions,
    b: LegOptions,
    events: StreamEvents,
    fixedRemote?: string,
  ) {
    this.index = at.index;
    this.media = at.media;
    this.fixedRemote = fixedRemote;
    this.relay = engine.createRelay({ id, a, b });
    this.#events = events;
    this.#legs = {
      a: { options: a, recv: null, send: null, latched: null },
      b: { options: b, recv: null, send: null, latched: null },
    };
    this.relay.on('latched', (e) => {
      this.#legs[e.leg].latched = `${e.address}:${e.port}`;
      events.latched?.(this, e.leg);
    });
    this.relay.on('authFailures', (e) => {
      this.authFailures += e.count;
      events.authFailures(this, e.leg, e.count);
    });
    this.relay.on('timeout', (e) => events.timeout(this, e.leg, e.silentMs));
  }

  /**
   * Opens the relay again from `d` on this node (a call adopted from a dead core, docs/cluster.md): the same ports, on
   * `bindAddress` (the dead core's media address, moved here) when given; the same keys, each SRTP direction resuming
   * at its stored counters; a latching leg sends where it had latched until it latches again.
   */
  static restore(
    engine: MediaEngine,
    d: MediaStreamData,
    events: StreamEvents,
    bindAddress: string | null,
  ): MediaStream {
    const options = (leg: LegName): LegOptions => {
      const l = d.legs[leg];
      // A mux leg shares the engine's mux pair: its port is not the leg's own to take.
      if (l.options.mux) return l.options;
      const latched = l.latched && l.options.latch !== false ? endpoint(l.latched) : undefined;
      return {
        ...l.options,
        ...(latched ? { remote: latched } : {}),
        port: d.ports[leg].rtp,
        ...(bindAddress ? { bindAddress } : {}),
      };
    };
    const stream = new MediaStream(
      engine,
      d.relayId,
      { index: d.index, media: d.media },
      options('a'),
      options('b'),
      events,
      d.fixedRemote,
    );
    try {
      for (const leg of ['a', 'b'] as const) {
        const { recv, send } = d.legs[leg];
        if (!recv && !send) continue;
        const resume = d.srtp?.[leg];
        stream.setKeys(leg, {
          recv: recv && { ...recv, ...(resume?.recv.length ? { resume: resume.recv } : {}) },
          send: send && { ...send, ...(resume?.send.length ? { resume: resume.send } : {}) },
        });
      }
    } catch (err) {
      stream.close();
      throw err;
    }
    Object.assign(stream.keys, structuredClone(d.keys));
    stream.authFailures = d.authFailures;
    return stream;
  }

  get closed(): boolean {
    return this.relay.closed;
  }

  latched(leg: LegName): string | null {
    return this.#legs[leg].latched;
  }

  setKeys(leg: LegName, keys: { recv: SrtpKey | null; send: SrtpKey | null }): void {
    this.relay.setKeys(leg, keys);
    this.#legs[leg].recv = keyText(keys.recv);
    this.#legs[leg].send = keyText(keys.send);
  }

  setRemote(leg: LegName, rtp: Endpoint, rtcp?: Endpoint): void {
    this.relay.setRemote(leg, rtp, rtcp);
    this.#legs[leg].options = { ...this.#legs[leg].options, remote: rtp, ...(rtcp ? { remoteRtcp: rtcp } : {}) };
    this.#legs[leg].latched = null;
  }

  setRtcpMux(leg: LegName, rtcpMux: boolean): void {
    this.relay.setRtcpMux(leg, rtcpMux);
    this.#legs[leg].options = { ...this.#legs[leg].options, rtcpMux };
  }

  stats(): Record<LegName, LegStats> | undefined {
    return this.relay.closed ? undefined : this.relay.stats();
  }

  close(): void {
    if (this.relay.closed) return;
    void this.relay.close();
    this.#events.closed(this);
  }

  toData(withCounters = false): MediaStreamData {
    const copy = (l: RelayLegData): RelayLegData => ({ ...l, options: { ...l.options } });
    return {
      index: this.index,
      media: this.media,
      relayId: this.relay.id,
      ports: { a: { ...this.relay.ports.a }, b: { ...this.relay.ports.b } },
      legs: { a: copy(this.#legs.a), b: copy(this.#legs.b) },
      ...(this.fixedRemote !== undefined ? { fixedRemote: this.fixedRemote } : {}),
      keys: structuredClone(this.keys),
      authFailures: this.authFailures,
      ...(withCounters && !this.relay.closed ? { srtp: this.relay.srtpIndices() } : {}),
    };
  }
}
