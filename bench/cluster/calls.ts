// Calls set up through a cluster (bench:cluster's second table): closed-loop lanes, each one remote client registered
// through an edge (lanes spread over the edges) and one inside phone behind the lab's call control; a lane places a
// call (INVITE with an SDES SRTP offer, the phone's RTP/AVP answer, ACK), hangs it up (BYE) and places the next. The
// set-up time is INVITE to its 200. No media flows: the SDP names two UDP sinks of this process, so what is measured
// is signalling and the relays each node makes and frees per call.
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { CallingClient, type SipFace } from '../../src/capacity/index.js';
import type { CallControl } from '../../src/lab/index.js';
import { LatencyHistogram } from '../../src/lab/load/index.js';

export interface CallFigures {
  /** Calls answered and hung up, per second of the loop. */
  perSecond: number;
  ok: number;
  p50: number;
  p99: number;
  failures: Record<string, number>;
}

const sdp = (port: number, line: string) =>
  `${['v=0', `o=- ${Date.now()} 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', line.replace('PORT', String(port)), 'a=rtpmap:0 PCMU/8000', 'a=ptime:20', 'a=sendrecv'].join('\r\n')}\r\n`;

async function sink(): Promise<Socket> {
  const s = createSocket('udp4');
  s.on('message', () => {});
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return s;
}

export class CallLanes {
  readonly #clients: CallingClient[];
  readonly #sinks: Socket[];
  readonly #prefix: string;
  readonly #domain: string;
  readonly #callControl: CallControl;
  #next = 0;

  private constructor(clients: CallingClient[], sinks: Socket[], prefix: string, domain: string, cc: CallControl) {
    this.#clients = clients;
    this.#sinks = sinks;
    this.#prefix = prefix;
    this.#domain = domain;
    this.#callControl = cc;
  }

  /** Registers `lanes` clients (lane i through faces[i % faces.length]) and installs their phones. */
  static async create(o: {
    faces: SipFace[];
    domain: string;
    callControl: CallControl;
    /** Call control's users: the lanes add theirs. */
    users: Record<string, string>;
    prefix: string;
    lanes: number;
  }): Promise<CallLanes> {
    const sinks = [await sink(), await sink()];
    const insidePort = sinks[1]!.address().port;
    const answer = sdp(insidePort, 'm=audio PORT RTP/AVP 0');
    const clients: CallingClient[] = [];
    for (let i = 0; i < o.lanes; i++) {
      const user = `${o.prefix}u${i}`;
      o.users[user] = `${user}-pw`;
      o.callControl.phones.set(`${o.prefix}p${i}`, (req) =>
        req.method === 'INVITE' ? { status: 200, body: answer } : { status: 200 },
      );
      const c = new CallingClient({
        face: o.faces[i % o.faces.length]!,
        user,
        password: `${user}-pw`,
        domain: o.domain,
      });
      clients.push(c);
    }
    const lanes = new CallLanes(clients, sinks, o.prefix, o.domain, o.callControl);
    try {
      await Promise.all(
        clients.map(async (c) => {
          await c.connect();
          const r = await c.register(3600);
          if (r.status !== 200) throw new Error(`${c.aor} could not register: ${r.status} ${r.reason}`);
        }),
      );
    } catch (err) {
      lanes.close();
      throw err;
    }
    return lanes;
  }

  /** Every lane places calls one after the other for `ms`; returns the calls answered and hung up per second. */
  async loop(ms: number): Promise<CallFigures> {
    const hist = new LatencyHistogram();
    const failures: Record<string, number> = {};
    const fail = (why: string) => (failures[why] = (failures[why] ?? 0) + 1);
    let ok = 0;
    const offerPort = this.#sinks[0]!.address().port;
    const started = performance.now();
    const end = started + ms;
    await Promise.all(
      this.#clients.map(async (client, i) => {
        while (performance.now() < end) {
          if (!client.connected) return void fail('connection lost');
          const key = randomBytes(30).toString('base64');
          const offer = sdp(offerPort, 'm=audio PORT RTP/SAVP 0').replace(
            'a=sendrecv',
            `a=sendrecv\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key}`,
          );
          const callId = `${this.#prefix}${++this.#next}.${randomBytes(6).toString('hex')}@bench-cluster`;
          const r = await client.invite(`sip:${this.#prefix}p${i}@${this.#domain}`, offer, callId);
          if (!r.dialog) {
            fail(String(r.status));
            continue;
          }
          const bye = await client.bye(r.dialog);
          if (bye.status !== 200) fail(`bye ${bye.status}`);
          else {
            ok++;
            hist.record(r.ms);
          }
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return { perSecond: ok / seconds, ok, p50: hist.percentile(50), p99: hist.percentile(99), failures };
  }

  close(): void {
    for (const c of this.#clients) c.close();
    for (let i = 0; i < this.#clients.length; i++) this.#callControl.phones.delete(`${this.#prefix}p${i}`);
    for (const s of this.#sinks) s.close();
  }
}
