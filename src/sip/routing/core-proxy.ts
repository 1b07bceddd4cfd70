// The core's SIP rules (Expressway-C): the traversal SIP channel ↔ call control over TCP 5060 (or TLS 5061
// for a mixed-mode cluster). Stateless like the edge: a response finds its way back by core's own Via, which
// names the call-control connection a request from the inside came on.
import type { Logger } from '../../log/index.js';
import type { Store } from '../../store/index.js';
import type { DomainTable } from '../../domains/index.js';
import type { MessageChannel, TraversalClient } from '../../traversal/index.js';
import {
  addPath,
  addRecordRoute,
  getParam,
  parseMessage,
  removeTopVia,
  tagOf,
  type SipMessage,
  type SipRequest,
  type SipResponse,
  type SipUri,
} from '../message/index.js';
import { SipConnectionPool, targetKey, type SipConnection, type SipTap } from '../transport/index.js';
import {
  BOUND_HEADER,
  VIA_REGISTRATION,
  answer,
  answerError,
  aorOf,
  correlationId,
  grantedExpires,
  handleOrAnswer,
  hopFault,
  logFailure,
  ownTopVia,
  receivedCorrelationId,
  statelessBranch,
  viaValue,
} from './hop.js';
import { RegistrationCounter } from './registrations.js';
import { domainNotify, isDomainEvent } from './domain-sync.js';
import { ContactRewriter } from './contact-rewrite.js';
import { AwaitingAnswers } from './awaiting-answers.js';
import { homeRoute, type CallControlRoute } from './call-control-routes.js';
import { CallTable, callStatus, mediaStatus } from './calls.js';
import type { MediaStatus, SipStatus } from './status.js';
import { CAPACITY_REACHED, admit, carry, forwarded, isRefusal } from './pipeline.js';
import type { MediaEngine } from '../../media/index.js';
import { networkInterfaces } from 'node:os';
import { StoredCalls, type StoredCall } from '../../calls/index.js';
import { CoreMedia, DialogKeeper, type Addresses } from '../b2bua/index.js';
import { VIA_FROM_EDGE, edgeToward } from './edge-choice.js';

export interface CoreSipProxyOptions {
  node: string;
  /** Sees each message to and from call control (a HEP feed). */
  tap?: SipTap;
  traversal: Pick<TraversalClient, 'onChannel' | 'sip' | 'link' | 'links'>;
  domains: DomainTable;
  /** The call-control nodes core may route to now (discovery's, else the configuration's): read per request. */
  routes: () => readonly CallControlRoute[];
  /** "SIP Path headers": on adds core to Path; off rewrites Contact to core instead. */
  pathHeaders: boolean;
  tls: { cert: string; key: string; ca: string };
  idleTimeoutMs: number;
  /** Where core's connections to call control leave from (source_address). */
  sourceAddress?: string;
  store: Store;
  capacity: number;
  /** Call legs this node carries; a new call beyond them gets 503 (capacity.calls). */
  callCapacity?: number;
  /** The media engine (the B2BUA's relays) and media.address; without it SDP passes untouched. */
  media?: { engine: MediaEngine; keepaliveMs: number; address?: string; timeoutAction?: 'report' | 'hangup' };
  /** Maintenance mode, read as each new registration or call arrives (NodeContext.maintenance). */
  maintenance?: () => boolean;
  /** A call's lease in the store lapses this long after its last renewal (docs/cluster.md; default 3 s). */
  callLeaseMs?: number;
  log: Logger;
}

/** This host's addresses now (keepalived adds and removes a VIP): read at most every 100 ms (one scan). */
let local: { at: number; addresses: Set<string> } | undefined;
function localAddresses(): Set<string> {
  if (local && Date.now() - local.at < 100) return local.addresses;
  const addresses = new Set(
    Object.values(networkInterfaces())
      .flat()
      .map((i) => i?.address)
      .filter((a): a is string => a !== undefined),
  );
  local = { at: Date.now(), addresses };
  return addresses;
}

const VIA_MARK = 'mra-core';
/** How long a stopping core waits for call control to answer what it already forwarded. */
const STOP_GRACE_MS = 2000;
const DIALOG_FORMING = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);

export class CoreSipProxy {
  readonly #opts: CoreSipProxyOptions;
  readonly #log: Logger;
  readonly #pool: SipConnectionPool;
  readonly #registrations: RegistrationCounter;
  readonly #contacts: ContactRewriter;
  readonly #ownUser: string;
  /** Connections core opened to each node, so a node that leaves the cluster can be let go. */
  readonly #byTarget = new Map<string, SipConnection>();
  #routed = '';
  #notifySeq = 1;
  /**
   * Requests forwarded to call control and not yet answered, by core's branch. A client
   * on TLS does not retransmit, so an answer core drops while stopping leaves it waiting for its 32 s timer.
   */
  readonly #awaiting = new AwaitingAnswers<true>();
  readonly #calls: CallTable;
  readonly #media: CoreMedia | undefined;
  /** Each leg's dialog, so that core can end a call itself (session timers, media timeouts). */
  readonly #dialogs: DialogKeeper;
  /**
   * Each call's data in the store, under a lease of this core's (docs/cluster.md), when the store is shared: a core
   * alone on its memory has no peer to adopt its calls, and keeps them once, in its call model.
   */
  readonly #stored: StoredCalls | undefined;
  /** The Record-Route users (mra-<core>) of the dead cores whose calls this core adopted: its own for those calls. */
  readonly #adoptedUsers = new Set<string>();
  #stopping = false;
  readonly counters = { toCallControl: 0, toEdge: 0, refused: 0, linkDown: 0 };

  constructor(opts: CoreSipProxyOptions) {
    this.#opts = opts;
    this.#log = opts.log.child({ plane: 'sip' });
    this.#ownUser = `mra-${opts.node}`;
    this.#routed = opts
      .routes()
      .map((r) => targetKey(r.target))
      .sort()
      .join(' ');
    this.#registrations = new RegistrationCounter(opts.store, opts.capacity);
    this.#contacts = new ContactRewriter(opts.store);
    this.#calls = new CallTable({
      capacity: opts.callCapacity,
      onEnded: (key) => {
        this.#dialogs.forget(key);
        this.#stored?.legEnded(key);
      },
    });
    this.#stored = !opts.store.shared
      ? undefined
      : new StoredCalls({
          store: opts.store,
          node: opts.node,
          registry: this.#calls.legs,
          ...(opts.callLeaseMs !== undefined ? { leaseMs: opts.callLeaseMs } : {}),
          mediaAddress: opts.media?.address ?? null,
          // Another core took the call over: it drives the call now, so this one lets its legs go without a word.
          onLost: (callId) => {
            for (const leg of this.#calls.legs.call(callId)?.legs ?? []) this.#calls.legs.discard(leg.key);
          },
          adopt: (call) => this.#adopt(call),
          mayAdopt: (call) => call.mediaAddress === null || localAddresses().has(call.mediaAddress),
          log: this.#log,
        });
    this.#dialogs = new DialogKeeper({
      ownUser: this.#ownUser,
      node: opts.node,
      // To the edge the dialog's flow token names (a full mesh), as call control's own requests for the client go.
      toEdge: (data) =>
        edgeToward(this.#opts.traversal, parseMessage(Buffer.from(data)), VIA_MARK)?.send(data) ?? false,
      toInside: (id, via, build) => {
        const conn = this.#pool.byId(id);
        return conn?.send(build(via(conn.transport, conn.localAddress, conn.localPort))) ?? false;
      },
      end: (leg, why) => this.#calls.legs.end(leg.key, why),
      log: this.#log,
    });
    const hangUpOnTimeout = opts.media?.timeoutAction === 'hangup';
    this.#media =
      opts.media &&
      new CoreMedia({
        engine: opts.media.engine,
        keepaliveMs: opts.media.keepaliveMs,
        log: this.#log,
        agent: opts.node,
        onChange: (leg) => this.#stored?.touch(leg.callId),
        ...(hangUpOnTimeout ? { onTimeout: (leg) => this.#dialogs.hangUp(leg, 'mediaTimeout') } : {}),
      });
    this.#pool = new SipConnectionPool({
      tls: opts.tls,
      ...(opts.sourceAddress ? { localAddress: opts.sourceAddress } : {}),
      limits: { idleTimeoutMs: opts.idleTimeoutMs, headerTimeoutMs: 30_000 },
      keepaliveMs: Math.max(1000, Math.floor(opts.idleTimeoutMs / 3)),
      onMessage: (data, conn) =>
        logFailure(this.#log, this.#fromCallControl(data, conn), 'sip core: call control message failed'),
      ...(opts.tap ? { tap: opts.tap } : {}),
    });
    opts.traversal.onChannel('sip', (ch) => this.#edgeChannel(ch));
  }

  /** The registrations held through this node (the admin API's registrations query). */
  registrations(): ReturnType<RegistrationCounter['list']> {
    return this.#registrations.list();
  }

  async status(): Promise<SipStatus> {
    const callControl = this.#opts.routes().map((r) => targetKey(r.target));
    return {
      pathHeaders: this.#opts.pathHeaders,
      callControl,
      callControlConnections: this.#pool.size,
      registrations: await this.#registrations.count(),
      capacity: this.#registrations.capacity,
      ...callStatus(this.#calls, this.#media),
      ...this.counters,
      // Calls in the store: leases held, writes, refused and lost leases, calls adopted from dead cores.
      ...(this.#stored ? { callStore: { leases: this.#stored.held, ...this.#stored.counters } } : {}),
    };
  }

  /** The media section: call legs against capacity.calls (the capacity alarm reads it), relays and their counters. */
  mediaStatus(): MediaStatus {
    return mediaStatus(this.#calls, this.#media);
  }

  /**
   * The routes changed (a discovery refresh): a node no longer among them gets no new request, and its
   * connection is closed so keepalives stop and call control's requests for clients come over the nodes left.
   */
  routesChanged(): void {
    const live = new Set(this.#opts.routes().map((r) => targetKey(r.target)));
    const now = [...live].sort().join(' ');
    if (now !== this.#routed) this.#log.info({ callControl: [...live] }, 'sip call-control routes updated');
    this.#routed = now;
    for (const [key, conn] of this.#byTarget) {
      if (live.has(key)) continue;
      this.#byTarget.delete(key);
      this.#log.info({ callControl: key }, 'sip connection to a node that left the cluster closed');
      conn.close('call-control node left the cluster');
    }
  }

  /** Takes no new request (503), waits up to STOP_GRACE_MS for call control's answers, then lets go. */
  async close(): Promise<void> {
    this.#stopping = true;
    this.#awaiting.prune();
    const until = Date.now() + STOP_GRACE_MS;
    while (this.#awaiting.size > 0 && Date.now() < until && this.#pool.size > 0)
      await new Promise((r) => setTimeout(r, 20));
    this.#pool.close();
    this.#dialogs.close();
    this.#stored?.close();
    this.#calls.close();
    await this.#stored?.settled();
  }

  /**
   * A dead core's call, now under this core's lease: its legs and relays as that core left them (the same ports, on
   * its media address, which keepalived moved here; the same keys and SRTP counters), and its dialogs' requests
   * accepted here (the dead core's Record-Route user). All of it, or none: what opened is let go on a failure.
   */
  #adopt(call: StoredCall): boolean {
    const legs = [];
    try {
      for (const data of call.legs) {
        const leg = this.#calls.legs.restore(data);
        if (!leg) continue;
        legs.push(leg);
        this.#media?.restore(leg, data, call.mediaAddress);
        this.#dialogs.resume(leg);
      }
    } catch (err) {
      for (const leg of legs) this.#calls.legs.discard(leg.key);
      this.#log.error(
        { callId: call.callId, from: call.owner, err: (err as Error).message },
        'call of a dead core could not be adopted: it is let go',
      );
      return false;
    }
    this.#adoptedUsers.add(`mra-${call.owner}`);
    this.#log.warn(
      { callId: call.callId, from: call.owner, legs: legs.length, relays: legs.reduce((n, l) => n + l.relays, 0) },
      'call adopted from a core whose lease lapsed',
    );
    return true;
  }

  /** Tells the edge the domain table again (after a configuration or discovery change). */
  publishDomains(): void {
    for (const edge of this.#opts.traversal.links())
      edge.send(domainNotify(this.#opts.domains, this.#opts.node, this.#notifySeq++));
  }

  #edgeChannel(ch: MessageChannel): void {
    ch.onMessage((data) => logFailure(this.#log, this.#fromEdge(data, ch), 'sip core: edge message failed'));
    // On every channel, so an edge that restarted (and knows nothing) learns the table at once.
    ch.send(domainNotify(this.#opts.domains, this.#opts.node, this.#notifySeq++));
    this.#log.info({ edge: ch.info.peerNode, domains: this.#opts.domains.size }, 'domain table sent to edge');
  }

  #fromEdge(data: Buffer, ch: MessageChannel): void | Promise<void> {
    // The edge checked a client's message whole on the way in: core parses what its rules read (routes,
    // domain, contacts), and each of those still refuses a malformed value with a 400.
    return handleOrAnswer(
      data,
      (reply) => ch.send(reply),
      (err) => this.#log.warn({ status: err.status, reason: err.reason }, 'sip message from edge refused'),
      { check: 'none' },
      (msg) => (msg.isRequest ? this.#requestFromEdge(msg, ch) : this.#responseFromEdge(msg, ch)),
    );
  }

  async #requestFromEdge(req: SipRequest, ch: MessageChannel): Promise<void> {
    const corr = receivedCorrelationId(req);
    const refuse = (status: number, text: string, headers: Array<[string, string]> = []) => {
      this.counters.refused++;
      this.#log.warn({ corr, callId: req.callId(), method: req.method, status, reason: text }, 'sip request refused');
      if (req.method !== 'ACK') ch.send(answer(req, status, text, headers));
    };
    if (this.#stopping) return refuse(503, 'Core stopping', [['Retry-After', '5']]);
    const hop = hopFault(req);
    if (hop) return void ch.send(answerError(req, hop));
    // Core's own Route (from its Record-Route) is consumed; the next hop is always a call-control node of
    // the configuration, never an address a client wrote: what remains of an in-dialog route set must start with
    // call control (the edge lets only its own entry lead it), and the dialog stays on the node it names. What
    // follows that entry is call control's to follow, not core's: a call between two remote clients was recorded
    // edge, core, call control, core, edge, and its far half leads back out through core to the other client.
    while (this.#isOwn(req.routes()[0]?.uri) || this.#isAdopted(req.routes()[0]?.uri, req))
      req.removeFirstValue('route');
    const first = req.routes()[0];
    if (first && !this.#isCallControl(first.uri)) return refuse(403, 'Route to a host that is not call control');
    // Core's own hash of the AOR and Call-ID for a registration (the same as the edge's id, not taken on its word).
    const admission = admit(req, {
      lookup: (d) => this.#opts.domains.lookup(d),
      registrations: this.#registrations,
      calls: this.#calls,
      maintenance: this.#opts.maintenance?.() === true,
      registrationKey: () => correlationId(req),
    });
    // Only a store outside the process (Redis) makes this wait.
    const admitted = admission instanceof Promise ? await admission : admission;
    if (isRefusal(admitted)) return refuse(admitted.status, admitted.text, admitted.headers);
    const { domain, registration } = admitted;
    const next = req.routes()[0];
    const route =
      (next && this.#nodeOf(next.uri)) ??
      homeRoute(
        this.#opts.routes().filter((r) => r.deployment === domain.deployment),
        aorOf(req),
      );
    if (!route) return refuse(503, `No call control configured for ${domain.name}`, [['Retry-After', '30']]);
    const viaExtra: Array<[string, string]> = registration
      ? [
          ['mra-exp', String(registration.expires)],
          [VIA_REGISTRATION, registration.key],
        ]
      : [];
    let conn = this.#pool.open(route.target);
    if (!conn) {
      try {
        conn = await this.#pool.get(route.target);
        this.#track(targetKey(route.target), conn);
      } catch (err) {
        return refuse(503, `Call control unreachable: ${(err as Error).message}`, [['Retry-After', '5']]);
      }
    }
    if (req.method === 'REGISTER') {
      if (this.#opts.pathHeaders) addPath(req, this.#ownUri(conn));
      else await this.#contacts.rewrite(req, conn);
    } else if (DIALOG_FORMING.has(req.method)) addRecordRoute(req, this.#ownUri(conn));
    const carried = carry(req, this.#calls, this.#media, false, null, () =>
      this.#media!.clientSide(this.#addresses(conn, ch)),
    );
    if (isRefusal(carried)) return refuse(carried.status, carried.text, carried.headers);
    const branch = statelessBranch(req, this.#opts.node);
    req.addHeader(
      'via',
      viaValue(conn.transport, conn.localAddress, conn.localPort, [
        ['branch', branch],
        [VIA_MARK, 'edge'],
        [VIA_FROM_EDGE, ch.info.peerNode],
        ...viaExtra,
      ]),
      'top',
    );
    if (req.method !== 'ACK') this.#awaiting.sent(branch, true);
    this.counters.toCallControl++;
    this.#log.debug(
      { corr, callId: req.callId(), method: req.method, callControl: `${conn.transport}:${conn.remote}` },
      'sip request to call control',
    );
    const sent = conn.send(req.serialize());
    forwarded(req, this.#calls, carried, sent, false);
    if (sent && carried.opened) {
      this.#dialogs.request(req, carried.opened.leg, true, conn.id);
      this.#stored?.touch(req.callId());
    }
    if (!sent) {
      // The answer goes to the edge, which knows the request by its own Via: core's comes off first.
      removeTopVia(req);
      refuse(503, 'Call control connection lost', [['Retry-After', '5']]);
    }
  }

  /** A client's answer (via the edge) to a request from call control: back on the connection it came from. */
  #responseFromEdge(res: SipResponse, ch: MessageChannel): void {
    const via = ownTopVia(res, VIA_MARK);
    if (!via) return void this.#log.warn({ status: res.status }, 'sip response from edge not for this core dropped');
    const connId = getParam(via.params, VIA_MARK);
    // The domain-table NOTIFY is core's own request: its answer ends here.
    if (connId === 'self') {
      if (res.status >= 300)
        this.#log.warn({ status: res.status, reason: res.reason }, 'edge refused the domain table');
      return;
    }
    removeTopVia(res);
    const conn = this.#pool.byId(connId ?? '');
    if (conn)
      this.#media?.answer(
        res,
        () => this.#calls.legOf(res, 'to'),
        () => this.#media!.clientSide(this.#addresses(conn, ch)),
      );
    if (!conn?.send(res.serialize()))
      this.#log.info({ status: res.status }, 'sip response dropped: call control connection gone');
    else {
      this.#calls.response(res, true);
      const leg = this.#calls.legOf(res, 'to');
      if (leg) {
        this.#dialogs.response(res, leg, true);
        this.#stored?.touch(leg.callId);
      }
    }
  }

  #fromCallControl(data: Buffer, conn: SipConnection): void | Promise<void> {
    // Call control's requests are checked whole; its responses are passed on by core's own Via.
    return handleOrAnswer(
      data,
      (reply) => conn.send(reply),
      (err) =>
        this.#log.warn(
          { conn: conn.remote, status: err.status, reason: err.reason },
          'sip message from call control refused',
        ),
      { check: 'requests' },
      (msg) => this.#callControlMessage(msg, conn),
    );
  }

  #callControlMessage(msg: SipMessage, conn: SipConnection): void | Promise<void> {
    const edge = edgeToward(this.#opts.traversal, msg, VIA_MARK);
    return msg.isRequest
      ? this.#requestFromCallControl(msg, conn, edge)
      : this.#responseFromCallControl(msg, conn, edge);
  }

  #responseFromCallControl(
    msg: SipResponse,
    conn: SipConnection,
    edge: MessageChannel | undefined,
  ): void | Promise<void> {
    const via = ownTopVia(msg, VIA_MARK);
    if (!via)
      return void this.#log.warn({ status: msg.status }, 'sip response from call control not for this core dropped');
    // The answer to a request core sent itself (a BYE ending a call) ends here.
    if (getParam(via.params, VIA_MARK) === 'self') return;
    if (msg.status >= 200) this.#awaiting.answered(getParam(via.params, 'branch') ?? '');
    removeTopVia(msg);
    // The edge's word, never call control's: it is taken off whatever call control wrote.
    if (msg.has(BOUND_HEADER)) msg.removeHeader(BOUND_HEADER);
    this.#media?.answer(
      msg,
      () => this.#calls.legOf(msg, 'from'),
      () => this.#media!.insideSide(this.#addresses(conn, edge)),
    );
    const asked = getParam(via.params, 'mra-exp'); // core's Via on REGISTERs only
    if (asked === undefined || msg.status < 200 || msg.status >= 300) {
      if (this.#log.isLevelEnabled('debug'))
        this.#log.debug({ corr: correlationId(msg), callId: msg.callId(), status: msg.status }, 'sip response to edge');
      return this.#responseToEdge(msg, edge);
    }
    const expires = Math.min(Number(asked ?? 0), grantedExpires(msg));
    const key = getParam(via.params, VIA_REGISTRATION) ?? correlationId(msg);
    const stored = this.#registrations.bound(key, expires, { aor: aorOf(msg) });
    const rest = () => {
      msg.setHeader(BOUND_HEADER, String(expires));
      if (this.#log.isLevelEnabled('info'))
        this.#log.info(
          { corr: key, callId: msg.callId(), aor: aorOf(msg), expires },
          expires > 0 ? 'sip registration bound' : 'sip registration removed',
        );
      this.#responseToEdge(msg, edge);
    };
    // Path on with the memory store (the usual case) waits for nothing: no promise on the way.
    if (!stored && this.#opts.pathHeaders) return rest();
    return (async () => {
      if (stored) await stored;
      if (!this.#opts.pathHeaders) await this.#contacts.restore(msg);
      rest();
    })();
  }

  #responseToEdge(msg: SipResponse, edge: MessageChannel | undefined): void {
    if (!edge?.send(msg.serialize()))
      this.#log.info({ corr: correlationId(msg), status: msg.status }, 'sip response dropped: traversal link down');
    else {
      this.counters.toEdge++;
      this.#calls.response(msg, false);
      const leg = this.#calls.legOf(msg, 'from');
      if (leg) {
        this.#dialogs.response(msg, leg, false);
        this.#stored?.touch(leg.callId);
      }
    }
  }

  async #requestFromCallControl(req: SipRequest, conn: SipConnection, edge: MessageChannel | undefined): Promise<void> {
    const hop = hopFault(req);
    if (hop) return void conn.send(answerError(req, hop));
    while (this.#isOwn(req.routes()[0]?.uri)) req.removeFirstValue('route');
    // The domain-table event is core's to send; relayed from the inside it would be an attempt on the edge.
    if (isDomainEvent(req)) {
      this.counters.refused++;
      this.#log.warn(
        { method: req.method, callId: req.callId(), conn: conn.remote },
        'sip request refused: domain-table event from call control',
      );
      if (req.method !== 'ACK') conn.send(answer(req, 403, 'Event package reserved for the traversal link'));
      return;
    }
    // Path off: the registrar only knows core's stand-in Contact; the client's and the edge's Path come back here.
    if (!this.#opts.pathHeaders && !(await this.#contacts.resolve(req)) && ContactRewriter.isStandIn(req.uri)) {
      this.#log.info(
        { method: req.method, callId: req.callId() },
        'sip request toward a client refused: its binding expired',
      );
      if (req.method !== 'ACK') conn.send(answer(req, 480, 'Registration for this contact expired'));
      return;
    }
    // No link, no way to the client's flow: fail at once (RFC 5626 430) so call control never waits out a timer.
    if (!edge || edge.closed) {
      this.counters.linkDown++;
      this.#log.info({ method: req.method }, 'sip request toward a client refused: traversal link down');
      if (req.method !== 'ACK') conn.send(answer(req, 430, 'Traversal link to the edge is down'));
      return;
    }
    const carried = this.#calls.atCapacity(req)
      ? CAPACITY_REACHED
      : carry(req, this.#calls, this.#media, true, null, () => this.#media!.insideSide(this.#addresses(conn, edge)));
    if (isRefusal(carried)) {
      this.#log.warn(
        { callId: req.callId(), conn: conn.remote, status: carried.status, reason: carried.text },
        'sip request toward a client refused',
      );
      return void conn.send(answer(req, carried.status, carried.text, carried.headers));
    }
    // In the dialog's later requests call control comes back through core, over the connection it came on.
    if (DIALOG_FORMING.has(req.method) && !tagOf(req.to())) addRecordRoute(req, this.#ownUri(conn));
    req.addHeader(
      'via',
      viaValue('TLS', `${this.#opts.node}.mra.invalid`, null, [
        ['branch', statelessBranch(req, conn.id)],
        [VIA_MARK, conn.id],
      ]),
      'top',
    );
    this.counters.toEdge++;
    const sent = edge.send(req.serialize());
    forwarded(req, this.#calls, carried, sent, true);
    if (sent && carried.opened) {
      this.#dialogs.request(req, carried.opened.leg, false, conn.id);
      this.#stored?.touch(req.callId());
    }
  }

  /**
   * Where core's relays are, as each side sees it: media.address when set, else the local address of the
   * connection towards that side (the call-control connection, the traversal link), which routes back to core.
   */
  #addresses(conn: SipConnection, edge?: MessageChannel): Addresses {
    const own = this.#opts.media?.address;
    const link = (edge ?? this.#opts.traversal.sip())?.info;
    const fixed = own !== undefined && own !== '0.0.0.0' ? own : undefined;
    return {
      inside: fixed ?? conn.localAddress,
      edge: fixed ?? link?.localAddress ?? '0.0.0.0',
      edgeHost: link ? link.remote.slice(0, link.remote.lastIndexOf(':')) : '0.0.0.0',
    };
  }

  #track(key: string, conn: SipConnection): void {
    if (this.#byTarget.get(key) === conn) return;
    this.#byTarget.set(key, conn);
    conn.onClose(() => this.#byTarget.get(key) === conn && this.#byTarget.delete(key));
  }

  /** The call-control node a URI names, if it is one core routes to now. */
  #nodeOf(uri: SipRequest['uri']): CallControlRoute | undefined {
    if (uri.kind !== 'sip') return undefined;
    const host = uri.host.toLowerCase();
    return this.#opts.routes().find((r) => r.host === host);
  }

  #ownUri(conn: SipConnection): SipUri {
    return {
      kind: 'sip',
      scheme: 'sip',
      user: this.#ownUser,
      password: null,
      host: conn.localAddress,
      port: conn.localPort,
      params: [
        { name: 'transport', value: conn.transport },
        { name: 'lr', value: null },
        { name: 'ob', value: null },
      ],
      headers: null,
    };
  }

  #isCallControl(uri: SipRequest['uri']): boolean {
    return this.#nodeOf(uri) !== undefined;
  }

  /** A dead core's Record-Route entry in a dialog this core adopted from it. */
  #isAdopted(uri: SipRequest['uri'] | undefined, req: SipRequest): boolean {
    return (
      uri?.kind === 'sip' &&
      uri.user !== null &&
      this.#adoptedUsers.has(uri.user) &&
      this.#calls.legs.call(req.callId()) !== undefined
    );
  }

  #isOwn(uri: SipRequest['uri'] | undefined): boolean {
    return uri?.kind === 'sip' && uri.user === this.#ownUser;
  }
}
