// The simulated remote clients' media: one media engine for all of them stands in for each client's SRTP stack.
// Per answered call a relay: leg a faces the edge (unprotects with the key core offered, protects with the key the
// client puts in its answer), leg b goes to a small echo that sends every packet back under the client's own SSRC,
// so the desk phone's RTP comes back and the status pages show packets flowing each way.
import dgram from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log/index.js';
import { MediaEngine, SRTP_SUITES, type Relay, type SrtpSuite } from '../media/index.js';
import { Sdp, formatCrypto, parseCrypto } from '../sdp/index.js';
import type { SipRequest } from '../sip/message/index.js';
import type { SipAnswer } from './sip-client.js';

export interface ClientMediaOptions {
  /** The clients' address (a loopback alias standing for the internet). */
  address: string;
  portMin: number;
  portMax: number;
  log: Logger;
}

export class ClientMedia {
  readonly #engine: MediaEngine;
  readonly #echo: dgram.Socket;
  readonly #address: string;
  readonly #log: Logger;
  readonly #calls = new Map<string, Relay>();

  private constructor(engine: MediaEngine, echo: dgram.Socket, o: ClientMediaOptions) {
    this.#engine = engine;
    this.#echo = echo;
    this.#address = o.address;
    this.#log = o.log;
    echo.on('message', (data, from) => {
      if (data.length < 12 || (data[1]! >= 192 && data[1]! <= 223)) return;
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

  /** What a client answers the inside with: 200 and SRTP for an INVITE's first keyed audio stream, 200 for the rest. */
  answer(req: SipRequest): number | SipAnswer {
    if (req.method === 'BYE') this.end(req.callId());
    if (req.method !== 'INVITE' || req.body.length === 0) return 200;
    try {
      const sdp = Sdp.parse(req.body);
      const m = sdp.media.find((x) => x.media === 'audio' && !x.disabled && x.attributes('crypto').length > 0);
      const offered = m && parseCrypto(m.attributes('crypto')[0]!, 'offer');
      if (!m || !offered || !(offered.suite in SRTP_SUITES)) return 488;
      const suite = offered.suite as SrtpSuite;
      const key = randomBytes(SRTP_SUITES[suite].keySaltLength);
      this.end(req.callId());
      const echo = this.#echo.address();
      const relay = this.#engine.createRelay({
        a: { remote: { address: m.address, port: m.port }, rtcpMux: m.rtcpMux },
        b: { remote: { address: echo.address, port: echo.port } },
      });
      relay.setKeys('a', { recv: { suite, key: offered.keySalt }, send: { suite, key } });
      this.#calls.set(req.callId(), relay);
      const body = [
        'v=0',
        `o=lab-client 1 1 IN IP4 ${this.#address}`,
        's=-',
        `c=IN IP4 ${this.#address}`,
        't=0 0',
        `m=audio ${relay.ports.a.rtp} ${m.proto} ${m.formats.join(' ')}`,
        'a=sendrecv',
        `a=crypto:${formatCrypto(offered.tag, suite, key)}`,
        '',
      ].join('\r\n');
      return { status: 200, body };
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'lab client could not answer the offer');
      return 488;
    }
  }

  end(callId: string): void {
    const relay = this.#calls.get(callId);
    this.#calls.delete(callId);
    void relay?.close();
  }

  async close(): Promise<void> {
    this.#echo.close();
    await this.#engine.close();
  }
}
