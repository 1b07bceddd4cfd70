// The lab's IM and Presence service: an XMPP server just large enough for MRA to carry real sessions. It
// speaks client-to-server XMPP on one port with STARTTLS required, SASL PLAIN against the lab users (or
// X-OAUTH2 with call control's access token), resource
// binding, presence broadcast among everyone online (no rosters), and message and IQ routing between them.
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket, createSecureContext } from 'node:tls';
import type { Logger } from '../log/index.js';
import { NS, XmlElement, XmppFramer, XmppFramingError, streamError, streamHeader, x } from '../xmpp/index.js';
import { listenOn } from '../util/listen.js';
import { LAB_USERS } from './lab-users.js';

export interface LabImpOptions {
  address: string;
  /** 5222, or 0 for any (tests). */
  port: number;
  tls: { cert: string; key: string };
  domain: string;
  log: Logger;
  /** The OAuth issuer whose access tokens X-OAUTH2 sign-ins carry (the same the HTTPS plane's clients get). */
  tokens?: { verify(token: string): string | undefined };
}

type Phase = 'plain' | 'tls' | 'authenticated' | 'bound';

interface Session {
  id: string;
  out: Socket | TLSSocket;
  phase: Phase;
  user?: string;
  jid?: string;
  /** The last available presence (undefined: not available). */
  presence?: XmlElement;
  /** Stops the plain reader when TLS takes the socket over. */
  stopReading?: () => void;
}

const bare = (jid: string) => jid.split('/')[0]!.toLowerCase();

export class LabImp {
  readonly #sessions = new Set<Session>();
  readonly #server: Server;
  readonly #ctx;
  readonly #log: Logger;
  /** Every stanza routed between users, as `from -> to kind` (tests prove what arrived). */
  readonly routed: string[] = [];
  /** Bytes received from all clients, so tests can prove what never arrived. */
  received = 0;
  port = 0;

  constructor(private readonly o: LabImpOptions) {
    this.#log = o.log.child({ lab: 'imp' });
    this.#ctx = createSecureContext({ cert: o.tls.cert, key: o.tls.key });
    this.#server = createServer({ noDelay: true }, (s) => this.#accept(s));
  }

  async start(): Promise<this> {
    this.port = await listenOn(this.#server, this.o.port, this.o.address);
    this.#log.info({ address: this.o.address, port: this.port }, 'lab IM and Presence (XMPP) up');
    return this;
  }

  /** The full JIDs bound now. */
  online(): string[] {
    return [...this.#sessions].flatMap((s) => (s.jid ? [s.jid] : []));
  }

  /** Ends every session as a service going down does (stream error system-shutdown); clients may come back. */
  endSessions(): void {
    for (const s of this.#sessions)
      if (s.out.writable) s.out.end(streamError('system-shutdown', 'IM and Presence is restarting'));
  }

  close(): Promise<void> {
    for (const s of this.#sessions) s.out.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    const s: Session = { id: randomBytes(6).toString('hex'), out: socket, phase: 'plain' };
    this.#sessions.add(s);
    socket.on('error', () => {});
    socket.on('close', () => this.#gone(s));
    this.#read(s, socket);
  }

  #read(s: Session, socket: Socket | TLSSocket): void {
    const framer = new XmppFramer({
      streamStart: (attrs) => this.#header(s, attrs),
      element: (el) => this.#element(s, el, framer),
      streamEnd: () => {
        s.out.end('</stream:stream>');
      },
    });
    const onData = (chunk: Buffer) => {
      this.received += chunk.length;
      try {
        framer.write(chunk);
      } catch (err) {
        const e =
          err instanceof XmppFramingError ? err : new XmppFramingError('internal-server-error', (err as Error).message);
        s.out.end(streamError(e.condition, e.message));
      }
    };
    socket.on('data', onData);
    s.stopReading = () => socket.off('data', onData);
  }

  #header(s: Session, attrs: Record<string, string>): void {
    if ((attrs.to ?? '').toLowerCase() !== this.o.domain.toLowerCase())
      throw new XmppFramingError('host-unknown', `this service is ${this.o.domain}`);
    let features = '';
    if (s.phase === 'plain') features = `<starttls xmlns='${NS.tls}'><required/></starttls>`;
    else if (s.phase === 'tls')
      features = `<mechanisms xmlns='${NS.sasl}'><mechanism>PLAIN</mechanism>${this.o.tokens ? '<mechanism>X-OAUTH2</mechanism>' : ''}</mechanisms>`;
    else features = `<bind xmlns='${NS.bind}'/><session xmlns='${NS.session}'><optional/></session>`;
    s.out.write(`${streamHeader({ from: this.o.domain, id: s.id })}<stream:features>${features}</stream:features>`);
  }

  #element(s: Session, el: XmlElement, framer: XmppFramer): void {
    if (s.phase === 'plain') {
      if (!el.is('starttls', NS.tls)) throw new XmppFramingError('policy-violation', 'STARTTLS is required');
      s.stopReading?.();
      s.out.write(`<proceed xmlns='${NS.tls}'/>`);
      const tls = new TLSSocket(s.out as Socket, { isServer: true, secureContext: this.#ctx });
      tls.on('error', () => tls.destroy());
      s.out = tls;
      s.phase = 'tls';
      return this.#read(s, tls);
    }
    if (s.phase === 'tls') {
      if (!el.is('auth', NS.sasl)) throw new XmppFramingError('policy-violation', 'authenticate first');
      const user =
        el.attrs.mechanism === 'PLAIN'
          ? this.#checkPlain(el.text)
          : el.attrs.mechanism === 'X-OAUTH2'
            ? this.#checkToken(el.text)
            : undefined;
      if (!user) {
        this.#log.info({ session: s.id }, 'lab IM&P: sign-in refused');
        return void s.out.write(`<failure xmlns='${NS.sasl}'><not-authorized/></failure>`);
      }
      s.user = user;
      s.phase = 'authenticated';
      s.out.write(`<success xmlns='${NS.sasl}'/>`);
      return framer.restart();
    }
    if (el.is('iq') && s.phase === 'authenticated') return this.#bind(s, el);
    if (s.phase !== 'bound') throw new XmppFramingError('policy-violation', 'bind a resource first');
    if (el.is('presence')) return this.#presence(s, el);
    if (el.is('message') || el.is('iq')) return this.#route(s, el);
  }

  #checkPlain(b64: string): string | undefined {
    const [, authcid, password] = Buffer.from(b64.trim(), 'base64').toString('utf8').split('\0');
    const user = LAB_USERS.find((u) => u.id.toLowerCase() === (authcid ?? '').toLowerCase());
    return user && user.password === password ? user.id : undefined;
  }

  /** X-OAUTH2: the same `\0user\0secret` layout as PLAIN, the secret an access token naming that user. */
  #checkToken(b64: string): string | undefined {
    const [, authcid = '', token = ''] = Buffer.from(b64.trim(), 'base64').toString('utf8').split('\0');
    const sub = this.o.tokens?.verify(token);
    const user = LAB_USERS.find((u) => u.id.toLowerCase() === authcid.toLowerCase());
    return user && sub?.toLowerCase() === user.id.toLowerCase() ? user.id : undefined;
  }

  #bind(s: Session, iq: XmlElement): void {
    const b = iq.child('bind', NS.bind);
    if (!b || iq.attrs.type !== 'set')
      return void s.out.write(
        x(
          'iq',
          { type: 'error', id: iq.attrs.id },
          x('error', { type: 'cancel' }, x('not-allowed', { xmlns: NS.stanzas })),
        ).toString(),
      );
    const resource = b.child('resource')?.text || randomBytes(4).toString('hex');
    s.jid = `${s.user}@${this.o.domain}/${resource}`;
    // A second session with the same full JID replaces the first (RFC 6120 §7.7.2.2, the simplest choice).
    for (const other of this.#sessions)
      if (other !== s && other.jid === s.jid) other.out.end(streamError('conflict', 'replaced by a new session'));
    s.phase = 'bound';
    s.out.write(
      x('iq', { type: 'result', id: iq.attrs.id }, x('bind', { xmlns: NS.bind }, x('jid', {}, s.jid))).toString(),
    );
    this.#log.info({ jid: s.jid }, 'lab IM&P: resource bound');
  }

  #presence(s: Session, p: XmlElement): void {
    if (p.attrs.to) return this.#route(s, p);
    const available = p.attrs.type === undefined;
    const first = available && !s.presence;
    s.presence = available ? p : undefined;
    const out = new XmlElement(p.name, { ...p.attrs, from: s.jid! }, p.children).toString();
    for (const other of this.#bound()) if (other !== s) other.out.write(out);
    // Who else is online, once, when the user first becomes available.
    if (first)
      for (const other of this.#bound())
        if (other !== s && other.presence)
          s.out.write(
            new XmlElement(
              'presence',
              { ...other.presence.attrs, from: other.jid!, to: s.jid! },
              other.presence.children,
            ).toString(),
          );
  }

  #route(s: Session, st: XmlElement): void {
    const to = st.attrs.to ?? '';
    if (!to || to.toLowerCase() === this.o.domain.toLowerCase()) return this.#serverIq(s, st);
    const targets = to.includes('/')
      ? this.#bound().filter((o) => o.jid === to)
      : this.#bound().filter((o) => bare(o.jid!) === bare(to));
    this.routed.push(`${s.jid} -> ${to} ${st.name}`);
    if (this.routed.length > 10_000) this.routed.splice(0, 5_000);
    if (targets.length === 0) {
      if (st.attrs.type === 'error' || st.is('presence')) return;
      return void s.out.write(
        x(
          st.name,
          { type: 'error', from: to, to: s.jid, id: st.attrs.id },
          x('error', { type: 'cancel' }, x('service-unavailable', { xmlns: NS.stanzas })),
        ).toString(),
      );
    }
    const out = new XmlElement(st.name, { ...st.attrs, from: s.jid! }, st.children).toString();
    for (const t of targets) t.out.write(out);
  }

  /** IQs to the service itself: session (a no-op), ping; anything else is not offered. */
  #serverIq(s: Session, iq: XmlElement): void {
    if (!iq.is('iq') || (iq.attrs.type !== 'get' && iq.attrs.type !== 'set')) return;
    const known = iq.child('session', NS.session) || iq.child('ping', 'urn:xmpp:ping');
    const answer = known
      ? x('iq', { type: 'result', id: iq.attrs.id, from: this.o.domain })
      : x(
          'iq',
          { type: 'error', id: iq.attrs.id, from: this.o.domain },
          x('error', { type: 'cancel' }, x('service-unavailable', { xmlns: NS.stanzas })),
        );
    s.out.write(answer.toString());
  }

  #bound(): Session[] {
    return [...this.#sessions].filter((o) => o.phase === 'bound' && o.jid);
  }

  #gone(s: Session): void {
    if (!this.#sessions.delete(s)) return;
    if (s.presence && s.jid)
      for (const other of this.#bound())
        other.out.write(x('presence', { type: 'unavailable', from: s.jid }).toString());
    if (s.jid) this.#log.info({ jid: s.jid }, 'lab IM&P: session ended');
  }
}
