// The lab's call control: a registrar and proxy that talks to core as Unified CM does. It challenges
// REGISTERs (401, MD5 digest), keeps bindings with expiry, honours Path (RFC 3327) by sending every request
// for a client back along it over the connection core opened, and routes requests between registered users.
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log/index.js';
import {
  SipRequest,
  createResponse,
  fields,
  formatUri,
  generateBranch,
  generateTag,
  getParam,
  parseUri,
  removeTopVia,
  tagOf,
  type SipResponse,
} from '../sip/message/index.js';
import { NonceIssuer, digestResponse, parseDigest } from './digest.js';
import { StreamSipConnection, type SipConnection } from '../sip/transport/index.js';
import { answer, aorOf, hopFault, parseOrAnswer, statelessBranch, viaValue } from '../sip/routing/index.js';
import { Bindings, type Binding } from './call-control-bindings.js';
import { sendAnswers, type UasAnswer } from './uas.js';

export interface CallControlOptions {
  address: string;
  /** TCP (5060); 0 lets the OS choose. */
  port: number;
  /** Also listen for TLS (5061, a mixed-mode cluster) when given. */
  tls?: { cert: string; key: string; port: number };
  /** user → password, the same for every domain (realm = the domain). */
  users: Record<string, string>;
  log: Logger;
  maxExpiresS?: number;
}

export interface RequestResult {
  status: number;
  reason: string;
  /** The dialog the request was in or (answered with a tag) formed: pass it back for an in-dialog request (BYE). */
  dialog?: Dialog;
  /** The final response's body (an INVITE's SDP answer). */
  body?: Buffer;
}

/**
 * A phone on the inside, registered nowhere but known to call control: it answers what is sent to its user (at once,
 * or once it has opened its media), and sees the ACK too (an SDP answer may ride it), whose result is ignored.
 */
export type InsidePhone = (req: SipRequest) => UasAnswer | Promise<UasAnswer>;

/** An INVITE dialog as the lab's side of it knows it: enough to send a request inside it. */
export interface Dialog {
  callId: string;
  fromTag: string;
  toTag: string | null;
  cseq: number;
  /** The user the lab's side is in it (From): an inside phone, or call control itself (the default). */
  local?: string;
}

/** A dialog the lab's side is about to form (no To tag, no request yet): `request` with it sends the first one as `local`. */
export function newDialog(local?: string): Dialog {
  return {
    callId: randomBytes(10).toString('hex'),
    fromTag: generateTag(),
    toTag: null,
    cseq: 0,
    ...(local ? { local } : {}),
  };
}

const MARK = 'lab-cc';
/** How long an INVITE to a phone is remembered after its final answer (64 × T1, RFC 6026's Timer L). */
const INVITE_KEPT_MS = 32_000;
/** The To tag inside phones answer with (one per phone would do as well: a dialog is its Call-ID and both tags). */
const PHONE_TAG = generateTag();

/** The lab's users (password = name + "-pw"): what `npm start` offers a client to register with. */
export const LAB_SIP_USERS: Record<string, string> = { alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw' };
/** Inside phones: users of the lab's call control that register with it directly (127.0.3.1:5060), not through the edge. */
export const LAB_INSIDE_PHONE_USERS: Record<string, string> = { desk: 'desk-pw' };

export class CallControl {
  readonly #opts: CallControlOptions;
  readonly #log: Logger;
  readonly #servers: Server[] = [];
  readonly #connections = new Map<string, SipConnection>();
  readonly #nonces = new NonceIssuer();
  readonly bindings = new Bindings();
  readonly #pending = new Map<string, (res: SipResponse) => void>();
  readonly ports = { tcp: 0, tls: 0 };
  /** Inside phones by user name (the lab's desk phone when a client calls it). */
  readonly phones = new Map<string, InsidePhone>();
  /** Call forward all: a call to the key goes to the value's user instead (what Unified CM does for a forwarded line). */
  readonly forwards = new Map<string, string>();
  /** Phones' INVITEs by Call-ID, until 32 s after their final answer: a CANCEL turns one still ringing into 487. */
  readonly #ringing = new Map<string, { cancel(): boolean }>();

  constructor(opts: CallControlOptions) {
    this.#opts = opts;
    this.#log = opts.log.child({ lab: 'call-control' });
  }

  async start(): Promise<this> {
    this.ports.tcp = await this.#listen(
      createTcpServer((s) => this.#accept(s, 'tcp')),
      this.#opts.port,
    );
    if (this.#opts.tls) {
      const t = this.#opts.tls;
      this.ports.tls = await this.#listen(
        createTlsServer({ cert: t.cert, key: t.key }, (s) => this.#accept(s, 'tls')),
        t.port,
      );
    }
    this.#log.info(
      { address: this.#opts.address, ports: this.ports, users: Object.keys(this.#opts.users).length },
      'lab call control up',
    );
    return this;
  }

  async close(): Promise<void> {
    const closing = this.#servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    for (const c of this.#connections.values()) c.close('call control closing');
    this.bindings.clear();
    await Promise.all(closing);
  }

  /**
   * Sends a request (OPTIONS, MESSAGE, INVITE...) to a registered user along its Path; resolves with the final
   * status. With `dialog` (from an earlier result) the request is sent inside that dialog (a BYE).
   */
  request(
    aor: string,
    method: string,
    body = '',
    contentType = 'text/plain',
    timeoutMs = 8000,
    headers: Array<[string, string]> = [],
    dialog?: Dialog,
  ): Promise<RequestResult> {
    const binding = this.bindings.lookup(aor)[0];
    if (!binding) return Promise.resolve({ status: 480, reason: 'Not registered' });
    const branch = generateBranch();
    const d: Dialog = dialog ? { ...dialog, cseq: dialog.cseq + 1 } : { ...newDialog(), cseq: 1 };
    const req = this.#build(binding, aor, method, d, branch, body, contentType, headers);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(branch);
        resolve({ status: 408, reason: 'Request Timeout' });
      }, timeoutMs);
      this.#pending.set(branch, (res) => {
        clearTimeout(timer);
        this.#pending.delete(branch);
        resolve({
          status: res.status,
          reason: res.reason,
          dialog: { ...d, toTag: d.toTag ?? tagOf(res.to()) },
          body: res.body,
        });
      });
      if (!binding.conn.send(req.serialize()))
        this.#pending.get(branch)!(createResponse(req, 503, { reason: 'Flow to core gone' }));
    });
  }

  /**
   * The ACK for an INVITE's 2xx, inside the dialog the result formed: with `body`, the SDP answer to an offer the 2xx
   * carried (an INVITE sent without SDP). Nothing answers an ACK; it is sent and forgotten.
   */
  ack(aor: string, dialog: Dialog, body = '', contentType = 'application/sdp'): boolean {
    const binding = this.bindings.lookup(aor)[0];
    if (!binding) return false;
    return binding.conn.send(
      this.#build(binding, aor, 'ACK', dialog, generateBranch(), body, contentType, []).serialize(),
    );
  }

  #build(
    binding: Binding,
    aor: string,
    method: string,
    d: Dialog,
    branch: string,
    body: string,
    contentType: string,
    headers: Array<[string, string]>,
  ): SipRequest {
    const payload = Buffer.from(body, 'utf8');
    return new SipRequest(
      method,
      binding.contact,
      fields([
        [
          'Via',
          viaValue(binding.conn.transport, binding.conn.localAddress, binding.conn.localPort, [
            ['branch', branch],
            [MARK, 'origin'],
          ]),
        ],
        ...binding.path.map((p) => ['Route', p] as const),
        ['Max-Forwards', '70'],
        ['From', `<sip:${d.local ?? 'callcontrol'}@${aor.split('@')[1]}>;tag=${d.fromTag}`],
        ['To', `<sip:${aor}>${d.toTag ? `;tag=${d.toTag}` : ''}`],
        ['Call-ID', d.callId],
        ['CSeq', `${d.cseq} ${method}`],
        ...headers,
        ...(payload.length ? [['Content-Type', contentType] as const] : []),
        ['Content-Length', String(payload.length)],
      ]),
      payload,
    );
  }

  #listen(server: Server, port: number): Promise<number> {
    this.#servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.#opts.address, () => resolve((server.address() as AddressInfo).port));
    });
  }

  #accept(socket: import('node:net').Socket, transport: 'tcp' | 'tls'): void {
    socket.on('error', () => {});
    const conn = new StreamSipConnection(socket, transport, { idleTimeoutMs: 0 }, (data, c) =>
      this.#onMessage(data, c),
    );
    this.#connections.set(conn.id, conn);
    conn.onClose(() => this.#connections.delete(conn.id));
  }

  #onMessage(data: Buffer, conn: SipConnection): void {
    // The lab answers a malformed message and logs nothing: the proxies in front of it log their own refusals.
    const msg = parseOrAnswer(
      data,
      (reply) => conn.send(reply),
      () => {},
    );
    if (!msg) return;
    if (!msg.isRequest) return this.#onResponse(msg);
    if (msg.method === 'REGISTER') return this.#register(msg, conn);
    this.#route(msg, conn);
  }

  #onResponse(res: SipResponse): void {
    const top = res.vias()[0];
    const mark = top ? getParam(top.params, MARK) : undefined;
    if (mark === 'origin') {
      if (res.status >= 200) this.#pending.get(getParam(top!.params, 'branch') ?? '')?.(res);
      return;
    }
    if (!mark) return;
    removeTopVia(res);
    this.#connections.get(mark)?.send(res.serialize());
  }

  #register(req: SipRequest, conn: SipConnection): void {
    const aor = aorOf(req);
    const [user, realm] = aor.split('@') as [string, string];
    const auth = req.header('authorization');
    const verdict = auth ? this.#verify(auth, req, realm) : 'missing';
    if (verdict !== 'ok') {
      const stale = verdict === 'stale' ? ', stale=true' : '';
      this.#log.debug({ aor, verdict }, 'lab registrar challenge');
      return void conn.send(
        answer(req, 401, undefined, [
          [
            'WWW-Authenticate',
            `Digest realm="${realm}", nonce="${this.#nonces.issue()}", qop="auth", algorithm=MD5${stale}`,
          ],
        ]),
      );
    }
    if (parseDigest(auth!)!.username !== user)
      return void conn.send(answer(req, 403, 'Authenticated user does not own this address'));
    const contacts = req.contacts();
    const expiresHeader = req.header('expires');
    const max = this.#opts.maxExpiresS ?? 3600;
    if (contacts === '*') this.bindings.removeAll(aor);
    else {
      const paths = req.headerValues('path').flatMap((v) => v.split(/,(?![^<]*>)/).map((s) => s.trim()));
      for (const c of contacts) {
        const asked = Number(getParam(c.params, 'expires') ?? expiresHeader ?? max);
        const expires = Math.min(Number.isFinite(asked) ? asked : max, max);
        this.bindings.set(aor, formatUri(c.uri), { path: paths, conn, callId: req.callId(), expiresS: expires });
      }
    }
    const current = this.bindings.lookup(aor);
    const headers: Array<[string, string]> = current.map((b) => [
      'Contact',
      `<${b.contact}>;expires=${b.remainingS()}`,
    ]);
    // RFC 3327 §5.3: the registrar echoes the Path it stored, so the client learns its service route.
    if (current[0]?.path.length && /\bpath\b/i.test(req.header('supported') ?? ''))
      headers.push(['Path', current[0].path.join(', ')]);
    headers.push(['Date', new Date().toUTCString()]);
    conn.send(createResponse(req, 200, { headers }).serialize());
  }

  #verify(auth: string, req: SipRequest, realm: string): 'ok' | 'stale' | 'bad' {
    const p = parseDigest(auth);
    if (!p?.username || !p.nonce || !p.response || !p.uri || p.realm !== realm) return 'bad';
    const password = this.#opts.users[p.username];
    if (password === undefined) return 'bad';
    const nonce = this.#nonces.check(p.nonce);
    if (nonce !== 'ok') return nonce;
    const want = digestResponse(
      { username: p.username, realm: p.realm, nonce: p.nonce, uri: p.uri, qop: p.qop, nc: p.nc, cnonce: p.cnonce },
      password,
      req.method,
    );
    return want === p.response ? 'ok' : 'bad';
  }

  /** Sends `req` on to the connection whose far end the Route names (a proxy that connected here and recorded itself). */
  #forwardAlongRoute(req: SipRequest, from: SipConnection, route: SipRequest['uri']): void {
    const to = this.#connectionFrom(route);
    if (to) return this.#forward(req, from, to);
    if (req.method !== 'ACK') from.send(answer(req, 404, `No connection to the next hop ${formatUri(route)}`));
  }

  /** Proxies a request to the registered user it names (or to the contact it names, inside a dialog). */
  #route(req: SipRequest, conn: SipConnection): void {
    const hop = hopFault(req);
    if (hop) return void conn.send(createResponse(req, hop.status, { reason: hop.reason }).serialize());
    while (this.#isOwnRoute(req)) req.removeFirstValue('route');
    // In a dialog call control recorded itself in, the rest of the route set leads on (RFC 3261 §16.12: loose
    // routing): a call between two remote clients goes back out through core, over the connection core opened here.
    const next = req.routes()[0]?.uri;
    if (next) return this.#forwardAlongRoute(req, conn, next);
    if (req.uri.kind !== 'sip') return void conn.send(answer(req, 416, 'Only sip: URIs are routed'));
    // Call forward all: a new call for a forwarded user goes to the user it is forwarded to.
    const forwardedTo = req.uri.user && !tagOf(req.to()) ? this.forwards.get(req.uri.user) : undefined;
    if (forwardedTo) req.uri = { ...req.uri, user: forwardedTo };
    const uri = req.uri;
    const target: Binding | undefined =
      this.bindings.byContact(formatUri(uri)) ?? this.bindings.lookup(`${uri.user ?? ''}@${uri.host}`.toLowerCase())[0];
    // A phone registered here may give, in a dialog, the Contact of the connection it opened rather than the one it
    // registered (RFC 5626 flows): that connection is the way to it.
    const flow = target ? undefined : this.#connectionFrom(uri);
    if (flow) return this.#forward(req, conn, flow);
    const phone = uri.user ? this.phones.get(uri.user) : undefined;
    if (!target && phone) {
      // Seen (it may carry an SDP answer), never answered.
      if (req.method === 'ACK') return void Promise.resolve(phone(req)).catch(() => {});
      // The phone sits behind call control: its Contact names call control, which brings the dialog's requests here.
      const contact = `<sip:${uri.user}@${conn.localAddress}:${conn.localPort};transport=${conn.transport}>`;
      const send = (res: SipResponse) => conn.send(res.serialize());
      if (req.method === 'CANCEL') {
        // RFC 3261 §9.2: 200 to the CANCEL; an INVITE still unanswered gets 487.
        const ringing = this.#ringing.get(req.callId());
        void Promise.resolve(phone(req)).catch(() => {});
        send(createResponse(req, ringing ? 200 : 481, ringing ? {} : { reason: 'Call/Transaction Does Not Exist' }));
        ringing?.cancel();
        this.#ringing.delete(req.callId());
        return;
      }
      const answerWith = (a: UasAnswer) => {
        const handle = sendAnswers(req, a, contact, PHONE_TAG, send);
        if (req.method !== 'INVITE') return;
        const callId = req.callId();
        this.#ringing.set(callId, handle);
        // The INVITE's transaction is kept 32 s past its final answer (RFC 6026: a CANCEL crossing the 200 still finds
        // it), then forgotten, so a lab that runs for days does not keep every call it answered.
        const forget = setTimeout(
          () => this.#ringing.get(callId) === handle && this.#ringing.delete(callId),
          (a.finalAfterMs ?? 0) + INVITE_KEPT_MS,
        );
        forget.unref();
      };
      // A phone that opens its media first answers later; one that answers at once is answered in this turn, so a
      // CANCEL right behind its INVITE finds it ringing.
      const a = phone(req);
      if (!(a instanceof Promise)) return answerWith(a);
      a.then(answerWith, (err: Error) => send(createResponse(req, 500, { reason: `Phone failed: ${err.message}` })));
      return;
    }
    if (!target) {
      // OPTIONS to the registrar itself is a keepalive/capabilities probe.
      if (req.method === 'OPTIONS' && !uri.user) return void conn.send(createResponse(req, 200).serialize());
      if (req.method !== 'ACK')
        conn.send(
          answer(req, uri.user && this.#opts.users[uri.user] !== undefined ? 480 : 404, 'No registered contact'),
        );
      return;
    }
    req.uri = parseUri(target.contact);
    req.removeHeader('route');
    for (const p of target.path) req.addHeader('route', p);
    if (req.method === 'INVITE' || req.method === 'SUBSCRIBE') {
      req.addHeader(
        'record-route',
        `<sip:${conn.localAddress}:${conn.localPort};transport=${conn.transport};lr;${MARK}>`,
        'top',
      );
    }
    this.#forward(req, conn, target.conn);
  }

  /** Forwards `req` (from `from`) on the connection `to`, with call control's Via naming where the answer goes back. */
  #forward(req: SipRequest, from: SipConnection, to: SipConnection): void {
    req.addHeader(
      'via',
      viaValue(to.transport, to.localAddress, to.localPort, [
        ['branch', statelessBranch(req, 'lab')],
        [MARK, from.id],
      ]),
      'top',
    );
    if (!to.send(req.serialize()) && req.method !== 'ACK') from.send(answer(req, 480, 'Flow to the contact gone'));
  }

  /** The connection a UA opened from the host and port `uri` names, if any. */
  #connectionFrom(uri: SipRequest['uri']): SipConnection | undefined {
    if (uri.kind !== 'sip' || uri.port === null) return undefined;
    const remote = `${uri.host}:${uri.port}`;
    return [...this.#connections.values()].find((c) => c.remote === remote);
  }

  /** A Route naming call control: the mark of its own Record-Route, or its address and a port it listens on. */
  #isOwnRoute(req: SipRequest): boolean {
    const top = req.routes()[0]?.uri;
    if (top?.kind !== 'sip') return false;
    if (getParam(top.params, MARK) !== undefined) return true;
    const port = top.port ?? (getParam(top.params, 'transport')?.toLowerCase() === 'tls' ? 5061 : 5060);
    return top.host === this.#opts.address && (port === this.ports.tcp || port === this.ports.tls);
  }
}
