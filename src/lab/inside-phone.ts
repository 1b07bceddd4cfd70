// An inside phone of the lab: a real endpoint behind the lab's call control, as a desk phone or a video endpoint on
// Unified CM is. It answers calls to its user (audio, and video when it has a camera: an answer line for each offered
// m= line, RTP on each), places calls, puts a call on hold and resumes it (re-INVITEs with a=sendonly and
// a=sendrecv, RFC 3264 §8.4), honours the other side's hold, ends a call with BYE or on the other side's, and sends
// and hears DTMF as RFC 4733 telephone-events. Its media is plain RTP from its own sockets on the inside's address.
import { describe, type Direction } from '../calls/index.js';
import type { Logger } from '../log/index.js';
import { Sdp, SdpError, SdpSyntaxError } from '../sdp/index.js';
import type { SipRequest } from '../sip/message/index.js';
import { type CallControl, type Dialog, newDialog } from './call-control.js';
import { isDigits } from './dtmf.js';
import { LAB_CODECS, type LabMedia, answerDirection, labSdp } from './lab-sdp.js';
import { PhoneStream } from './phone-stream.js';
import type { UasAnswer } from './uas.js';

export interface LabPhoneOptions {
  /** Its user on call control (desk, room): calls to <user>@<domain> reach it. */
  user: string;
  domain: string;
  /** The inside's address: its SIP goes through call control there, its RTP leaves from it. */
  address: string;
  /** A video endpoint offers and accepts a video stream beside its audio. */
  video: boolean;
  callControl: CallControl;
  log: Logger;
}

export interface CallFailure {
  status: number;
  reason: string;
}

/** One call of the phone: placed (it holds the dialog) or answered; its streams line up with the SDP's m= lines. */
export class PhoneCall {
  readonly callId: string;
  /** The other party: whom the phone called, or who called it. */
  readonly peer: string;
  readonly outgoing: boolean;
  /** Its m= lines in order; undefined where a stream is off. */
  streams: Array<PhoneStream | undefined> = [];
  /** The offered m= lines the phone turned off (BFCP, video on an audio phone), repeated with port 0 in its answers. */
  readonly refused = new Map<number, { media: string; proto: string; formats: string[] }>();
  /** The phone put the call on hold; `heldByPeer`: the other side did. */
  held = false;
  heldByPeer = false;
  /** The other side ended it (BYE, CANCEL), not the phone. */
  endedByPeer = false;
  /** Digits heard from the other side, in order, as telephone-events. */
  heard = '';
  /** Resolves with why the call ended (a BYE either way, a failed request). */
  readonly ended: Promise<string>;
  dialog: Dialog | undefined;
  #version = 1;
  #endedWith: ((why: string) => void) | undefined;
  #over = false;

  constructor(callId: string, peer: string, outgoing: boolean) {
    this.callId = callId;
    this.peer = peer;
    this.outgoing = outgoing;
    this.ended = new Promise((resolve) => {
      this.#endedWith = resolve;
    });
  }

  get over(): boolean {
    return this.#over;
  }

  /** What Expressway counts it as: video when a video stream is on, else audio. */
  get kind(): LabMedia {
    return this.streams.some((s) => s?.media === 'video') ? 'video' : 'audio';
  }

  /** This phone's SDP for its streams, each declaring `direction`; a new version each time (RFC 3264 §8). */
  sdp(user: string, address: string, directionOf: (s: PhoneStream) => Direction): string {
    return labSdp({
      user,
      address,
      version: this.#version++,
      streams: this.streams.map((s, i) =>
        s
          ? {
              media: s.media,
              port: s.port,
              proto: 'RTP/AVP',
              formats: LAB_CODECS[s.media].formats,
              attributes: LAB_CODECS[s.media].attributes,
              direction: directionOf(s),
            }
          : { media: 'audio', proto: 'RTP/AVP', formats: ['0'], ...this.refused.get(i), port: 0 },
      ),
    });
  }

  /** Points each stream at what the other side's SDP (an offer or an answer) says; `mine` is this side's direction. */
  follow(body: Buffer | undefined, mine: (theirs: Direction) => Direction): void {
    if (!body?.length) return;
    const other = describe(Sdp.parse(body));
    for (const [i, s] of this.streams.entries()) {
      const o = other.streams[i];
      if (!s) continue;
      if (!o || o.port === 0) s.point(undefined, 'inactive', 'inactive');
      else s.point({ address: o.address, port: o.port }, mine(o.direction), o.direction);
    }
  }

  end(why: string): void {
    if (this.#over) return;
    this.#over = true;
    for (const s of this.streams) s?.close();
    this.#endedWith?.(why);
  }
}

export class LabPhone {
  readonly user: string;
  readonly #o: LabPhoneOptions;
  readonly #log: Logger;
  readonly #calls = new Map<string, PhoneCall>();
  readonly #handler = (req: SipRequest) => this.#onRequest(req);
  #closed = false;

  constructor(o: LabPhoneOptions) {
    this.user = o.user;
    this.#o = o;
    this.#log = o.log.child({ lab: `${o.user} phone` });
    o.callControl.phones.set(o.user, this.#handler);
  }

  get aor(): string {
    return `${this.user}@${this.#o.domain}`;
  }

  get calls(): PhoneCall[] {
    return [...this.#calls.values()];
  }

  /** Calls `aor` (a registered user) with audio, and video on a video phone; the call once answered, else why not. */
  async call(aor: string): Promise<PhoneCall | CallFailure> {
    const dialog = newDialog(this.user);
    const call = await this.#open(dialog.callId, aor, true, this.#o.video ? ['audio', 'video'] : ['audio']);
    const offer = call.sdp(this.user, this.#o.address, () => 'sendrecv');
    const r = await this.#o.callControl.request(aor, 'INVITE', offer, 'application/sdp', 8000, this.#headers(), dialog);
    if (r.status !== 200 || !r.dialog) {
      this.#finish(call, `${r.status} ${r.reason}`);
      return { status: r.status, reason: r.reason };
    }
    call.dialog = r.dialog;
    this.#o.callControl.ack(aor, r.dialog);
    try {
      call.follow(r.body, () => 'sendrecv');
    } catch (err) {
      this.#log.warn({ callId: call.callId, err: (err as Error).message }, 'lab phone: answer SDP unusable');
    }
    this.#log.info({ to: aor, callId: call.callId, kind: call.kind }, 'lab phone call answered');
    return call;
  }

  /** Puts a call it placed on hold (a=sendonly: it goes on sending, as music on hold) or resumes it (a=sendrecv). */
  async hold(call: PhoneCall, on = true): Promise<CallFailure> {
    const r = await this.#reinvite(call, on ? 'sendonly' : 'sendrecv');
    if (r.status === 200) {
      call.held = on;
      this.#log.info(
        { to: call.peer, callId: call.callId },
        on ? 'lab phone put the call on hold' : 'lab phone resumed the call',
      );
    }
    return r;
  }

  /** Sends `digits` as RFC 4733 telephone-events on the call's audio stream; false when it is not flowing. */
  async sendDigits(call: PhoneCall, digits: string): Promise<boolean> {
    if (!isDigits(digits)) throw new RangeError(`not DTMF digits: ${JSON.stringify(digits)}`);
    const sent = (await call.streams[0]?.sendDigits(digits)) ?? false;
    if (sent) this.#log.info({ to: call.peer, callId: call.callId, digits }, 'lab phone sent DTMF');
    return sent;
  }

  /** Ends a call it placed with BYE (the other side's BYE ends the others). */
  async hangUp(call: PhoneCall): Promise<CallFailure> {
    if (call.over || !call.dialog) return { status: 481, reason: 'Call is over' };
    const r = await this.#o.callControl.request(call.peer, 'BYE', '', 'text/plain', 8000, [], call.dialog);
    this.#finish(call, `BYE sent: ${r.status} ${r.reason}`);
    return { status: r.status, reason: r.reason };
  }

  close(): void {
    this.#closed = true;
    // A test that put its own phone under this user keeps it.
    if (this.#o.callControl.phones.get(this.user) === this.#handler) this.#o.callControl.phones.delete(this.user);
    for (const call of this.#calls.values()) this.#finish(call, 'phone closed');
  }

  /** Its Contact: call control, which hands the other side's in-dialog requests for this user to the phone. */
  #headers(): Array<[string, string]> {
    return [['Contact', `<sip:${this.user}@${this.#o.address}:${this.#o.callControl.ports.tcp};transport=tcp>`]];
  }

  /** A new offer in the call, every stream declaring `mine`; the answer points them again. */
  async #reinvite(call: PhoneCall, mine: Direction): Promise<CallFailure> {
    if (call.over || !call.dialog) return { status: 481, reason: 'Call is over' };
    const r = await this.#o.callControl.request(
      call.peer,
      'INVITE',
      call.sdp(this.user, this.#o.address, () => mine),
      'application/sdp',
      8000,
      this.#headers(),
      call.dialog,
    );
    if (r.dialog) call.dialog = r.dialog;
    if (r.status !== 200 || !r.dialog) return { status: r.status, reason: r.reason };
    this.#o.callControl.ack(call.peer, r.dialog);
    call.follow(r.body, () => mine);
    return { status: r.status, reason: r.reason };
  }

  async #open(callId: string, peer: string, outgoing: boolean, media: Array<LabMedia | undefined>): Promise<PhoneCall> {
    const call = new PhoneCall(callId, peer, outgoing);
    this.#calls.set(callId, call);
    const onDigits = (digits: string) => {
      call.heard += digits;
      this.#log.info({ from: peer, callId, digits }, 'lab phone heard DTMF');
    };
    try {
      call.streams = await Promise.all(
        media.map((m) => (m ? PhoneStream.open(m, this.#o.address, onDigits) : undefined)),
      );
    } catch (err) {
      this.#finish(call, `no media: ${(err as Error).message}`);
      throw err;
    }
    if (this.#closed) this.#finish(call, 'phone closed');
    return call;
  }

  #finish(call: PhoneCall, why: string): void {
    this.#calls.delete(call.callId);
    call.end(why);
  }

  /** A request to its user from the other side: a new call, a re-INVITE, the ACK, a BYE, INFO... Never throws. */
  async #onRequest(req: SipRequest): Promise<UasAnswer> {
    const call = this.#calls.get(req.callId());
    try {
      switch (req.method) {
        case 'INVITE':
          return call ? this.#reoffered(call, req) : await this.#invited(req);
        case 'ACK':
          // The answer to the offer its 2xx made (an INVITE without SDP).
          call?.follow(req.body, answerDirection);
          return { status: 200 };
        case 'BYE':
        case 'CANCEL':
          if (!call) return { status: 481 };
          this.#log.info(
            { from: call.peer, callId: call.callId },
            `lab phone call ended by the other side (${req.method})`,
          );
          call.endedByPeer = true;
          this.#finish(call, `${req.method} received`);
          return { status: 200 };
        case 'INFO':
          this.#log.info({ callId: req.callId(), body: req.body.toString('utf8').trim() }, 'lab phone got INFO');
          return { status: 200 };
        default:
          return { status: 200 };
      }
    } catch (err) {
      const status = err instanceof SdpSyntaxError ? 400 : 488;
      if (!(err instanceof SdpError)) this.#log.warn({ err: (err as Error).message }, 'lab phone could not answer');
      return {
        status,
        headers: [['Reason', `SIP;cause=${status};text="${(err as Error).message.replace(/"/g, "'")}"`]],
      };
    }
  }

  /** A new call: a stream for each offered audio (and, on a video phone, video) line; the others are turned off. */
  async #invited(req: SipRequest): Promise<UasAnswer> {
    if (this.#closed) return { status: 480 };
    const peer = fromUser(req);
    const offer = req.body.length ? describe(Sdp.parse(req.body)) : undefined;
    const wanted: Array<LabMedia | undefined> = offer
      ? offer.streams.map((s) =>
          s.port !== 0 && /^RTP\/AVP/.test(s.proto) && (s.media === 'audio' || (s.media === 'video' && this.#o.video))
            ? (s.media as LabMedia)
            : undefined,
        )
      : this.#o.video
        ? ['audio', 'video']
        : ['audio'];
    if (!wanted.some(Boolean)) return { status: 488 };
    const call = await this.#open(req.callId(), peer, false, wanted);
    for (const s of offer?.streams ?? [])
      if (!wanted[s.index]) call.refused.set(s.index, { media: s.media, proto: s.proto, formats: s.formats });
    this.#log.info({ from: peer, callId: call.callId, kind: call.kind }, 'lab phone answered a call');
    // A delayed offer: the phone offers in its 200 and takes the answer from the ACK.
    if (!offer) return { status: 200, body: call.sdp(this.user, this.#o.address, () => 'sendrecv') };
    return this.#answer(call, req);
  }

  /** A re-INVITE: the same streams and ports, pointed at what it offers; without SDP, the phone offers again. */
  #reoffered(call: PhoneCall, req: SipRequest): UasAnswer {
    if (!req.body.length)
      return { status: 200, body: call.sdp(this.user, this.#o.address, () => (call.held ? 'sendonly' : 'sendrecv')) };
    return this.#answer(call, req);
  }

  #answer(call: PhoneCall, req: SipRequest): UasAnswer {
    const offered = describe(Sdp.parse(req.body));
    const direction = (i: number) => answerDirection(offered.streams[i]?.direction ?? 'sendrecv');
    call.follow(req.body, answerDirection);
    const held = offered.streams.some(
      (s) => s.port !== 0 && (s.direction === 'sendonly' || s.direction === 'inactive'),
    );
    if (held !== call.heldByPeer)
      this.#log.info(
        { from: call.peer, callId: call.callId },
        held ? 'lab phone: the other side put the call on hold' : 'lab phone: the other side resumed the call',
      );
    call.heldByPeer = held;
    const body = call.sdp(this.user, this.#o.address, (s) => direction(call.streams.indexOf(s)));
    return { status: 200, body };
  }
}

/** The caller's user@host, from From. */
function fromUser(req: SipRequest): string {
  const uri = req.from().uri;
  return uri.kind === 'sip' ? `${uri.user ?? ''}@${uri.host}` : uri.opaque;
}
