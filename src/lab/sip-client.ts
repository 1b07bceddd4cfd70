// A lean SIP user agent over TLS, as a remote MRA client (Jabber, a phone) behaves: one TLS connection to
// the edge, REGISTER with digest, refresh before expiry, answer requests from the inside over the same
// connection. Tests use it directly; the load clients run many of these in worker threads.
import { connect, type TLSSocket } from 'node:tls';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  SipError,
  SipRequest,
  createResponse,
  fields,
  formatUri,
  generateBranch,
  generateTag,
  getParam,
  parseMessage,
  type SipResponse,
} from '../sip/message/index.js';
import { DigestCredentials, parseChallenge } from './digest.js';
import { StreamSipConnection } from '../sip/transport/index.js';
import { sendAnswers, type UasAnswer } from './uas.js';

export interface SipClientOptions {
  host: string;
  port: number;
  /** CA that signed the edge's certificate. */
  ca: string;
  /** TLS name to verify (default: host). */
  servername?: string;
  user: string;
  password: string;
  domain: string;
  expiresS?: number;
  /** Answer to requests from the inside: a status, or a status with a body (an SDP answer); default 200 for all but INVITE (486). */
  answer?: (req: SipRequest) => number | SipAnswer;
  timeoutMs?: number;
  /**
   * A Contact that does not change with the connection (`sip:user@<contactHost>;ob`): a client given every edge of a
   * cluster (DNS SRV) that moves to another one keeps its one binding, its Path replaced by the refresh (RFC 5626).
   */
  contactHost?: string;
}

export type SipAnswer = UasAnswer;

export interface SipResult {
  status: number;
  reason: string;
  response?: SipResponse;
}

export class SipClient {
  readonly opts: SipClientOptions;
  readonly aor: string;
  /** Requests received from the inside, by method. */
  readonly received = new Map<string, number>();
  readonly #callId = randomBytes(12).toString('hex');
  readonly #tag = generateTag();
  readonly #instance = randomUUID();
  readonly #pending = new Map<string, (r: SipResult) => void>();
  readonly #requestListeners: Array<(req: SipRequest) => void> = [];
  readonly #provisionalListeners: Array<(res: SipResponse) => void> = [];
  /** INVITEs from the inside whose final answer is still to come, by Call-ID: a CANCEL turns it into 487. */
  readonly #ringing = new Map<string, { cancel(): boolean }>();
  #conn: StreamSipConnection | undefined;
  readonly #credentials: DigestCredentials;
  #cseq = 1;
  #lastInvite: SipRequest | undefined;
  #refresh: NodeJS.Timeout | undefined;
  /** Set when the 401 challenge was met at least once (tests check the flow was really challenged). */
  challenged = 0;

  constructor(opts: SipClientOptions) {
    this.opts = opts;
    this.aor = `${opts.user}@${opts.domain}`;
    this.#credentials = new DigestCredentials(opts.user, opts.password);
  }

  /** Connects to the edge of the options, or to another one (`to`): the registration's Call-ID, tag and instance stay. */
  connect(to?: { host: string; port: number }, onClose?: () => void): Promise<void> {
    const target = to ?? this.opts;
    return new Promise((resolve, reject) => {
      const socket: TLSSocket = connect(
        { host: target.host, port: target.port, ca: this.opts.ca, servername: this.opts.servername },
        () => {
          socket.off('error', reject);
          const conn = new StreamSipConnection(socket, 'tls', { idleTimeoutMs: 0, headerTimeoutMs: 0 }, (data) =>
            this.#onMessage(data),
          );
          this.#conn = conn;
          conn.onClose(() => {
            this.#failPending('connection closed');
            onClose?.();
          });
          resolve();
        },
      );
      socket.once('error', reject);
    });
  }

  get connected(): boolean {
    return this.#conn !== undefined && !this.#conn.closed;
  }

  onRequest(listener: (req: SipRequest) => void): void {
    this.#requestListeners.push(listener);
  }

  /** Provisional responses (a 183 with early media's SDP) to this client's requests. */
  onProvisional(listener: (res: SipResponse) => void): void {
    this.#provisionalListeners.push(listener);
  }

  /** REGISTER, answering one digest challenge; resolves with the final response. */
  async register(expiresS = this.opts.expiresS ?? 3600): Promise<SipResult> {
    let r = await this.#send(this.#registerRequest(expiresS));
    const challenge = r.status === 401 ? parseChallenge(r.response?.header('www-authenticate') ?? '') : null;
    if (challenge) {
      this.challenged++;
      this.#credentials.accept(challenge);
      r = await this.#send(this.#registerRequest(expiresS));
    }
    return r;
  }

  /** Re-registers every `everyS` seconds (default: 80 % of the expiry), as clients do. */
  startRefresh(everyS?: number, onResult?: (r: SipResult) => void): void {
    this.stopRefresh();
    const period = (everyS ?? (this.opts.expiresS ?? 3600) * 0.8) * 1000;
    this.#refresh = setInterval(() => void this.register().then(onResult, () => {}), period);
    this.#refresh.unref();
  }

  stopRefresh(): void {
    clearInterval(this.#refresh);
  }

  /** An out-of-dialog request (MESSAGE, OPTIONS, INVITE) to a URI through the edge; an INVITE carries the client's Contact. */
  request(
    method: string,
    uri: string,
    body = '',
    contentType = 'text/plain',
    headers: Array<[string, string]> = [],
  ): Promise<SipResult> {
    const payload = Buffer.from(body, 'utf8');
    const extra: Array<[string, string]> = [
      ...headers,
      ...(payload.length ? [['Content-Type', contentType] as [string, string]] : []),
    ];
    if (method === 'INVITE' || method === 'SUBSCRIBE') extra.unshift(['Contact', this.#contact()]);
    const req = this.#build(method, uri, `<${uri}>`, randomBytes(10).toString('hex'), extra, payload);
    if (method === 'INVITE') this.#lastInvite = req;
    return this.#send(req);
  }

  /**
   * CANCELs the last INVITE this client sent (RFC 3261 §9.1: its request-URI, Call-ID, From, To, CSeq number and
   * top Via, CSeq method CANCEL); resolves with the CANCEL's own final response.
   */
  cancel(): Promise<SipResult> {
    const invite = this.#lastInvite;
    if (!invite) return Promise.resolve({ status: 0, reason: 'no INVITE to cancel' });
    const headers: Array<[string, string]> = [];
    for (const name of ['via', 'route', 'max-forwards', 'from', 'to', 'call-id'])
      for (const v of invite.headerList(name)) headers.push([name, v]);
    headers.push(['CSeq', `${invite.cseq().seq} CANCEL`], ['Content-Length', '0']);
    return this.#send(new SipRequest('CANCEL', invite.uri, fields(headers), Buffer.alloc(0)));
  }

  /**
   * The ACK for a 2xx to an INVITE this client sent to `uri`: in the dialog the 2xx formed, along its Record-Route
   * set reversed (RFC 3261 §12.1.2); `body` is the SDP answer when the 2xx carried the offer. Nothing answers an ACK.
   */
  ack(uri: string, res: SipResponse, body = ''): boolean {
    const payload = Buffer.from(body, 'utf8');
    const contact = res.contacts();
    const target = contact !== '*' && contact[0] ? formatUri(contact[0].uri) : uri;
    const routes = res
      .headerList('record-route')
      .reverse()
      .map((r): [string, string] => ['Route', r]);
    const cseq = Number.parseInt(res.header('cseq') ?? '0', 10);
    const extra: Array<[string, string]> = [
      ...routes,
      ...(payload.length ? [['Content-Type', 'application/sdp'] as [string, string]] : []),
    ];
    const req = this.#build('ACK', target, res.header('to') ?? `<${uri}>`, res.callId(), extra, payload, cseq);
    return this.#conn?.send(req.serialize()) ?? false;
  }

  /**
   * A request inside the dialog `res` (the 2xx, or a reliable 18x, of this client's INVITE) formed: to its Contact,
   * along its route set reversed, with the next CSeq and `headers` (a PRACK's RAck, Session-Expires); a re-INVITE or
   * UPDATE carries the client's Contact. Resolves with the final response.
   */
  inDialog(
    method: string,
    res: SipResponse,
    body = '',
    contentType = 'application/sdp',
    headers: Array<[string, string]> = [],
  ): Promise<SipResult> {
    const payload = Buffer.from(body, 'utf8');
    const contact = res.contacts();
    const target = contact !== '*' && contact[0] ? formatUri(contact[0].uri) : formatUri(res.to().uri);
    const extra: Array<[string, string]> = res
      .headerList('record-route')
      .reverse()
      .map((r): [string, string] => ['Route', r]);
    extra.push(...headers);
    if (method === 'INVITE' || method === 'UPDATE') extra.push(['Contact', this.#contact()]);
    if (payload.length) extra.push(['Content-Type', contentType]);
    return this.#send(this.#build(method, target, res.header('to')!, res.callId(), extra, payload));
  }

  /** Sends raw bytes on the connection (bad-input tests). */
  sendRaw(data: Buffer | string): boolean {
    return this.#conn?.send(data) ?? false;
  }

  close(): void {
    this.stopRefresh();
    this.#conn?.close('client closing');
  }

  /** Where requests in its dialogs reach it: its own TLS connection to the edge (RFC 5626 ;ob). */
  #contact(): string {
    return `<sip:${this.opts.user}@${this.#conn?.localAddress ?? 'invalid'}:${this.#conn?.localPort ?? 0};transport=tls;ob>`;
  }

  #registerRequest(expiresS: number): SipRequest {
    const uri = `sip:${this.opts.domain}`;
    const extra: Array<[string, string]> = [
      [
        'Contact',
        `<sip:${this.opts.user}@${this.opts.contactHost ?? `${this.#conn?.localAddress ?? 'invalid'}:${this.#conn?.localPort ?? 0}`};transport=tls;ob>;reg-id=1;+sip.instance="<urn:uuid:${this.#instance}>"`,
      ],
      ['Expires', String(expiresS)],
      ['Supported', 'path, outbound'],
    ];
    const auth = this.#credentials.authorization('REGISTER', uri);
    if (auth) extra.push(['Authorization', auth]);
    return this.#build('REGISTER', uri, `<sip:${this.aor}>`, this.#callId, extra, Buffer.alloc(0));
  }

  #build(
    method: string,
    uri: string,
    to: string,
    callId: string,
    extra: Array<[string, string]>,
    body: Buffer,
    cseq = this.#cseq++,
  ): SipRequest {
    return new SipRequest(
      method,
      uri,
      fields([
        [
          'Via',
          `SIP/2.0/TLS ${this.#conn?.localAddress ?? 'invalid'}:${this.#conn?.localPort ?? 0};branch=${generateBranch()};rport`,
        ],
        ['Max-Forwards', '70'],
        ['From', `<sip:${this.aor}>;tag=${this.#tag}`],
        ['To', to],
        ['Call-ID', callId],
        ['CSeq', `${cseq} ${method}`],
        ...extra,
        ['Content-Length', String(body.length)],
      ]),
      body,
    );
  }

  /**
   * RFC 3261 §17.1.1.3: a non-2xx final answer to this client's last INVITE is acknowledged in its transaction: the
   * INVITE's request-URI, top Via, Route, From, Call-ID and CSeq number, the answer's To (with the callee's tag).
   */
  #ackFailure(res: SipResponse): void {
    const invite = this.#lastInvite;
    if (!invite || invite.callId() !== res.callId() || invite.cseq().seq !== res.cseq().seq) return;
    const headers: Array<[string, string]> = [['Via', invite.headerList('via')[0]!]];
    for (const r of invite.headerList('route')) headers.push(['Route', r]);
    headers.push(
      ['Max-Forwards', '70'],
      ['From', invite.header('from')!],
      ['To', res.header('to')!],
      ['Call-ID', invite.callId()],
      ['CSeq', `${invite.cseq().seq} ACK`],
      ['Content-Length', '0'],
    );
    this.#conn?.send(new SipRequest('ACK', invite.uri, fields(headers), Buffer.alloc(0)).serialize());
  }

  #send(req: SipRequest): Promise<SipResult> {
    // A CANCEL shares its INVITE's branch: the two are told apart by their CSeq method.
    const branch = `${getParam(req.topVia().params, 'branch')!}|${req.method}`;
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => done({ status: 408, reason: 'Request Timeout (client)' }),
        this.opts.timeoutMs ?? 8000,
      );
      const done = (r: SipResult) => {
        clearTimeout(timer);
        this.#pending.delete(branch);
        resolve(r);
      };
      this.#pending.set(branch, done);
      if (!this.#conn?.send(req.serialize())) done({ status: 503, reason: 'Not connected' });
    });
  }

  #failPending(reason: string): void {
    for (const done of [...this.#pending.values()]) done({ status: 503, reason });
  }

  #onMessage(data: Buffer): void {
    let msg: ReturnType<typeof parseMessage>;
    try {
      msg = parseMessage(data, { stream: true });
    } catch (err) {
      if (err instanceof SipError) return;
      throw err;
    }
    if (!msg.isRequest) {
      if (msg.status < 200) {
        for (const l of this.#provisionalListeners) l(msg);
        return;
      }
      if (msg.status >= 300 && msg.cseq().method === 'INVITE') this.#ackFailure(msg);
      this.#pending.get(`${getParam(msg.topVia().params, 'branch') ?? ''}|${msg.cseq().method}`)?.({
        status: msg.status,
        reason: msg.reason,
        response: msg,
      });
      return;
    }
    this.received.set(msg.method, (this.received.get(msg.method) ?? 0) + 1);
    for (const l of this.#requestListeners) l(msg);
    if (msg.method === 'ACK') return void this.#ringing.delete(msg.callId());
    if (msg.method === 'CANCEL') {
      // RFC 3261 §9.2: 200 to the CANCEL and 487 to the INVITE it names, if that is still unanswered; else 481.
      const ringing = this.#ringing.get(msg.callId());
      this.#ringing.delete(msg.callId());
      this.#conn?.send(
        createResponse(
          msg,
          ringing ? 200 : 481,
          ringing ? {} : { reason: 'Call/Transaction Does Not Exist' },
        ).serialize(),
      );
      ringing?.cancel();
      return;
    }
    const a = this.opts.answer?.(msg) ?? (msg.method === 'INVITE' ? 486 : 200);
    const handle = sendAnswers(msg, typeof a === 'number' ? { status: a } : a, this.#contact(), this.#tag, (res) =>
      this.#conn?.send(res.serialize()),
    );
    if (msg.method === 'INVITE') this.#ringing.set(msg.callId(), handle);
  }
}
