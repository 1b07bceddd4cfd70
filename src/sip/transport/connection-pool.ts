// Outbound SIP connections (core → call control): one per destination, reused for every flow to it, so
// call control can send requests back over the connection core opened (RFC 5626 §5.3 connection reuse).
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  StreamSipConnection,
  type SipConnection,
  type ConnectionHandler,
  type ConnectionLimits,
  type SipTap,
} from './connection.js';

export interface SipTarget {
  transport: 'tcp' | 'tls';
  host: string;
  port: number;
  /** TLS only: verify the peer's certificate and name (the zone's TLS verify mode); on unless false. */
  verify?: boolean;
}

export interface SipConnectionPoolOptions {
  /** Trust anchors for TLS destinations (mixed-mode clusters); the node's own certificate is offered. */
  tls?: { cert: string; key: string; ca: string };
  connectTimeoutMs?: number;
  /** The local address to connect from (core's source_address); default: the one the route picks. */
  localAddress?: string;
  /**
   * RFC 5626 §4.4.1 CRLF keepalives sent this often (0: none). The peer's pong keeps the connection inside
   * its idle timeout: call control sends requests for clients back over it, so it must not lapse quietly.
   */
  keepaliveMs?: number;
  limits?: Partial<ConnectionLimits>;
  onMessage: ConnectionHandler;
  tap?: SipTap;
}

export function targetKey(t: SipTarget): string {
  return `${t.transport}:${t.host}:${t.port}`;
}

export class SipConnectionPool {
  readonly #open = new Map<string, SipConnection>();
  readonly #pending = new Map<string, Promise<SipConnection>>();
  readonly #byId = new Map<string, SipConnection>();
  #closed = false;

  constructor(private readonly opts: SipConnectionPoolOptions) {}

  /** The open connection to the target, or a new one; rejects with the connect error. */
  get(target: SipTarget): Promise<SipConnection> {
    if (this.#closed) return Promise.reject(new Error('connection pool closed'));
    const key = targetKey(target);
    const open = this.#open.get(key);
    if (open && !open.closed) return Promise.resolve(open);
    const pending = this.#pending.get(key);
    if (pending) return pending;
    const p = this.#connect(target).finally(() => this.#pending.delete(key));
    this.#pending.set(key, p);
    return p;
  }

  /** The open connection to the target, if there is one: no promise (and no turn of the loop) per request. */
  open(target: SipTarget): SipConnection | undefined {
    const open = this.#open.get(targetKey(target));
    return open && !open.closed && !this.#closed ? open : undefined;
  }

  /** A connection by id, for a response that must go back the way its request came. */
  byId(id: string): SipConnection | undefined {
    return this.#byId.get(id);
  }

  get size(): number {
    return this.#open.size;
  }

  close(): void {
    this.#closed = true;
    for (const c of this.#open.values()) c.close('pool closing');
  }

  #connect(target: SipTarget): Promise<SipConnection> {
    const timeout = this.opts.connectTimeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      let socket: Socket;
      const ready = () => {
        socket.setTimeout(0);
        socket.off('error', fail);
        const conn = new StreamSipConnection(socket, target.transport, this.opts.limits ?? {}, this.opts.onMessage);
        conn.tap = this.opts.tap;
        const key = targetKey(target);
        this.#open.set(key, conn);
        this.#byId.set(conn.id, conn);
        const every = this.opts.keepaliveMs ?? 0;
        const keepalive = every > 0 ? setInterval(() => conn.send('\r\n\r\n'), every).unref() : undefined;
        conn.onClose(() => {
          clearInterval(keepalive);
          if (this.#open.get(key) === conn) this.#open.delete(key);
          this.#byId.delete(conn.id);
        });
        if (this.#closed) conn.close('pool closing');
        resolve(conn);
      };
      const fail = (err: Error) => {
        socket.destroy();
        reject(new Error(`cannot reach ${targetKey(target)}: ${err.message}`));
      };
      const from = this.opts.localAddress ? { localAddress: this.opts.localAddress } : {};
      if (target.transport === 'tls') {
        const t = this.opts.tls;
        if (!t) return reject(new Error(`no TLS material for ${targetKey(target)}`));
        socket = tlsConnect(
          {
            host: target.host,
            port: target.port,
            ca: t.ca,
            cert: t.cert,
            key: t.key,
            rejectUnauthorized: target.verify !== false,
            servername: isIp(target.host) ? undefined : target.host,
            ...from,
          },
          ready,
        );
      } else socket = tcpConnect({ host: target.host, port: target.port, ...from }, ready);
      socket.once('error', fail);
      socket.setTimeout(timeout, () => fail(new Error(`connect timeout after ${timeout} ms`)));
    });
  }
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
