// The simulated remote clients' media: one media engine for all of them stands in for each client's SRTP stack.
// Per answered stream (audio, video) a relay: leg a faces the edge (unprotects with the key core offered, protects
// with the key the client puts in its answer), leg b goes to a small echo that sends every packet back under the
// client's own SSRC, so the inside phone's RTP comes back and the status pages show packets flowing each way on
// every stream. A re-INVITE keeps each stream's relay, port and key; a hold (a=sendonly from the inside) is
// answered a=recvonly and the echo is quiet until the resume; telephone-events are heard, not echoed.
import dgram from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log/index.js';
import { describe, type Direction, type StreamDescription } from '../calls/index.js';
import { MediaEngine, SRTP_SUITES, type Relay, type SrtpSuite } from '../media/index.js';
import { Sdp, formatCrypto, parseCrypto, type MediaDescription, type SdpCrypto } from '../sdp/index.js';
import type { SipRequest } from '../sip/message/index.js';
import { DtmfReceiver } from './dtmf.js';
import { answerDirection, formatAttributes, labSdp, payloadTypeOf, sends, type LabStreamLine } from './lab-sdp.js';
import type { SipAnswer } from './sip-client.js';

export interface ClientMediaOptions {
  /** The clients' address (a loopback alias standing for the internet). */
  address: string;
  portMin: number;
  portMax: number;
  log: Logger;
}

interface ClientStream {
  media: string;
  relay: Relay;
  suite: SrtpSuite;
  /** The key core offered (what the client unprotects with) and the client's own (what it answered). */
  recv: Buffer;
  send: Buffer;
  remote: string;
  /** The client's direction, as it answered. */
  direction: Direction;
  dtmf: DtmfReceiver | undefined;
}

/** What a client knows of one of its calls: the streams it answered, whether the inside holds it, the digits heard. */
export interface ClientCall {
  callId: string;
  /** The client (its AOR) the call is for. */
  aor: string;
  streams: Array<ClientStream | undefined>;
  held: boolean;
  heard: string;
  version: number;
}

const usableSuite = (m: Pick<MediaDescription, 'attributes'>): SdpCrypto | undefined => {
  for (const value of m.attributes('crypto')) {
    const c = parseCrypto(value, 'offer');
    if (c.suite in SRTP_SUITES && !c.unsupportedParams) return c;
  }
  return undefined;
};

export class ClientMedia {
  readonly #engine: MediaEngine;
  readonly #echo: dgram.Socket;
  readonly #address: string;
  readonly #log: Logger;
  readonly #calls = new Map<string, ClientCall>();
  /** Streams by the port their relay's leg b sends from: how the echo tells whose packet it has. */
  readonly #byPort = new Map<number, ClientStream>();

  private constructor(engine: MediaEngine, echo: dgram.Socket, o: ClientMediaOptions) {
    this.#engine = engine;
    this.#echo = echo;
    this.#address = o.address;
    this.#log = o.log.child({ lab: 'client media' });
    echo.on('message', (data, from) => {
      if (data.length < 12 || (data[1]! >= 192 && data[1]! <= 223)) return;
      const stream = this.#byPort.get(from.port);
      if (stream?.dtmf?.feed(data)) return;
      if (stream && !sends(stream.direction)) return;
      data.writeUInt32BE(0x1abc0000 | (from.port & 0xffff), 8);
      echo.send(data, from.port, from.address);
    });
  }

  static async start(o: ClientMediaOptions): Promise<ClientMedia> {
    // A client terminates its SRTP: nothing of it could pass through the kernel, so no BPF program is loaded for it.
    const engine = await MediaEngine.create({
      workers: 1,
      muxPairs: 0,
      bindAddress: o.address,
      portMin: o.portMin,
      portMax: o.portMax,
      kernelPath: 'off',
    });
    const echo = dgram.createSocket('udp4');
    echo.bind(0, o.address);
    await once(echo, 'listening');
    return new ClientMedia(engine, echo, o);
  }

  /** The calls the clients are in now (tests read what the far end saw: hold, digits). */
  calls(): ClientCall[] {
    return [...this.#calls.values()];
  }

  /**
   * What a client answers the inside with: to an INVITE or re-INVITE, 200 with SRTP for each keyed audio and video
   * stream (port 0 for the others), 488 when none is keyed; 200 to the rest.
   */
  answer(req: SipRequest): number | SipAnswer {
    if (req.method === 'BYE') this.end(req.callId());
    if (req.method !== 'INVITE' || req.body.length === 0) return 200;
    const known = this.#calls.get(req.callId());
    const call: ClientCall = known ?? {
      callId: req.callId(),
      aor: aorOf(req),
      streams: [],
      held: false,
      heard: '',
      version: 1,
    };
    try {
      const sdp = Sdp.parse(req.body);
      const offer = describe(sdp);
      const lines = offer.streams.map((s) => this.#answerStream(call, s, sdp.media[s.index]!));
      if (!call.streams.some(Boolean)) {
        this.end(call.callId);
        return 488;
      }
      this.#calls.set(call.callId, call);
      const held = offer.streams.some((s) => s.port !== 0 && !sends(answerDirection(s.direction)));
      if (held !== call.held)
        this.#log.info(
          { aor: call.aor, callId: call.callId },
          held ? 'lab client: the inside put the call on hold' : 'lab client: the inside resumed the call',
        );
      call.held = held;
      return {
        status: 200,
        body: labSdp({ user: 'lab-client', address: this.#address, version: call.version++, streams: lines }),
      };
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'lab client could not answer the offer');
      // A new call's streams opened before the bad line close with it; a call that was up keeps what it had.
      if (!known) for (let i = 0; i < call.streams.length; i++) this.#closeStream(call, i);
      return 488;
    }
  }

  /** One offered stream: its relay (kept from an earlier offer when the stream is the same), and its answer line. */
  #answerStream(call: ClientCall, s: StreamDescription, m: MediaDescription): LabStreamLine {
    const offered =
      s.port !== 0 && (s.media === 'audio' || s.media === 'video') && /^RTP\/SAVP/.test(s.proto)
        ? usableSuite(m)
        : undefined;
    const was = call.streams[s.index];
    if (!offered) {
      this.#closeStream(call, s.index);
      return { media: s.media, port: 0, proto: s.proto, formats: s.formats };
    }
    const suite = offered.suite as SrtpSuite;
    const remote = `${s.address}:${s.port}`;
    let stream = was && was.media === s.media && was.suite === suite ? was : undefined;
    if (stream) {
      if (stream.remote !== remote) stream.relay.setRemote('a', { address: s.address, port: s.port });
      if (!stream.recv.equals(offered.keySalt))
        stream.relay.setKeys('a', { recv: { suite, key: offered.keySalt }, send: { suite, key: stream.send } });
      stream.remote = remote;
      stream.recv = offered.keySalt;
    } else {
      this.#closeStream(call, s.index);
      stream = this.#openStream(call, s, m, suite, offered.keySalt);
    }
    stream.direction = answerDirection(s.direction);
    return {
      media: s.media,
      port: stream.relay.ports.a.rtp,
      proto: s.proto,
      formats: s.formats,
      attributes: [
        ...formatAttributes(m),
        ...(s.rtcpMux ? ['rtcp-mux'] : []),
        `crypto:${formatCrypto(offered.tag, suite, stream.send)}`,
      ],
      direction: stream.direction,
    };
  }

  #openStream(call: ClientCall, s: StreamDescription, m: MediaDescription, suite: SrtpSuite, recv: Buffer) {
    const echo = this.#echo.address();
    const relay = this.#engine.createRelay({
      a: { remote: { address: s.address, port: s.port }, rtcpMux: s.rtcpMux },
      b: { remote: { address: echo.address, port: echo.port } },
    });
    const send = randomBytes(SRTP_SUITES[suite].keySaltLength);
    relay.setKeys('a', { recv: { suite, key: recv }, send: { suite, key: send } });
    const pt = payloadTypeOf(m, 'telephone-event');
    const stream: ClientStream = {
      media: s.media,
      relay,
      suite,
      recv,
      send,
      remote: `${s.address}:${s.port}`,
      direction: 'sendrecv',
      dtmf:
        pt === undefined
          ? undefined
          : new DtmfReceiver(pt, (digits) => {
              call.heard += digits;
              this.#log.info({ aor: call.aor, callId: call.callId, digits }, 'lab client heard DTMF');
            }),
    };
    call.streams[s.index] = stream;
    this.#byPort.set(relay.ports.b.rtp, stream);
    return stream;
  }

  #closeStream(call: ClientCall, index: number): void {
    const stream = call.streams[index];
    if (!stream) return;
    call.streams[index] = undefined;
    this.#byPort.delete(stream.relay.ports.b.rtp);
    stream.dtmf?.close();
    void stream.relay.close();
  }

  end(callId: string): void {
    const call = this.#calls.get(callId);
    this.#calls.delete(callId);
    if (call) for (let i = 0; i < call.streams.length; i++) this.#closeStream(call, i);
  }

  async close(): Promise<void> {
    for (const callId of [...this.#calls.keys()]) this.end(callId);
    this.#echo.close();
    await this.#engine.close();
  }
}

/** The client a request is for: its To (the Request-URI is the client's contact, not its AOR). */
function aorOf(req: SipRequest): string {
  const uri = req.to().uri;
  return uri.kind === 'sip' ? `${uri.user ?? ''}@${uri.host}` : uri.opaque;
}
