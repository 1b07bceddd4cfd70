// The edge's client-facing SIP listener: TLS on public.sip_tls_port. Clients keep one connection each and
// every request back to them rides it (RFC 5626 flows), so connections are tracked by id.
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { listenOn } from '../../util/listen.js';
import type { Logger } from '../../log/index.js';
import { SipConnection, type ConnectionHandler, type ConnectionLimits } from './connection.js';

export interface SipTlsListenerOptions {
  address: string;
  port: number;
  tls: { cert: string; key: string; ca?: string };
  limits?: Partial<ConnectionLimits>;
  maxConnections: number;
  /** A TLS handshake not done within this closes the socket (handshake slowloris). */
  handshakeTimeoutMs?: number;
  log: Logger;
  onMessage: ConnectionHandler;
  onConnectionClosed?: (conn: SipConnection) => void;
}

export class SipTlsListener {
  readonly #server: Server;
  readonly #connections = new Map<string, SipConnection>();
  readonly #opts: SipTlsListenerOptions;
  #port = 0;

  constructor(opts: SipTlsListenerOptions) {
    this.#opts = opts;
    this.#server = createServer({ cert: opts.tls.cert, key: opts.tls.key, handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000 }, (socket) => this.#accept(socket));
    this.#server.on('tlsClientError', (err, socket) => {
      opts.log.debug({ remote: `${socket.remoteAddress}:${socket.remotePort}`, err: err.message }, 'sip tls handshake failed');
    });
  }

  async listen(): Promise<number> {
    this.#port = await listenOn(this.#server, this.#opts.port, this.#opts.address);
    return this.#port;
  }

  get port(): number {
    return this.#port;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  connection(id: string): SipConnection | undefined {
    return this.#connections.get(id);
  }

  async close(): Promise<void> {
    const done = new Promise<void>((r) => this.#server.close(() => r()));
    for (const c of this.#connections.values()) c.close('listener closing');
    await done;
  }

  #accept(socket: TLSSocket): void {
    const { log } = this.#opts;
    socket.on('error', () => {});
    if (this.#connections.size >= this.#opts.maxConnections) {
      log.warn({ remote: `${socket.remoteAddress}:${socket.remotePort}`, max: this.#opts.maxConnections }, 'sip connection refused: connection limit');
      socket.destroy();
      return;
    }
    const conn = new SipConnection(socket, 'tls', this.#opts.limits ?? {}, this.#opts.onMessage);
    this.#connections.set(conn.id, conn);
    conn.onClose((reason) => {
      this.#connections.delete(conn.id);
      // Guard trips (slowloris, idle, unframeable) are worth a warning; an ordinary hang-up is not.
      if (/timeout|unframeable/.test(reason)) log.warn({ conn: conn.id, remote: conn.remote, reason }, 'sip connection closed');
      else log.debug({ conn: conn.id, remote: conn.remote, reason }, 'sip connection closed');
      this.#opts.onConnectionClosed?.(conn);
    });
  }
}
