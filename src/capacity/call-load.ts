// Calls at load through a pair: remote clients (TLS, registered through the pair) call inside phones behind the
// lab's call control, one client and one phone per concurrent call. A call is an INVITE with an SRTP offer
// (AES_CM_128_HMAC_SHA1_80, one m= line, or two with video), the phone's plain RTP/AVP answer, the ACK, media both
// ways from the generator (callgen.c), then BYE from the client. The load side (this process, call control and the
// generator) runs outside the pair's cgroups.
import { randomBytes } from 'node:crypto';
import { Sdp, parseCrypto } from '../sdp/index.js';
import type { SipRequest } from '../sip/message/index.js';
import type { CallControl } from '../lab/index.js';
import { AUDIO, VIDEO, type CallGenerator, type CallMediaFigures, type StreamPlan } from './callgen.js';
import { CallingClient, type ClientDialog, type SipFace } from './calling-client.js';

export const SUITE = 'AES_CM_128_HMAC_SHA1_80';

export interface CallLoadOptions {
  face: SipFace;
  domain: string;
  callControl: CallControl;
  /** Call control's users: the load adds its clients' (the object call control checks digests against). */
  users: Record<string, string>;
  gen: CallGenerator;
  /** Names the clients and phones of this load (two pairs share one call control). */
  prefix: string;
  /** The addresses the clients' and the phones' SDP name (the generator's sockets). */
  clientAddress: string;
  insideAddress: string;
  video: boolean;
}

/** A call that is up: what its teardown needs. */
export interface LiveCall {
  id: string;
  setupMs: number;
  /** SIP calls: whose call it is, and the dialog its BYE goes in. */
  client?: CallingClient;
  dialog?: ClientDialog;
}

/** How a call ended, for the step's figures. */
export interface CallOutcome {
  /** The INVITE's final status (200 when it was answered). */
  status: number;
  setupMs?: number;
  /** Why it failed, when it did: the INVITE's status, "media" (the answer was unusable), "bye <status>". */
  failure?: string;
  media?: CallMediaFigures;
}

function offerSdp(address: string, ports: number[], keys: Buffer[]): string {
  const lines = ['v=0', `o=- ${Date.now()} 1 IN IP4 ${address}`, 's=-', `c=IN IP4 ${address}`, 't=0 0'];
  keys.forEach((key, k) => {
    lines.push(
      k === 0 ? `m=audio ${ports[0]} RTP/SAVP 0` : `m=video ${ports[1]} RTP/SAVP 96`,
      k === 0 ? 'a=rtpmap:0 PCMU/8000' : 'a=rtpmap:96 H264/90000',
    );
    if (k === 0) lines.push('a=ptime:20');
    lines.push('a=sendrecv', `a=crypto:1 ${SUITE} inline:${key.toString('base64')}`);
  });
  return `${lines.join('\r\n')}\r\n`;
}

function phoneAnswer(address: string, ports: number[], lines: number): string {
  const out = ['v=0', `o=- ${Date.now()} 1 IN IP4 ${address}`, 's=-', `c=IN IP4 ${address}`, 't=0 0'];
  for (let k = 0; k < lines; k++)
    out.push(
      k === 0 ? `m=audio ${ports[0]} RTP/AVP 0` : `m=video ${ports[1]} RTP/AVP 96`,
      k === 0 ? 'a=rtpmap:0 PCMU/8000' : 'a=rtpmap:96 H264/90000',
      'a=sendrecv',
    );
  return `${out.join('\r\n')}\r\n`;
}

export class CallLoad {
  readonly clients: CallingClient[] = [];
  readonly #o: CallLoadOptions;
  /** What each inside phone was offered (the pair's inside ports per m= line), by Call-ID, until the call takes it. */
  readonly #offers = new Map<string, number[]>();
  #next = 0;

  constructor(o: CallLoadOptions) {
    this.#o = o;
  }

  get streams(): number {
    return this.#o.video ? 2 : 1;
  }

  #phone = (req: SipRequest): { status: number; body?: string } => {
    if (req.method !== 'INVITE') return { status: 200 };
    try {
      const media = Sdp.parse(req.body).media;
      if (media.length !== this.streams || media.some((m) => m.proto !== 'RTP/AVP')) return { status: 488 };
      this.#offers.set(
        req.callId(),
        media.map((m) => m.port),
      );
      return { status: 200, body: phoneAnswer(this.#o.insideAddress, this.#o.gen.ports.inside, media.length) };
    } catch {
      return { status: 488 };
    }
  };

  /** Connects and registers clients (and installs their phones) until there are `n`. */
  async ensureClients(
    n: number,
    concurrency = 50,
  ): Promise<{ added: number; failures: Record<string, number>; ms: number }> {
    const started = performance.now();
    const failures: Record<string, number> = {};
    const first = this.clients.length;
    let next = first;
    const lane = async () => {
      while (next < n) {
        const i = next++;
        const user = `${this.#o.prefix}user${i}`;
        this.#o.users[user] = `${user}-pw`;
        this.#o.callControl.phones.set(`${this.#o.prefix}phone${i}`, this.#phone);
        const c = new CallingClient({ face: this.#o.face, user, password: `${user}-pw`, domain: this.#o.domain });
        try {
          await c.connect();
          const r = await c.register(3600);
          if (r.status !== 200) failures[String(r.status)] = (failures[String(r.status)] ?? 0) + 1;
        } catch (err) {
          failures.connect = (failures.connect ?? 0) + 1;
          void err;
        }
        this.clients[i] = c;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
    return { added: n - first, failures, ms: performance.now() - started };
  }

  /** Client `i` calls phone `i`; with the 2xx, media starts both ways. */
  async place(i: number): Promise<LiveCall | CallOutcome> {
    const client = this.clients[i];
    if (!client?.connected) return { status: 0, failure: 'client not connected' };
    const id = `c${++this.#next}`;
    const callId = `${id}.${randomBytes(6).toString('hex')}@capacity`;
    const keys = Array.from({ length: this.streams }, () => randomBytes(30));
    const uri = `sip:${this.#o.prefix}phone${i}@${this.#o.domain}`;
    const r = await client.invite(uri, offerSdp(this.#o.clientAddress, this.#o.gen.ports.client, keys), callId);
    const inside = this.#offers.get(callId);
    this.#offers.delete(callId);
    if (!r.dialog || !r.response) return { status: r.status, failure: String(r.status) };
    const call: LiveCall = { id, client, dialog: r.dialog, setupMs: r.ms };
    try {
      const answer = Sdp.parse(r.response.body).media;
      if (!inside || answer.length !== keys.length) throw new Error('streams missing');
      const plans: StreamPlan[] = answer.map((m, k) => ({
        clientPort: m.port,
        clientTxKey: keys[k]!,
        clientRxKey: parseCrypto(m.attributes('crypto')[0] ?? '', 'answer').keySalt,
        insidePort: inside[k]!,
        ...(k === 0 ? AUDIO : VIDEO),
      }));
      await this.#o.gen.add(id, plans);
    } catch {
      await client.bye(r.dialog);
      return { status: r.status, setupMs: r.ms, failure: 'media' };
    }
    return call;
  }

  /** Stops the call's media; the caller waits for what is in flight before `end`. */
  async quiet(call: LiveCall): Promise<void> {
    await this.#o.gen.stop(call.id);
  }

  /** BYE, then the call's media figures. */
  async end(call: LiveCall): Promise<CallOutcome> {
    const bye = await call.client!.bye(call.dialog!);
    const media = await this.#o.gen.del(call.id);
    return {
      status: 200,
      setupMs: call.setupMs,
      media,
      ...(bye.status === 200 ? {} : { failure: `bye ${bye.status}` }),
    };
  }

  close(): void {
    for (const c of this.clients) c?.close();
    for (let i = 0; i < this.clients.length; i++) this.#o.callControl.phones.delete(`${this.#o.prefix}phone${i}`);
  }
}

export const isLive = (x: LiveCall | CallOutcome): x is LiveCall => 'id' in x;
