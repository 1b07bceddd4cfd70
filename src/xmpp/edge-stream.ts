import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { SniCallback } from '../certs/index.js';
import { MRA_HEADER_PREFIX, type TunnelHeaders, type TunnelStream } from '../traversal/index.js';
import type { Logger } from '../log/index.js';
import { ElementGate } from './element-gate.js';
import { XmppFramer, XmppFramingError } from './framing.js';
import { NS, streamError, streamHeader, type StreamErrorCondition, type XmlElement } from './xml.js';

export interface EdgeStreamLimits {
  maxStanzaChars: number;
  maxStanzasPerS: number;
  /** From TCP accept to the bound resource (STARTTLS, SASL and bind). */
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
}

export interface Refusal {
  condition: StreamErrorCondition;
  text: string;
  reason: string;
}

export interface EdgeStreamDeps {
  /** Whether a new stream to this domain may start (maintenance, domain table, IM&P on). */
  admit(domain: string): Refusal | undefined;
  tls: { secureContext: SecureContext; SNICallback: SniCallback };
  /** A stream down the xmpp tunnel, or undefined when there is none. */
  open(method: string, path: string, headers: TunnelHeaders): TunnelStream | undefined;
  /** A SASL failure from the inside; true when it blocked the address. */
  authFailed(remote: string): boolean;
  limits: EdgeStreamLimits;
  log: Logger;
  /** Once, when the stream is gone: `reason` names a refusal, undefined for an ordinary end. */
  ended(stream: EdgeXmppStream, reason: string | undefined): void;
}

export const XMPP_DOMAIN_HEADER = `${MRA_HEADER_PREFIX}xmpp-domain`;
/**
 * Each chat session's window on the xmpp tunnel, both ends: one default-size stanza (xmpp.max_stanza_chars).
 * The HTTP tunnel's 256 KiB per stream, over up to 50,000 sessions whose clients stop reading (a phone puts
 * Jabber in the background with its socket open), would let each end hold 12 GiB; this holds a quarter of it.
 */
export const XMPP_STREAM_WINDOW = 64 * 1024;
const LINGER_MS = 2000;

/**
 * One remote client's XMPP connection on the edge. Before TLS the edge speaks for the service itself (stream
 * header, features with STARTTLS required, proceed); after the client restarts the stream over TLS, every byte
 * goes to core as one tunnel stream and core relays it to IM&P, so SASL, bind and stanzas are end to end.
 * The edge still reads both directions: limits and well-formedness on the client's, and on the inside's the
 * SASL outcome (intrusion protection), the bound JID (status) and stream restarts. Both directions pass one
 * whole element at a time (ElementGate): IM&P never sees a stanza the edge refused, and a stream error can
 * always be written to the client between two elements.
 */
export class EdgeXmppStream {
  readonly since = new Date().toISOString();
  readonly id = randomBytes(8).toString('hex');
  domain: string | undefined;
  jid: string | undefined;
  stanzasIn = 0;
  stanzasOut = 0;
  #out: Socket | TLSSocket;
  #client: XmppFramer | undefined;
  #upstream: TunnelStream | undefined;
  /** What the client sent, released to core one whole checked element at a time. */
  readonly #fromClient = new ElementGate();
  /** What IM&P sent, released to the client the same way. */
  readonly #fromServer = new ElementGate();
  #early = '';
  #headerSent = false;
  #serverEnded = false;
  #blocked = false;
  /** SASL succeeded: the client's next stream header is a restart on the same tunnel stream. */
  #restartAllowed = false;
  #closed = false;
  #reported = false;
  #rate = { start: 0, count: 0 };
  readonly #handshake: NodeJS.Timeout;
  readonly #onPlain: (chunk: Buffer) => void;

  constructor(
    private readonly socket: Socket,
    readonly remote: string,
    private readonly d: EdgeStreamDeps,
  ) {
    this.#out = socket;
    socket.setNoDelay(true);
    socket.setTimeout(d.limits.idleTimeoutMs, () => this.close('connection-timeout', 'idle for too long', 'idle'));
    this.#handshake = setTimeout(
      () => this.close('connection-timeout', 'sign-in not completed in time', 'handshake-timeout'),
      d.limits.handshakeTimeoutMs,
    );
    this.#handshake.unref();
    socket.on('error', () => this.#destroy());
    socket.on('close', () => this.#destroy());
    const plain = new XmppFramer(
      {
        streamStart: (a, ns) => this.#plainHeader(a, ns),
        element: (el) => this.#plainElement(el),
        streamEnd: () => this.close(),
      },
      d.limits.maxStanzaChars,
    );
    this.#onPlain = (chunk) => {
      try {
        plain.write(chunk);
      } catch (err) {
        this.#framingFailed(err);
      }
    };
    socket.on('data', this.#onPlain);
  }

  /** Ends the stream, with a stream error when a condition is given; idempotent. */
  close(condition?: StreamErrorCondition, text?: string, reason: string | undefined = condition): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#handshake);
    if (condition && this.#out.writable) {
      const head = this.#headerSent ? '' : streamHeader({ from: this.domain, id: this.id });
      this.#out.write(head + streamError(condition, text));
      this.d.log.info(
        { remote: this.remote, jid: this.jid, condition, reason },
        'xmpp stream closed with a stream error',
      );
    }
    if (this.#out.writable) this.#out.end();
    if (this.#upstream && !this.#upstream.closed) this.#upstream.destroy();
    setTimeout(() => this.#destroy(), LINGER_MS).unref();
    this.#report(reason);
  }

  #report(reason: string | undefined): void {
    if (this.#reported) return;
    this.#reported = true;
    this.d.ended(this, reason);
  }

  #destroy(): void {
    this.#closed = true;
    clearTimeout(this.#handshake);
    this.#out.destroy();
    this.socket.destroy();
    this.#upstream?.destroy();
    this.#report(undefined);
  }

  #framingFailed(err: unknown): void {
    if (err instanceof XmppFramingError) return this.close(err.condition, err.message, err.reason);
    this.d.log.error({ err: (err as Error).message }, 'xmpp stream failed');
    this.close('internal-server-error', 'internal error');
  }

  #checkHeader(attrs: Record<string, string>, ns: string): string {
    if (ns !== NS.client)
      throw new XmppFramingError('invalid-namespace', `the stream's default namespace must be ${NS.client}`);
    if (attrs.version !== '1.0') throw new XmppFramingError('unsupported-version', 'XMPP version 1.0 is required');
    const to = attrs.to;
    if (!to) throw new XmppFramingError('host-unknown', 'the stream header names no domain (to)');
    return to;
  }

  #plainHeader(attrs: Record<string, string>, ns: string): void {
    const to = this.#checkHeader(attrs, ns);
    this.domain = to;
    const refusal = this.d.admit(to);
    if (refusal) throw new XmppFramingError(refusal.condition, refusal.text, refusal.reason);
    this.#headerSent = true;
    this.socket.write(
      `${streamHeader({ from: to, id: this.id })}<stream:features><starttls xmlns='${NS.tls}'><required/></starttls></stream:features>`,
    );
  }

  #plainElement(el: XmlElement): void {
    if (this.#closed || this.#client) return;
    if (!el.is('starttls', NS.tls))
      throw new XmppFramingError('policy-violation', 'STARTTLS is required first', 'no-tls');
    this.socket.off('data', this.#onPlain);
    this.socket.write(`<proceed xmlns='${NS.tls}'/>`);
    this.#headerSent = false;
    const tls = new TLSSocket(this.socket, {
      isServer: true,
      secureContext: this.d.tls.secureContext,
      SNICallback: this.d.tls.SNICallback,
    });
    this.#out = tls;
    this.socket.setTimeout(0);
    tls.setTimeout(this.d.limits.idleTimeoutMs, () => this.close('connection-timeout', 'idle for too long', 'idle'));
    tls.on('error', (err) => {
      this.d.log.debug({ remote: this.remote, err: err.message }, 'xmpp TLS failed');
      this.#destroy();
    });
    tls.on('close', () => this.#destroy());
    const framer = new XmppFramer(
      {
        streamStart: (a, ns) => this.#secureHeader(a, ns),
        element: (e) => this.#clientElement(e),
        streamEnd: () => {},
      },
      this.d.limits.maxStanzaChars,
    );
    this.#client = framer;
    tls.on('data', (chunk: Buffer) => {
      if (this.#closed) return;
      let text: string;
      try {
        text = framer.write(chunk);
      } catch (err) {
        return this.#framingFailed(err);
      }
      this.#toCore(this.#fromClient.take(text, framer.completed));
    });
    // The client has nothing more to say: the inside closes its stream and the edge follows.
    tls.on('end', () => {
      this.#upstream?.end();
      setTimeout(() => this.close(), LINGER_MS).unref();
    });
  }

  #secureHeader(attrs: Record<string, string>, ns: string): void {
    const to = this.#checkHeader(attrs, ns);
    if (to.toLowerCase() !== this.domain?.toLowerCase())
      throw new XmppFramingError('host-unknown', 'the domain changed during the session');
    if (this.#upstream) {
      if (!this.#restartAllowed)
        throw new XmppFramingError('bad-format', 'a stream restart the service did not ask for');
      this.#restartAllowed = false;
      return;
    }
    const up = this.d.open('POST', '/xmpp', {
      [`${MRA_HEADER_PREFIX}client-address`]: this.remote,
      [XMPP_DOMAIN_HEADER]: to,
    });
    if (!up)
      throw new XmppFramingError(
        'remote-connection-failed',
        'the inside is not reachable at the moment; retry shortly',
        'no-link',
      );
    this.#upstream = up;
    const server = new XmppFramer({
      streamStart: () => (this.#headerSent = true),
      element: (el) => this.#serverElement(el, server),
      streamEnd: () => (this.#serverEnded = true),
    });
    up.on('response', (h) => {
      const status = Number(h[':status']);
      if (status === 503)
        this.close('system-shutdown', 'the inside node is in maintenance mode; sign in again shortly', 'maintenance');
      else if (status !== 200)
        this.close(
          'remote-connection-failed',
          `the IM and Presence service is not reachable (core answered ${status})`,
          'inside-unreachable',
        );
    });
    up.on('data', (chunk: Buffer) => this.#fromCore(chunk, server));
    up.on('error', () => {});
    up.on('close', () => {
      if (this.#closed) return;
      if (this.#serverEnded) this.close();
      else this.close('remote-connection-failed', 'the connection to the inside was lost', 'link-lost');
    });
  }

  #clientElement(_el: XmlElement): void {
    this.stanzasIn++;
    const now = Date.now();
    if (now - this.#rate.start >= 1000) this.#rate = { start: now, count: 0 };
    if (++this.#rate.count > this.d.limits.maxStanzasPerS)
      throw new XmppFramingError(
        'policy-violation',
        `more than ${this.d.limits.maxStanzasPerS} stanzas a second`,
        'rate',
      );
  }

  #toCore(text: string): void {
    const up = this.#upstream;
    if (!up) return void (this.#early += text);
    const out = this.#early + text;
    this.#early = '';
    if (out && !up.write(out)) {
      this.#out.pause();
      up.once('drain', () => this.#out.resume());
    }
  }

  #fromCore(chunk: Buffer, server: XmppFramer): void {
    if (this.#closed) return;
    let text: string;
    try {
      text = server.write(chunk);
    } catch (err) {
      this.d.log.warn({ remote: this.remote, err: (err as Error).message }, 'xmpp: the inside sent bad XML');
      return this.close('internal-server-error', 'the inside service sent bad XML', 'inside-bad-xml');
    }
    const whole = this.#fromServer.take(text, server.completed);
    if (whole) {
      if (!this.#out.write(whole)) {
        this.#upstream!.pause();
        this.#out.once('drain', () => this.#upstream?.resume());
      }
    }
    if (this.#blocked) this.close('policy-violation', 'too many failed sign-ins from this address', 'blocked');
    else if (this.#serverEnded) this.close();
  }

  #serverElement(el: XmlElement, server: XmppFramer): void {
    this.stanzasOut++;
    if (el.is('success', NS.sasl)) {
      // Both sides start a new stream now (RFC 6120 §6.4.6); the client's next bytes are its new header.
      server.restart();
      this.#client?.restart();
      this.#restartAllowed = true;
    } else if (el.is('failure', NS.sasl)) {
      if (this.d.authFailed(this.remote)) this.#blocked = true;
    } else if (el.is('resumed', NS.sm)) {
      // A resumed session (XEP-0198) is signed in; its JID was bound on the stream it continues.
      clearTimeout(this.#handshake);
    } else if (el.is('iq') && el.attrs.type === 'result') {
      const jid = el.child('bind', NS.bind)?.child('jid')?.text;
      if (jid) {
        this.jid = jid;
        clearTimeout(this.#handshake);
      }
    }
  }
}
