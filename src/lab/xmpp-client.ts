// A small XMPP client as Jabber signs in through the edge: stream, STARTTLS, SASL PLAIN, bind. The lab's
// simulated clients stay connected with it; tests drive it stanza by stanza.
import { EventEmitter } from 'node:events';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { NS, XmppFramer, streamHeader, x, type XmlElement } from '../xmpp/index.js';

export interface XmppClientOptions {
  host: string;
  port: number;
  /** The name the edge's certificate must carry (SNI and check). */
  servername: string;
  ca: string;
  domain: string;
  user: string;
  password: string;
  /** Sign in with this OAuth access token (SASL X-OAUTH2) instead of the password. */
  token?: string;
  resource?: string;
  timeoutMs?: number;
  localAddress?: string;
}

/** XEP-0198 stream management. */
export const SM = NS.sm;

/** A stream management session to resume: the id the server gave, the stanzas handled, the JID it had. */
export interface Resumption {
  previd: string;
  h: number;
  jid: string;
}

export class XmppStreamError extends Error {
  constructor(
    readonly condition: string,
    readonly text: string,
  ) {
    super(`stream error <${condition}/>${text ? `: ${text}` : ''}`);
  }
}

type Waiter = {
  pred: (el: XmlElement) => boolean;
  resolve: (el: XmlElement) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
};

export class XmppClient extends EventEmitter<{ stanza: [XmlElement]; closed: [XmppStreamError | undefined] }> {
  jid: string | undefined;
  /** The stream error the server ended the stream with, if any. */
  streamError: XmppStreamError | undefined;
  #socket: Socket | TLSSocket | undefined;
  #inbox: XmlElement[] = [];
  #waiters: Waiter[] = [];
  #closed = false;
  #closedPromise: Promise<void>;
  #markClosed!: () => void;
  #serverEnded = false;

  constructor(private readonly o: XmppClientOptions) {
    super();
    this.#closedPromise = new Promise((r) => (this.#markClosed = r));
  }

  get connected(): boolean {
    return !this.#closed && this.jid !== undefined;
  }

  /** Connects and opens the plain stream up to its features (tests stop here to misbehave). */
  async open(): Promise<XmlElement> {
    const socket = tcpConnect({
      host: this.o.host,
      port: this.o.port,
      noDelay: true,
      ...(this.o.localAddress ? { localAddress: this.o.localAddress } : {}),
    });
    this.#attach(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    this.sendRaw(streamHeader({ to: this.o.domain }));
    return this.waitFor((el) => el.is('features', NS.stream));
  }

  /**
   * Everything up to a bound resource: STARTTLS, SASL PLAIN, bind; or, given a stream management session
   * (XEP-0198) the server let go on, its resumption instead of bind. Rejects with the server's refusal.
   */
  async connect(resume?: Resumption): Promise<string> {
    const features = await this.open();
    if (!features.child('starttls', NS.tls)) throw new Error('the server offers no STARTTLS');
    await this.startTls();
    return this.authenticate(resume);
  }

  async startTls(): Promise<void> {
    this.sendRaw(`<starttls xmlns='${NS.tls}'/>`);
    await this.waitFor((el) => el.is('proceed', NS.tls));
    const plain = this.#socket!;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const tls = tlsConnect({ socket: plain, servername: this.o.servername, ca: this.o.ca });
    await new Promise<void>((resolve, reject) => {
      tls.once('secureConnect', resolve);
      tls.once('error', reject);
    });
    this.#attach(tls);
    this.sendRaw(streamHeader({ to: this.o.domain }));
  }

  async authenticate(resume?: Resumption): Promise<string> {
    const features = await this.waitFor((el) => el.is('features', NS.stream));
    const mechanisms =
      features.child('mechanisms', NS.sasl)?.children.map((c) => (typeof c === 'string' ? '' : c.text)) ?? [];
    const mechanism = this.o.token ? 'X-OAUTH2' : 'PLAIN';
    if (!mechanisms.includes(mechanism))
      throw new Error(`the server offers no SASL ${mechanism} (${mechanisms.join(', ')})`);
    this.send(
      x(
        'auth',
        { xmlns: NS.sasl, mechanism },
        Buffer.from(`\0${this.o.user}\0${this.o.token ?? this.o.password}`).toString('base64'),
      ),
    );
    const outcome = await this.waitFor((el) => el.ns === NS.sasl && (el.local === 'success' || el.local === 'failure'));
    if (outcome.local === 'failure')
      throw new Error(`SASL failure: ${outcome.children.map((c) => (typeof c === 'string' ? c : c.local)).join(' ')}`);
    this.sendRaw(streamHeader({ to: this.o.domain }));
    await this.waitFor((el) => el.is('features', NS.stream));
    if (resume) {
      this.send(x('resume', { xmlns: SM, previd: resume.previd, h: String(resume.h) }));
      const answer = await this.waitFor((el) => el.ns === SM && (el.local === 'resumed' || el.local === 'failed'));
      if (answer.local !== 'resumed') throw new Error(`resumption refused: ${answer.toString()}`);
      this.jid = resume.jid;
      return resume.jid;
    }
    this.send(
      x('iq', { type: 'set', id: 'bind1' }, x('bind', { xmlns: NS.bind }, x('resource', {}, this.o.resource ?? 'lab'))),
    );
    const bound = await this.waitFor((el) => el.is('iq') && el.attrs.id === 'bind1');
    const jid = bound.child('bind', NS.bind)?.child('jid')?.text;
    if (bound.attrs.type !== 'result' || !jid) throw new Error(`bind failed: ${bound.toString()}`);
    this.jid = jid;
    return jid;
  }

  send(el: XmlElement): void {
    this.sendRaw(el.toString());
  }

  sendRaw(text: string): void {
    if (this.#socket?.writable) this.#socket.write(text);
  }

  /** The next received element matching `pred` (one received earlier and not yet taken counts). */
  waitFor(pred: (el: XmlElement) => boolean, timeoutMs = this.o.timeoutMs ?? 5000): Promise<XmlElement> {
    const i = this.#inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.#inbox.splice(i, 1)[0]!);
    if (this.#closed) return Promise.reject(this.streamError ?? new Error('the stream is closed'));
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        pred,
        resolve,
        reject,
        timer: setTimeout(() => this.#drop(w, new Error('no such stanza in time')), timeoutMs),
      };
      this.#waiters.push(w);
    });
  }

  /** Resolves once the connection is gone. */
  whenClosed(): Promise<void> {
    return this.#closedPromise;
  }

  /** Ends the stream as a client does: `</stream:stream>`, then waits for the server's close. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.sendRaw('</stream:stream>');
      const t = setTimeout(() => this.#socket?.destroy(), 2000);
      await this.#closedPromise;
      clearTimeout(t);
    }
  }

  destroy(): void {
    this.#socket?.destroy();
  }

  #drop(w: Waiter, err: Error): void {
    const i = this.#waiters.indexOf(w);
    if (i >= 0) this.#waiters.splice(i, 1);
    clearTimeout(w.timer);
    w.reject(err);
  }

  #attach(socket: Socket | TLSSocket): void {
    this.#socket = socket;
    const framer = new XmppFramer(
      {
        streamStart: () => {},
        element: (el) => this.#element(el, framer),
        streamEnd: () => {
          this.#serverEnded = true;
          socket.end();
        },
      },
      16 * 1024 * 1024,
    );
    socket.on('data', (chunk: Buffer) => {
      try {
        framer.write(chunk);
      } catch (err) {
        this.#finish(new XmppStreamError('not-well-formed', (err as Error).message));
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => this.#finish(this.streamError));
  }

  #element(el: XmlElement, framer: XmppFramer): void {
    if (el.is('error', NS.stream)) {
      const cond = el.children.find(
        (c): c is XmlElement => typeof c !== 'string' && c.ns === NS.streamErrors && c.local !== 'text',
      );
      this.streamError = new XmppStreamError(
        cond?.local ?? 'undefined-condition',
        el.child('text', NS.streamErrors)?.text ?? '',
      );
      return;
    }
    if (el.is('success', NS.sasl)) framer.restart();
    this.emit('stanza', el);
    const w = this.#waiters.find((v) => v.pred(el));
    if (w) {
      this.#waiters.splice(this.#waiters.indexOf(w), 1);
      clearTimeout(w.timer);
      return w.resolve(el);
    }
    if (this.#inbox.length < 1000) this.#inbox.push(el);
  }

  #finish(err: XmppStreamError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket?.destroy();
    for (const w of [...this.#waiters])
      this.#drop(w, err ?? new Error(this.#serverEnded ? 'the server ended the stream' : 'the connection closed'));
    this.emit('closed', err);
    this.#markClosed();
  }
}
