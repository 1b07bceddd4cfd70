import { EventEmitter } from 'node:events';
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tlsKeyLog, type Logger } from '../log/index.js';
import { checkPeerCertificate } from '../certs/index.js';
import { verifyPassword } from './credentials.js';
import {
  type HandshakeError,
  PROTOCOL,
  line,
  parseHello,
  readLine,
  type ChannelKind,
  type Hello,
  type RefusalCode,
} from './handshake.js';
import { MessageChannel, StreamChannel, type Channel, type ChannelInfo, type MessageFramer } from './channel.js';
import { ChannelHandlers } from './handlers.js';
import type { TlsFiles } from '../host/index.js';
import type { ChannelHandler, ChannelSource, EdgeLinkStatus } from './types.js';

export interface TraversalServerOptions {
  node: string;
  tls: TlsFiles;
  /** Must be in the core certificate's SAN or CN (Expressway's "TLS verify subject name"). */
  subjectName: string;
  /** username → scrypt hash: the edge's local authentication database. */
  accounts: ReadonlyMap<string, string>;
  keepaliveMs: number;
  handshakeTimeoutMs: number;
  address: string;
  ports: Record<ChannelKind, number>;
  /** Frames each SIP channel's stream (the SIP plane's framer, handed in by the composition root). */
  framer: () => MessageFramer;
  log: Logger;
  /** Told of each refused attempt, e.g. for intrusion protection. */
  onRefused?: (remoteAddress: string, code: RefusalCode, reason: string) => void;
}

/**
 * The edge side of the link: it only listens. Each port carries one kind of channel; every connection must pass
 * mutual TLS, the core-certificate checks and the traversal credentials before a plane sees it.
 */
export class TraversalServer extends EventEmitter<{ channel: [Channel] }> implements ChannelSource {
  readonly #servers = new Map<ChannelKind, Server>();
  readonly #channels = new Set<Channel>();
  readonly #handlers = new ChannelHandlers();
  /** Every TCP connection, authenticated or not, so close() leaves nothing half-open behind. */
  readonly #sockets = new Set<Socket>();
  /** Refused connections by the check that failed, and the last one's time, address and reason (status, alarm). */
  readonly #refusals: Partial<Record<RefusalCode, number>> = {};
  #lastRefusal: string | undefined;
  readonly #log: Logger;
  #closing = false;

  constructor(private readonly opts: TraversalServerOptions) {
    super();
    this.#log = opts.log.child({ plane: 'traversal' });
  }

  /** Starts the three listeners; resolves with the ports actually bound. */
  async start(): Promise<Record<ChannelKind, number>> {
    const bound = {} as Record<ChannelKind, number>;
    const context = createSecureContext({
      cert: this.opts.tls.cert,
      key: this.opts.tls.key,
      ca: this.opts.tls.ca,
      minVersion: 'TLSv1.2',
    });
    for (const kind of Object.keys(this.opts.ports) as ChannelKind[]) {
      const server = createServer((raw) => this.#handshake(kind, raw, context));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.opts.ports[kind], this.opts.address, () => {
          server.off('error', reject);
          resolve();
        });
      });
      bound[kind] = (server.address() as AddressInfo).port;
      this.#servers.set(kind, server);
    }
    this.#log.info({ address: this.opts.address, ports: bound }, 'traversal server listening');
    return bound;
  }

  /**
   * TLS on one accepted connection, as Expressway's traversal server does it: a client that presents no
   * certificate is refused in the TLS handshake itself (certificate_required), so nobody without one ever reaches
   * the link's own handshake parser. A client that presents one completes TLS whatever OpenSSL thought of it, so
   * that the refusal can name the fault (untrusted, expired, no clientAuth, wrong name) to core and in the log.
   * tls.Server ties "demand a certificate" to "drop an unverified one without a word", so the socket is ours.
   */
  #handshake(kind: ChannelKind, raw: Socket, context: SecureContext): void {
    this.#sockets.add(raw);
    raw.once('close', () => this.#sockets.delete(raw));
    if (this.#closing) return void raw.destroy();
    raw.setNoDelay(true); // small SIP messages back to back: no Nagle wait for the peer's delayed ACK (dial.ts)
    const socket = new TLSSocket(raw, {
      isServer: true,
      secureContext: context,
      requestCert: true,
      rejectUnauthorized: true,
    });
    tlsKeyLog.onSocket(socket);
    const remote = raw.remoteAddress ?? '';
    const timer = setTimeout(
      () => socket.destroy(new Error(`no TLS handshake within ${this.opts.handshakeTimeoutMs} ms`)),
      this.opts.handshakeTimeoutMs,
    );
    timer.unref();
    socket.once('secure', () => {
      clearTimeout(timer);
      void this.#accept(kind, socket);
    });
    socket.on('error', (err: Error & { code?: string }) => {
      clearTimeout(timer);
      if (socket.listenerCount('secure') === 0) return; // after the handshake: the channel's own business
      if (err.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE')
        this.#refused(
          kind,
          `${remote}:${raw.remotePort}`,
          remote,
          'certificate',
          'presented no client certificate: refused in the TLS handshake',
        );
      else this.#log.warn({ channel: kind, remote, err: err.message }, 'traversal TLS handshake failed');
    });
  }

  #refused(kind: ChannelKind, remote: string, address: string, code: RefusalCode, reason: string): void {
    this.#log.warn({ channel: kind, remote, refusal: code, reason }, 'traversal connection refused');
    this.#refusals[code] = (this.#refusals[code] ?? 0) + 1;
    this.#lastRefusal = `${new Date().toISOString()} from ${remote}: ${reason}`;
    this.opts.onRefused?.(address, code, reason);
  }

  /** A plane's handler runs for every authenticated channel of its kind that a core opens. */
  onChannel<K extends ChannelKind>(kind: K, handler: ChannelHandler<K>): void {
    this.#handlers.add(kind, handler);
  }

  async #accept(kind: ChannelKind, socket: TLSSocket): Promise<void> {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const refuse = (code: RefusalCode, reason: string) => {
      this.#refused(kind, remote, socket.remoteAddress ?? '', code, reason);
      socket.end(line({ mra: PROTOCOL, ok: false, error: code, reason }));
      setTimeout(() => socket.destroy(), 1000).unref();
    };
    socket.on('error', () => {});
    if (this.#closing) return void socket.destroy();

    const certReason = this.#certificateProblem(socket);
    if (certReason) return refuse('certificate', certReason);

    let hello: Hello;
    try {
      hello = parseHello(await readLine(socket, this.opts.handshakeTimeoutMs));
    } catch (err) {
      const e = err as HandshakeError;
      if (e.kind === 'closed' || e.kind === 'timeout') return void socket.destroy();
      return refuse('protocol', e.message);
    }
    if (hello.channel !== kind) return refuse('channel', `port carries ${kind} channels, not ${hello.channel}`);
    const hash = this.opts.accounts.get(hello.username);
    // Verify against a dummy hash for unknown users too, so timing does not tell which usernames exist.
    const ok = await verifyPassword(hello.password, hash ?? DUMMY_HASH);
    if (!hash || !ok) return refuse('credentials', `bad traversal username or password for "${hello.username}"`);
    if (socket.destroyed) return;

    socket.write(line({ mra: PROTOCOL, ok: true, node: this.opts.node, keepalive_s: this.opts.keepaliveMs / 1000 }));
    const info: ChannelInfo = { kind, peerNode: hello.node, remote, since: new Date() };
    const channel: MessageChannel | StreamChannel =
      kind === 'sip'
        ? new MessageChannel(info, socket, this.opts.framer(), {
            role: 'ponger',
            intervalMs: this.opts.keepaliveMs,
            onDead: (why) => channel.close(why),
          })
        : new StreamChannel(info, socket);
    this.#channels.add(channel);
    channel.once('close', (reason) => {
      this.#channels.delete(channel);
      this.#log.info({ channel: kind, core: hello.node, remote, reason }, 'traversal channel down');
    });
    this.#log.info({ channel: kind, core: hello.node, remote }, 'traversal channel up');
    this.emit('channel', channel);
    this.#handlers.deliver(channel);
  }

  #certificateProblem(socket: TLSSocket): string | undefined {
    const cert = socket.getPeerX509Certificate();
    if (!cert) return 'core presented no client certificate';
    // OpenSSL's verdict on the chain, read as tls.Server itself reads it (it is not on a TLSSocket's public face).
    const verifyError = (
      socket as unknown as { _handle: { verifyError(): (Error & { code?: string }) | null } }
    )._handle.verifyError();
    // Our own checks name the fault in the operator's words; OpenSSL's code (e.g. INVALID_PURPOSE) is kept beside.
    const problems = checkPeerCertificate({
      certPem: cert.toString(),
      subjectName: this.opts.subjectName,
      requireClientAuth: true,
    });
    const named = problems.map((p) => p.message).join('; ');
    if (verifyError)
      return named
        ? `${named} (${verifyError.code ?? verifyError.message})`
        : `core certificate not trusted: ${verifyError.code ?? verifyError.message}`;
    return named || undefined;
  }

  status(): EdgeLinkStatus {
    const cores = new Map<string, EdgeLinkStatus['cores'][number]>();
    for (const ch of this.#channels) {
      const c = cores.get(ch.info.peerNode) ?? {
        node: ch.info.peerNode,
        remote: ch.info.remote,
        since: ch.info.since.toISOString(),
        channels: {},
      };
      c.channels[ch.info.kind] = 'up';
      cores.set(ch.info.peerNode, c);
    }
    const list = [...cores.values()];
    return {
      state: list.some((c) => c.channels.sip === 'up') ? 'up' : 'down',
      cores: list,
      refused: { ...this.#refusals },
      ...(this.#lastRefusal ? { lastError: `last refused: ${this.#lastRefusal}` } : {}),
    };
  }

  /** Stops listening and closes every channel. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const ch of this.#channels) ch.close('edge shutting down');
    for (const raw of this.#sockets) raw.destroy();
    await Promise.all([...this.#servers.values()].map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.#servers.clear();
  }
}

const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
