// A remote client as a call at load needs it: one TLS connection to the pair's public face (our edge's 5061, or
// Kamailio's TLS port), REGISTER with digest, then calls: INVITE with an SRTP offer, the ACK for the 2xx along the
// dialog's route set (RFC 3261 §12.1.2), and BYE inside the dialog. Requests from the far side get 200.
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
  tagOf,
  type SipResponse,
} from '../sip/message/index.js';
import { StreamSipConnection } from '../sip/transport/index.js';
import { DigestCredentials, parseChallenge } from '../lab/index.js';

/** The pair's client-facing SIP over TLS. */
export interface SipFace {
  host: string;
  port: number;
  /** PEM CA that signed the face's certificate (verified, as a real client does). */
  ca: string;
  servername: string;
}

export interface Transaction {
  /** Final status; 408 when none came in time, 503 when the connection was gone. */
  status: number;
  reason: string;
  response?: SipResponse;
  /** From the request sent to its final response. */
  ms: number;
}

/** A dialog this client's INVITE formed: what a BYE needs. */
export interface ClientDialog {
  callId: string;
  fromTag: string;
  toTag: string;
  /** Whom the INVITE named (the To of every request in the dialog). */
  remote: string;
  target: string;
  routes: string[];
  cseq: number;
}

export class CallingClient {
  readonly aor: string;
  readonly #face: SipFace;
  readonly #user: string;
  readonly #domain: string;
  readonly #credentials: DigestCredentials;
  readonly #regCallId = randomBytes(12).toString('hex');
  readonly #instance = randomUUID();
  readonly #tag = generateTag();
  readonly #pending = new Map<string, (r: Transaction) => void>();
  readonly #timeoutMs: number;
  #conn: StreamSipConnection | undefined;
  #regCseq = 1;

  constructor(o: { face: SipFace; user: string; password: string; domain: string; timeoutMs?: number }) {
    this.#face = o.face;
    this.#user = o.user;
    this.#domain = o.domain;
    this.aor = `${o.user}@${o.domain}`;
    this.#credentials = new DigestCredentials(o.user, o.password);
    this.#timeoutMs = o.timeoutMs ?? 10_000;
  }

  get connected(): boolean {
    return this.#conn !== undefined && !this.#conn.closed;
  }

  connect(timeoutMs = 15_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket: TLSSocket = connect({
        host: this.#face.host,
        port: this.#face.port,
        ca: this.#face.ca,
        servername: this.#face.servername,
      });
      const timer = setTimeout(
        () => socket.destroy(new Error(`TLS connect to ${this.#face.host}:${this.#face.port} timed out`)),
        timeoutMs,
      );
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        socket.off('error', reject);
        this.#conn = new StreamSipConnection(socket, 'tls', { idleTimeoutMs: 0, headerTimeoutMs: 0 }, (data) =>
          this.#onMessage(data),
        );
        this.#conn.onClose(() => {
          for (const done of [...this.#pending.values()]) done({ status: 503, reason: 'connection closed', ms: 0 });
        });
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  close(): void {
    this.#conn?.close('client closing');
  }

  /** REGISTER, answering one digest challenge. */
  async register(expiresS: number): Promise<Transaction> {
    const started = performance.now();
    let r = await this.#send(this.#registerRequest(expiresS));
    const challenge = r.status === 401 ? parseChallenge(r.response?.header('www-authenticate') ?? '') : null;
    if (challenge) {
      this.#credentials.accept(challenge);
      r = await this.#send(this.#registerRequest(expiresS));
    }
    return { ...r, ms: performance.now() - started };
  }

  /** Sends an INVITE with `sdp` to `uri`; with a 2xx, ACKs it and returns the dialog. */
  async invite(uri: string, sdp: string, callId: string): Promise<Transaction & { dialog?: ClientDialog }> {
    const fromTag = generateTag();
    const body = Buffer.from(sdp);
    const req = this.#request(
      'INVITE',
      uri,
      `<${uri}>`,
      fromTag,
      callId,
      1,
      [['Content-Type', 'application/sdp']],
      body,
    );
    const r = await this.#send(req);
    const res = r.response;
    if (!res || r.status < 200 || r.status >= 300) return r;
    const contact = res.contacts();
    const dialog: ClientDialog = {
      callId,
      fromTag,
      toTag: tagOf(res.to()) ?? '',
      remote: uri,
      target: contact !== '*' && contact[0] ? formatUri(contact[0].uri) : uri,
      routes: res.headerList('record-route').reverse(),
      cseq: 1,
    };
    this.#conn?.send(this.#inDialog('ACK', dialog, 1).serialize());
    return { ...r, dialog };
  }

  /** BYE inside `dialog`. */
  bye(dialog: ClientDialog): Promise<Transaction> {
    dialog.cseq += 1;
    return this.#send(this.#inDialog('BYE', dialog, dialog.cseq));
  }

  #inDialog(method: string, d: ClientDialog, cseq: number): SipRequest {
    const routes = d.routes.map((r): [string, string] => ['Route', r]);
    return this.#request(
      method,
      d.target,
      `<${d.remote}>;tag=${d.toTag}`,
      d.fromTag,
      d.callId,
      cseq,
      routes,
      Buffer.alloc(0),
    );
  }

  #registerRequest(expiresS: number): SipRequest {
    const uri = `sip:${this.#domain}`;
    const c = this.#conn;
    const extra: Array<[string, string]> = [
      [
        'Contact',
        `<sip:${this.#user}@${c?.localAddress ?? 'invalid'}:${c?.localPort ?? 0};transport=tls;ob>;reg-id=1;+sip.instance="<urn:uuid:${this.#instance}>"`,
      ],
      ['Expires', String(expiresS)],
      ['Supported', 'path, outbound'],
    ];
    const auth = this.#credentials.authorization('REGISTER', uri);
    if (auth) extra.push(['Authorization', auth]);
    return this.#request(
      'REGISTER',
      uri,
      `<sip:${this.aor}>`,
      `${this.#regCallId}r`,
      this.#regCallId,
      this.#regCseq++,
      extra,
      Buffer.alloc(0),
    );
  }

  #request(
    method: string,
    uri: string,
    to: string,
    fromTag: string,
    callId: string,
    cseq: number,
    extra: Array<[string, string]>,
    body: Buffer,
  ): SipRequest {
    const c = this.#conn;
    const contact: Array<[string, string]> =
      method === 'INVITE'
        ? [['Contact', `<sip:${this.#user}@${c?.localAddress ?? 'invalid'}:${c?.localPort ?? 0};transport=tls;ob>`]]
        : [];
    return new SipRequest(
      method,
      uri,
      fields([
        ['Via', `SIP/2.0/TLS ${c?.localAddress ?? 'invalid'}:${c?.localPort ?? 0};branch=${generateBranch()};rport`],
        ['Max-Forwards', '70'],
        ['From', `<sip:${this.aor}>;tag=${fromTag}`],
        ['To', to],
        ['Call-ID', callId],
        ['CSeq', `${cseq} ${method}`],
        ...contact,
        ...extra,
        ['Content-Length', String(body.length)],
      ]),
      body,
    );
  }

  #send(req: SipRequest): Promise<Transaction> {
    const branch = getParam(req.topVia().params, 'branch')!;
    const started = performance.now();
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => done({ status: 408, reason: 'no final response in time', ms: performance.now() - started }),
        this.#timeoutMs,
      );
      const done = (r: Transaction) => {
        clearTimeout(timer);
        this.#pending.delete(branch);
        resolve(r);
      };
      this.#pending.set(branch, (r) => done({ ...r, ms: performance.now() - started }));
      if (!this.#conn?.send(req.serialize())) done({ status: 503, reason: 'not connected', ms: 0 });
    });
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
      if (msg.status >= 200)
        this.#pending.get(getParam(msg.topVia().params, 'branch') ?? '')?.({
          status: msg.status,
          reason: msg.reason,
          response: msg,
          ms: 0,
        });
      return;
    }
    if (msg.method === 'ACK') return;
    // Whatever the far side asks (OPTIONS, a BYE from the inside) gets 200; an INVITE to a client that only calls, 486.
    this.#conn?.send(createResponse(msg, msg.method === 'INVITE' ? 486 : 200, { toTag: this.#tag }).serialize());
  }
}
