// The lab's remote users: a handful of clients that sign in over HTTPS (get_edge_config, as Jabber starts),
// register over SIP TLS and keep an XMPP session (IM and presence) through the edge, so `npm start` shows a
// working system from the first minute.
// They keep retrying until the traversal link is up, re-register as real clients do, and pick up every call.
import { request } from 'node:https';
import type { Logger } from '../log/index.js';
import { SipClient } from './sip-client.js';
import { LAB_USERS } from './lab-users.js';
import { LAB_SIP_USERS } from './call-control.js';
import type { SipAnswer } from './sip-client.js';
import type { SipRequest } from '../sip/message/index.js';
import { XmppClient } from './xmpp-client.js';
import { x } from '../xmpp/index.js';

export interface SimulatedClientsOptions {
  /** The edge as a remote client sees it. */
  edge: { host: string; servername: string; httpsPort: number; sipTlsPort: number; xmppPort?: number };
  /** CA that signed the edge's certificate. */
  ca: string;
  domain: string;
  /** How many clients (default: one per lab SIP user). */
  count?: number;
  /** Between attempts while the pair is not ready yet. */
  retryMs?: number;
  expiresS?: number;
  /** How the clients answer requests from the inside (their media: ClientMedia.answer); default 200 to all. */
  answer?: (req: SipRequest) => number | SipAnswer;
  log: Logger;
}

export type ClientPhase = 'signing-in' | 'registering' | 'registered' | 'refused';

export interface SimulatedClientState {
  /** The SIP identity (AOR) the client registers. */
  aor: string;
  /** The user the client signs in as over HTTPS (the lab's directory users). */
  signInUser: string;
  phase: ClientPhase;
  /** The last answer: HTTP status of the sign-in or SIP status of the REGISTER, with its reason. */
  last?: string;
  attempts: number;
  /** The XMPP session through the edge (none when the edge's XMPP port is not given). */
  xmpp: 'off' | 'connecting' | 'online';
  jid?: string;
}

export interface SimulatedClients {
  list(): SimulatedClientState[];
  registered(): number;
  close(): void;
}

const SIGN_IN_TIMEOUT_MS = 8000;

/** GET /<base64 domain>/get_edge_config with Basic credentials: the first request of an MRA sign-in. */
function signIn(
  o: SimulatedClientsOptions,
  user: { id: string; password: string },
): Promise<{ status: number; reason: string }> {
  const path = `/${Buffer.from(o.domain).toString('base64url')}/get_edge_config?service_name=_cisco-uds&service_name=_cuplogin`;
  const auth = `Basic ${Buffer.from(`${user.id}:${user.password}`).toString('base64')}`;
  return new Promise((resolve) => {
    const req = request(
      {
        host: o.edge.host,
        port: o.edge.httpsPort,
        servername: o.edge.servername,
        ca: o.ca,
        path,
        headers: { authorization: auth, host: o.edge.servername },
        timeout: SIGN_IN_TIMEOUT_MS,
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? '' }));
        res.on('error', (err) => resolve({ status: 0, reason: err.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer in time')));
    req.on('error', (err) => resolve({ status: 0, reason: err.message }));
    req.end();
  });
}

export function startSimulatedClients(o: SimulatedClientsOptions): SimulatedClients {
  const sipUsers = Object.entries(LAB_SIP_USERS);
  const count = o.count ?? sipUsers.length;
  const retryMs = o.retryMs ?? 2000;
  const log = o.log.child({ lab: 'clients' });
  let closed = false;
  const clients = Array.from({ length: count }, (_, i) => {
    const [user, password] = sipUsers[i % sipUsers.length]!;
    const state: SimulatedClientState = {
      aor: `${user}@${o.domain}`,
      signInUser: LAB_USERS[i % LAB_USERS.length]!.id,
      phase: 'signing-in',
      attempts: 0,
      xmpp: 'off',
    };
    return {
      i,
      state,
      user,
      password,
      directory: LAB_USERS[i % LAB_USERS.length]!,
      sip: undefined as SipClient | undefined,
      timer: undefined as NodeJS.Timeout | undefined,
      im: undefined as XmppClient | undefined,
    };
  });

  type Client = (typeof clients)[number];
  const later = (c: Client, ms = retryMs) => {
    if (closed) return;
    clearTimeout(c.timer);
    c.timer = setTimeout(() => void step(c), ms);
    c.timer.unref();
  };

  /** Keeps one XMPP session up, as Jabber does after sign-in: connect, announce presence, reconnect when lost. */
  async function chat(c: Client): Promise<void> {
    if (closed || o.edge.xmppPort === undefined || c.state.xmpp !== 'off') return;
    c.state.xmpp = 'connecting';
    const im = new XmppClient({
      host: o.edge.host,
      port: o.edge.xmppPort,
      servername: o.edge.servername,
      ca: o.ca,
      domain: o.domain,
      user: c.directory.id,
      password: c.directory.password,
      resource: `lab-${c.i}`,
      timeoutMs: 8000,
    });
    c.im = im;
    im.once('closed', () => {
      c.state.xmpp = 'off';
      c.state.jid = undefined;
      if (!closed) setTimeout(() => void chat(c), retryMs).unref();
    });
    try {
      c.state.jid = await im.connect();
      im.send(x('presence', {}, x('status', {}, 'simulated client')));
      c.state.xmpp = 'online';
      log.info({ jid: c.state.jid }, 'simulated client online over XMPP');
    } catch (err) {
      log.debug({ user: c.directory.id, err: (err as Error).message }, 'simulated client not online over XMPP yet');
      im.destroy();
    }
  }

  async function step(c: Client): Promise<void> {
    if (closed) return;
    c.state.attempts++;
    if (c.state.phase === 'signing-in') {
      const r = await signIn(o, c.directory);
      c.state.last = `HTTP ${r.status} ${r.reason}`;
      if (r.status !== 200) return later(c);
      c.state.phase = 'registering';
      void chat(c);
    }
    if (closed) return;
    if (!c.sip?.connected) {
      c.sip?.close();
      c.sip = new SipClient({
        host: o.edge.host,
        port: o.edge.sipTlsPort,
        servername: o.edge.servername,
        ca: o.ca,
        user: c.user,
        password: c.password,
        domain: o.domain,
        expiresS: o.expiresS ?? 300,
        timeoutMs: 5000,
        answer: o.answer ?? (() => 200),
      });
      try {
        await c.sip.connect();
      } catch (err) {
        c.state.last = `SIP connect: ${(err as Error).message}`;
        return later(c);
      }
      if (closed) return c.sip.close();
    }
    const r = await c.sip.register();
    c.state.last = `SIP ${r.status} ${r.reason}`;
    if (r.status >= 200 && r.status < 300) {
      if (c.state.phase !== 'registered')
        log.info({ aor: c.state.aor, signIn: c.directory.id }, 'simulated client registered');
      c.state.phase = 'registered';
      // Re-register before expiry, as clients do; a failed refresh (link lost, maintenance) starts over.
      return later(c, (o.expiresS ?? 300) * 800);
    }
    c.state.phase = r.status === 401 || r.status === 403 || r.status === 404 ? 'refused' : 'registering';
    log.debug({ aor: c.state.aor, status: r.status, reason: r.reason }, 'simulated client not registered yet');
    later(c);
  }

  for (const c of clients) void step(c);
  return {
    list: () => clients.map((c) => ({ ...c.state })),
    registered: () => clients.filter((c) => c.state.phase === 'registered').length,
    close() {
      closed = true;
      for (const c of clients) {
        clearTimeout(c.timer);
        c.sip?.close();
        c.im?.destroy();
      }
    },
  };
}
