// The edge's SIP rules (Expressway-E): clients on TLS 5061 ↔ core over the traversal SIP channel.
// Stateless in the RFC 3261 §16.11 sense: everything a response needs to find its way back (the client's
// flow) rides in the edge's own Via, so nothing is held per transaction and a core restart loses nothing.
import type { Logger } from '../../log/index.js';
import type { Store } from '../../store/index.js';
import type { DomainTable } from '../../domains/index.js';
import { DomainTable as Table } from '../../domains/index.js';
import type { MessageChannel } from '../../traversal/index.js';
import {
  type SipError,
  type SipRequest,
  addPath,
  addRecordRoute,
  getParam,
  removeTopVia,
  tagOf,
  type SipResponse,
  type SipUri,
} from '../message/index.js';
import { SipTlsListener, type SipConnection, type ConnectionLimits, type SipTap } from '../transport/index.js';
import { FlowTokens } from './flow-token.js';
import { AwaitingAnswers } from './awaiting-answers.js';
import {
  BOUND_HEADER,
  CORRELATION_HEADER,
  VIA_REGISTRATION,
  PROXY_PARSE_LIMITS,
  answer,
  answerError,
  aorOf,
  correlationId,
  grantedExpires,
  handleOrAnswer,
  hopFault,
  logFailure,
  ownTopVia,
  rawAnswer,
  reasonHeader,
  statelessBranch,
  viaValue,
} from './hop.js';
import { RegistrationCounter } from './registrations.js';
import { chooseCore, namedCore } from './core-choice.js';
import { isDomainEvent, isDomainNotify } from './domain-sync.js';
import { CallTable, callStatus, mediaStatus } from './calls.js';
import type { MediaStatus, SipStatus } from './status.js';
import { CAPACITY_REACHED, admit, carry, forwarded, isRefusal, type Admitted, type Refusal } from './pipeline.js';
import { overloadAnswer } from './overload.js';
import type { MediaEngine } from '../../media/index.js';
import { EdgeMedia } from '../b2bua/index.js';

export interface EdgeSipProxyOptions {
  listen: { address: string; port: number };
  /** Sees each message to and from clients (a HEP feed). */
  tap?: SipTap;
  /** Host written into the edge's Via/Path/Record-Route (its public name or address). */
  publicHost: string;
  /**
   * Every other name and address a Route may name this edge by (RFC 3261 §16.4): its public name (the one
   * get_edge_config hands out), its certificate's DNS names and IP addresses, a NAT's public address. The domains
   * in core's domain table count too, as clients configured with the domain as outbound proxy name it so.
   */
  names?: readonly string[];
  tls: { cert: string; key: string };
  limits: Partial<ConnectionLimits>;
  maxConnections: number;
  /** Native network threads for the client TLS listener. */
  tlsThreads?: number;
  /** A client's request that waited this long in the queue is answered 503 at once (sip.max_queue_wait_s; 0: never). */
  maxQueueWaitMs?: number;
  store: Store;
  /** This edge's name (flow tokens carry it, so core sends a client's requests over the link to this edge). */
  node?: string;
  /** The cluster's flow-token key (the store's shared secret), so every edge can verify a peer's tokens. */
  flowKey?: Buffer;
  capacity: number;
  /** Call legs this node carries; a new call beyond them gets 503 (capacity.calls). */
  callCapacity?: number;
  /** The media engine and the addresses its SDP names; without it SDP passes untouched (no media through the edge). */
  media?: { engine: MediaEngine; publicAddress?: string; muxAddress: string };
  /** Maintenance mode, read as each new registration or call arrives (NodeContext.maintenance). */
  maintenance?: () => boolean;
  log: Logger;
}

const VIA_MARK = 'mra-edge';
/** In the edge's Via on a request from core: which core sent it, so the client's answer goes back to that one. */
const VIA_CORE = 'mra-core-node';
/** Requests that form a dialog: the edge stays on its route so in-dialog requests find the client's flow. */
const DIALOG_FORMING = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);
const RETRY_AFTER: [string, string] = ['Retry-After', '5'];
/**
 * A client's request sent to core and not answered yet: enough to answer it if the channel goes. The bytes as
 * the client sent them, not the parsed request: what lives across a round trip is promoted to the old generation,
 * and a parsed request left there several KB of garbage per client for the next full collection.
 */
interface InFlight {
  data: Buffer;
  conn: SipConnection;
  ch: MessageChannel;
}

export class EdgeSipProxy {
  readonly #opts: EdgeSipProxyOptions;
  readonly #log: Logger;
  readonly #tokens: FlowTokens;
  readonly #listener: SipTlsListener;
  readonly #registrations: RegistrationCounter;
  readonly #cores: MessageChannel[] = [];
  /** Registration keys per client connection: a connection that drops takes its registrations with it. */
  readonly #keysByConnection = new Map<string, Set<string>>();
  /**
   * Requests sent to core and not answered yet, by the edge's branch, oldest first. Only so that a core channel
   * that closes under them (a core restart, a cut link) gets each of them a 503 at once: a client on TLS never
   * retransmits, and would otherwise wait out its 32 s transaction timer for an answer that cannot come.
   */
  readonly #inFlight = new AwaitingAnswers<InFlight>();
  readonly #calls: CallTable;
  readonly #media: EdgeMedia | undefined;
  #domains: DomainTable | null = null;
  /** publicHost and opts.names, lower case. */
  readonly #names: ReadonlySet<string>;
  #shedLoggedAt = 0;
  #port = 0;
  readonly counters = { fromClients: 0, toClients: 0, refused: 0, flowFailed: 0 };

  /** The domain table core last sent, null until the first: the XMPP listener checks stream domains in it. */
  get domainTable(): DomainTable | null {
    return this.#domains;
  }

  constructor(opts: EdgeSipProxyOptions) {
    this.#opts = opts;
    this.#log = opts.log.child({ plane: 'sip' });
    this.#names = new Set([opts.publicHost, ...(opts.names ?? [])].map((n) => n.toLowerCase()));
    this.#tokens = new FlowTokens({
      ...(opts.node ? { node: opts.node } : {}),
      ...(opts.flowKey ? { key: opts.flowKey } : {}),
    });
    this.#registrations = new RegistrationCounter(opts.store, opts.capacity);
    this.#calls = new CallTable({ capacity: opts.callCapacity });
    this.#media = opts.media && new EdgeMedia({ ...opts.media, log: this.#log, agent: opts.publicHost });
    this.#listener = new SipTlsListener({
      address: opts.listen.address,
      port: opts.listen.port,
      tls: opts.tls,
      limits: opts.limits,
      maxConnections: opts.maxConnections,
      threads: opts.tlsThreads,
      log: this.#log,
      onMessage: (data, conn) => logFailure(this.#log, this.#fromClient(data, conn), 'sip edge: client message failed'),
      onConnectionClosed: (conn) => void this.#forgetConnection(conn.id),
      onShed: (data, conn) => this.#shed(data, conn),
      ...(opts.tap ? { tap: opts.tap } : {}),
      ...(opts.maxQueueWaitMs !== undefined ? { maxQueueWaitMs: opts.maxQueueWaitMs } : {}),
    });
  }

  async start(): Promise<number> {
    this.#port = await this.#listener.listen();
    this.#log.info({ address: this.#opts.listen.address, port: this.#port }, 'sip tls listener up');
    return this.#port;
  }

  get port(): number {
    return this.#port;
  }

  /** Each core's SIP traversal channel: requests toward clients and responses to the clients' requests. */
  addCoreChannel(ch: MessageChannel): void {
    this.#cores.push(ch);
    ch.onMessage((data) => logFailure(this.#log, this.#fromCore(data, ch), 'sip edge: core message failed'));
    ch.on('close', () => {
      const i = this.#cores.indexOf(ch);
      if (i >= 0) this.#cores.splice(i, 1);
      this.#answerInFlight(ch);
    });
  }

  /** The registrations held through this node (the admin API's registrations query). */
  registrations(): ReturnType<RegistrationCounter['list']> {
    return this.#registrations.list();
  }

  async status(): Promise<SipStatus> {
    return {
      port: this.#port,
      connections: this.#listener.connectionCount,
      tls: this.#listener.stats(),
      overloadShed: this.#listener.shed,
      registrations: await this.#registrations.count(),
      capacity: this.#registrations.capacity,
      domains: this.#domains?.size ?? null,
      coreChannels: this.#cores.length,
      ...callStatus(this.#calls, this.#media),
      ...this.counters,
    };
  }

  /** The media section: call legs against capacity.calls (the capacity alarm reads it), relays and their counters. */
  mediaStatus(): MediaStatus {
    return mediaStatus(this.#calls, this.#media);
  }

  async close(): Promise<void> {
    await this.#listener.close();
    this.#calls.close();
  }

  /** The core for a client's request: the one its dialog names while up, else by its Call-ID (core-choice.ts). */
  #core(req: SipRequest | SipResponse, named?: string): MessageChannel | undefined {
    return chooseCore(this.#cores, req.callId(), named);
  }

  #refuse(
    conn: SipConnection,
    req: SipRequest,
    status: number,
    text: string,
    headers: Array<[string, string]> = [],
  ): void {
    this.counters.refused++;
    this.#log.warn(
      {
        corr: correlationId(req),
        callId: req.callId(),
        conn: conn.id,
        remote: conn.remote,
        method: req.method,
        status,
        reason: text,
      },
      'sip request refused',
    );
    if (req.method !== 'ACK') conn.send(answer(req, status, text, headers));
  }

  #fromClient(data: Buffer, conn: SipConnection): void | Promise<void> {
    this.counters.fromClients++;
    // A client's request is checked whole at the door; its response (to a request from the inside) is
    // passed on by the edge's own Via, and the inside reads the rest.
    return handleOrAnswer(
      data,
      (reply) => conn.send(reply),
      (err) => {
        this.counters.refused++;
        this.#log.warn(
          { conn: conn.id, remote: conn.remote, status: err.status, reason: err.reason },
          'sip message refused',
        );
      },
      { limits: PROXY_PARSE_LIMITS, check: 'requests' },
      (msg) => (msg.isRequest ? this.#requestFromClient(msg, conn, data) : this.#responseFromClient(msg, conn)),
    );
  }

  #requestFromClient(req: SipRequest, conn: SipConnection, data: Buffer): void | Promise<void> {
    const hop = hopFault(req);
    if (hop) return this.#refuseError(conn, req, hop);
    // A client never legitimately routes through the inside: Path is for proxies (RFC 3327), and out of a
    // dialog a Route may only name this edge. In a dialog the route set starts with the edge's own entry
    // (recorded here); the rest was recorded behind core, which checks that it leads on to call control. The
    // edge refuses rather than strips, so a probe is visible in the logs.
    if (req.has('path')) return this.#refuse(conn, req, 403, 'Path header not accepted from a client');
    const inDialog = tagOf(req.to()) !== null;
    for (const [i, r] of req.routes().entries()) {
      if (!this.#isOwn(r.uri) && (!inDialog || i === 0))
        return this.#refuse(conn, req, 403, 'Route to a host other than the edge');
    }
    while (req.routes().length > 0 && this.#isOwn(req.routes()[0]!.uri)) req.removeFirstValue('route');
    const domains = this.#domains;
    const named = inDialog ? namedCore(req) : undefined;
    const core = this.#core(req, named);
    if (!domains || !core)
      return this.#refuse(
        conn,
        req,
        503,
        core ? 'Domain table not yet received from core' : 'No traversal link to core',
        [RETRY_AFTER],
      );
    // Whatever a client wrote in this header is replaced: the id is the edge's to give. A registration's id is a
    // hash of its AOR and Call-ID (RegistrationCounter's key): the edge counts by it, and carries it in its Via so
    // the answer is counted without parsing To again.
    const corr = correlationId(req);
    const admission = admit(req, {
      lookup: (d) => domains.lookup(d),
      registrations: this.#registrations,
      calls: this.#calls,
      maintenance: this.#opts.maintenance?.() === true,
      registrationKey: () => corr,
    });
    // Only a store outside the process (Redis) makes this wait: with memory, no promise on the way.
    return admission instanceof Promise
      ? admission.then((a) => this.#forwardFromClient(req, conn, data, a, corr, core, named))
      : this.#forwardFromClient(req, conn, data, admission, corr, core, named);
  }

  /** A client's request admitted (or refused) by this node: to core, with the edge's Via, Path or Record-Route. */
  #forwardFromClient(
    req: SipRequest,
    conn: SipConnection,
    data: Buffer,
    admitted: Admitted | Refusal,
    corr: string,
    core: MessageChannel,
    named: string | undefined,
  ): void {
    if (isRefusal(admitted)) return this.#refuse(conn, req, admitted.status, admitted.text, admitted.headers);

    const token = this.#tokens.issue(conn.id);
    const branch = statelessBranch(req, conn.id);
    const viaParams: Array<[string, string]> = [
      ['branch', branch],
      [VIA_MARK, token],
    ];
    if (admitted.registration) {
      viaParams.push(['mra-exp', String(admitted.registration.expires)], [VIA_REGISTRATION, corr]);
      addPath(req, this.#ownUri(token));
    } else if (DIALOG_FORMING.has(req.method)) addRecordRoute(req, this.#ownUri(token));
    const carried = carry(req, this.#calls, this.#media, false, conn.id, () => this.#media!.clientSide);
    if (isRefusal(carried)) return this.#refuse(conn, req, carried.status, carried.text, carried.headers);
    req.addHeader('via', viaValue('TLS', this.#opts.publicHost, this.#port, viaParams), 'top');
    req.setHeader(CORRELATION_HEADER, corr);
    this.#log.debug({ corr, callId: req.callId(), conn: conn.id, method: req.method }, 'sip request to core');
    // The link may have gone while the Store answered: the client hears so now rather than time out.
    const ch = core.closed ? (this.#core(req, named) ?? core) : core;
    const sent = ch.send(req.serialize());
    forwarded(req, this.#calls, carried, sent, false, conn.id);
    if (!sent) {
      removeTopVia(req);
      this.#refuse(conn, req, 503, 'No traversal link to core', [RETRY_AFTER]);
    } else if (req.method !== 'ACK' && req.method !== 'CANCEL') this.#inFlight.sent(branch, { data, conn, ch });
  }

  /**
   * Sustained overload (more than the node can handle, for longer than sip.max_queue_wait_s): a request that waited
   * that long is answered 503 with Retry-After from its raw bytes, a fraction of forwarding it, so the queue
   * empties to the fresh ones and the rate forwarded holds up instead of the node working on requests their
   * clients are about to give up on. Responses, ACKs and requests inside a dialog are always handled.
   */
  #shed(data: Buffer, conn: SipConnection): boolean {
    const reply = overloadAnswer(data);
    if (!reply) return false;
    conn.send(reply);
    const now = Date.now();
    if (now - this.#shedLoggedAt >= 1000) {
      this.#shedLoggedAt = now;
      this.#log.warn({ shed: this.#listener.shed + 1 }, 'sip overload: requests that waited too long answered 503');
    }
    return true;
  }

  /** A core channel closed: whatever it still owed an answer gets 503 now (CANCELs are not tracked: their INVITE is). */
  #answerInFlight(ch: MessageChannel): void {
    let answered = 0;
    for (const f of this.#inFlight.take((f) => f.ch === ch)) {
      const reply = rawAnswer(f.data, 503, 'Service Unavailable', [
        RETRY_AFTER,
        reasonHeader(503, 'Traversal link to core lost'),
      ]);
      if (reply && f.conn.send(reply)) answered++;
    }
    if (answered > 0)
      this.#log.warn(
        { core: ch.info.peerNode, answered },
        'sip requests in flight answered 503: traversal channel closed',
      );
  }

  #refuseError(conn: SipConnection, req: SipRequest, err: SipError): void {
    this.counters.refused++;
    this.#log.warn(
      {
        corr: correlationId(req),
        callId: req.callId(),
        conn: conn.id,
        remote: conn.remote,
        method: req.method,
        status: err.status,
        reason: err.reason,
      },
      'sip request refused',
    );
    conn.send(answerError(req, err));
  }

  /** A client's answer to a request from the inside: drop the edge's Via and hand it to core. */
  #responseFromClient(res: SipResponse, conn: SipConnection): void {
    const via = ownTopVia(res, VIA_MARK);
    if (!via) return void this.#log.warn({ conn: conn.id }, 'sip response from client without the edge Via dropped');
    removeTopVia(res);
    this.#media?.answer(
      res,
      () => this.#calls.legOf(res, 'to'),
      () => this.#media!.clientSide,
    );
    if (!this.#core(res, getParam(via.params, VIA_CORE) ?? undefined)?.send(res.serialize()))
      this.#log.warn({ conn: conn.id, status: res.status }, 'sip response dropped: no traversal link');
    else this.#calls.response(res, true);
  }

  #fromCore(data: Buffer, ch: MessageChannel): void | Promise<void> {
    // Core checked what it sends (a client's message on the way in, call control's on the way out): the
    // edge parses only the headers it reads.
    return handleOrAnswer(
      data,
      (reply) => ch.send(reply),
      (err) =>
        this.#log.warn(
          { core: ch.info.peerNode, status: err.status, reason: err.reason },
          'sip message from core refused',
        ),
      { check: 'none' },
      (msg) => (msg.isRequest ? this.#requestFromCore(msg, ch) : this.#responseFromCore(msg)),
    );
  }

  #requestFromCore(req: SipRequest, ch: MessageChannel): void {
    if (isDomainNotify(req)) {
      try {
        this.#domains = Table.parse(req.body.toString('utf8'));
      } catch (err) {
        return void ch.send(answer(req, 400, `Bad domain table: ${(err as Error).message}`));
      }
      this.#log.info({ core: ch.info.peerNode, domains: this.#domains.size }, 'domain table received from core');
      return void ch.send(answer(req, 200));
    }
    if (isDomainEvent(req)) {
      this.#log.warn(
        { core: ch.info.peerNode, callId: req.callId() },
        'sip request refused: relayed domain-table event',
      );
      return void ch.send(answer(req, 403, 'Event package reserved for the traversal link'));
    }
    const hop = hopFault(req);
    if (hop) return void ch.send(answerError(req, hop));
    // The request follows the Path the client registered: its top Route is this edge, naming the flow.
    const top = req.routes()[0];
    const token =
      top && this.#isOwn(top.uri) ? this.#tokens.check((top.uri as SipUri).user ?? '') : { fault: 'forged' as const };
    // A token from an earlier edge process names a flow that died with it: 430, so the registrar lets the
    // binding go (RFC 5626 §5.3). One this process cannot have made stays 403 (docs/sip.md, Flow token).
    if ('fault' in token && token.fault === 'stale') {
      this.counters.flowFailed++;
      this.#log.info({ method: req.method }, 'sip flow failed: flow token from an earlier edge process');
      if (req.method !== 'ACK') ch.send(answer(req, 430, 'Flow token from an earlier edge process'));
      return;
    }
    if ('fault' in token) {
      this.#log.warn({ method: req.method }, 'sip request from core without a valid flow token refused');
      if (req.method !== 'ACK') ch.send(answer(req, 403, 'No valid edge flow token in Route'));
      return;
    }
    const connId = token.connectionId;
    req.removeFirstValue('route');
    const conn = this.#listener.connection(connId);
    // RFC 5626 §5.3: the flow is the only way to the client; the edge never opens a connection to one.
    if (!conn || conn.closed) {
      this.counters.flowFailed++;
      this.#log.info({ method: req.method, conn: connId }, 'sip flow failed: client connection gone');
      if (req.method !== 'ACK') ch.send(answer(req, 430, 'Client connection gone'));
      return;
    }
    const carried = this.#calls.atCapacity(req)
      ? CAPACITY_REACHED
      : carry(req, this.#calls, this.#media, true, conn.id, () => this.#media!.coreSide(conn.localAddress));
    if (isRefusal(carried)) {
      this.#log.warn(
        { callId: req.callId(), status: carried.status, reason: carried.text },
        'sip request toward a client refused',
      );
      return void ch.send(answer(req, carried.status, carried.text, carried.headers));
    }
    // The client's in-dialog requests then name this edge first, and the inside's find this flow again.
    if (DIALOG_FORMING.has(req.method) && !tagOf(req.to()))
      addRecordRoute(req, this.#ownUri(this.#tokens.issue(connId)));
    req.addHeader(
      'via',
      viaValue('TLS', this.#opts.publicHost, this.#port, [
        ['branch', statelessBranch(req, connId)],
        [VIA_MARK, 'core'],
        [VIA_CORE, ch.info.peerNode],
      ]),
      'top',
    );
    this.counters.toClients++;
    forwarded(req, this.#calls, carried, conn.send(req.serialize()), true, conn.id);
  }

  #responseFromCore(res: SipResponse): void | Promise<void> {
    const via = ownTopVia(res, VIA_MARK);
    const connId = via ? this.#tokens.verify(getParam(via.params, VIA_MARK) ?? '') : undefined;
    if (!via || !connId)
      return void this.#log.warn({ status: res.status }, 'sip response from core not for this edge dropped');
    if (res.status >= 200) this.#inFlight.answered(getParam(via.params, 'branch') ?? '');
    removeTopVia(res);
    const conn = this.#listener.connection(connId);
    // Only a REGISTER's Via names a registration (its correlation id).
    const key = getParam(via.params, VIA_REGISTRATION);
    if (key) {
      // Core counted the binding already and says for how long; parsing the Contacts again is the fallback.
      const told = res.header(BOUND_HEADER);
      if (told !== undefined) res.removeHeader(BOUND_HEADER);
      if (res.status >= 200 && res.status < 300) {
        const asked = Number(getParam(via.params, 'mra-exp') ?? 0);
        const granted = told !== undefined && /^\d{1,10}$/.test(told) ? Number(told) : grantedExpires(res);
        const expires = conn && !conn.closed ? Math.min(asked, granted) : 0;
        const stored = this.#registrations.bound(key, expires, {
          aor: aorOf(res),
          ...(conn ? { remote: conn.remote } : {}),
        });
        const rest = () => {
          if (conn) this.#trackKey(conn.id, key, expires > 0);
          if (this.#log.isLevelEnabled('info'))
            this.#log.info(
              { corr: key, callId: res.callId(), aor: aorOf(res), conn: connId, expires },
              expires > 0 ? 'sip registration bound' : 'sip registration removed',
            );
          this.#responseToClient(res, conn, connId, key);
        };
        // Only a store outside the process (Redis) makes the answer wait for the count.
        return stored ? stored.then(rest) : rest();
      }
    }
    this.#responseToClient(res, conn, connId, key);
  }

  /** Core's answer, the edge's Via off, on the client's own connection (or logged when that is gone). */
  #responseToClient(
    res: SipResponse,
    conn: SipConnection | undefined,
    connId: string,
    key: string | undefined | null,
  ): void {
    if (conn)
      this.#media?.answer(
        res,
        () => this.#calls.legOf(res, 'from'),
        () => this.#media!.coreSide(conn.localAddress),
      );
    if (this.#log.isLevelEnabled('debug'))
      this.#log.debug(
        { corr: key ?? correlationId(res), callId: res.callId(), conn: connId, status: res.status },
        'sip response to client',
      );
    if (!conn?.send(res.serialize()))
      this.#log.info(
        { corr: key ?? correlationId(res), status: res.status, conn: connId },
        'sip response dropped: client connection gone',
      );
    else this.#calls.response(res, false);
  }

  #trackKey(connId: string, key: string, bound: boolean): void {
    let keys = this.#keysByConnection.get(connId);
    if (!keys) this.#keysByConnection.set(connId, (keys = new Set()));
    if (bound) keys.add(key);
    else keys.delete(key);
  }

  async #forgetConnection(connId: string): Promise<void> {
    this.#tokens.forget(connId);
    this.#calls.flowClosed(connId);
    const keys = this.#keysByConnection.get(connId);
    this.#keysByConnection.delete(connId);
    for (const k of keys ?? []) await this.#registrations.unbound(k);
  }

  #ownUri(token: string): SipUri {
    return {
      kind: 'sip',
      scheme: 'sip',
      user: token,
      password: null,
      host: this.#opts.publicHost,
      port: this.#port,
      params: [
        { name: 'transport', value: 'tls' },
        { name: 'lr', value: null },
        { name: 'ob', value: null },
      ],
      headers: null,
    };
  }

  /**
   * Does a URI name this edge: one of its names or a domain it serves, and its client port (5061 when the URI
   * gives none: the edge speaks only TLS to clients, RFC 3263's default for it)?
   */
  #isOwn(uri: SipRequest['uri']): boolean {
    if (uri.kind !== 'sip' || (uri.port ?? 5061) !== this.#port) return false;
    const host = uri.host.toLowerCase();
    return this.#names.has(host) || this.#domains?.lookup(host) !== undefined;
  }
}
