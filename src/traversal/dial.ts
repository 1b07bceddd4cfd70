import { connect, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { HandshakeError, PROTOCOL, line, parseReply, readLine, refusalCode, type ChannelKind } from './handshake.js';
import type { ChannelInfo } from './channel.js';
import { MraError, type TlsFiles } from '../host/index.js';
import { tlsKeyLog } from '../log/index.js';

/** The edge said no, with its reason: wrong credentials, certificate problem, protocol. */
export class TraversalRefused extends MraError {
  constructor(
    /** The refusal as the edge named it (certificate, credentials, protocol, channel). */
    readonly refusal: string,
    reason: string,
  ) {
    super(`edge refused (${refusal}): ${reason}`);
    this.name = 'TraversalRefused';
  }

  get code(): string {
    return refusalCode(this.refusal);
  }
}

interface DialOptions {
  node: string;
  tls: TlsFiles;
  username: string;
  password: string;
  connectTimeoutMs: number;
  /** The local address to connect from (core's source_address); default: the one the route picks. */
  localAddress?: string;
}

/**
 * Opens one channel to one edge: TCP, TLS with the edge's certificate verified against the trusted CA and the
 * peer address, the core's client certificate presented, then the credentials. Resolves only when accepted.
 */
export async function dialChannel(
  peer: { address: string; ports: Record<ChannelKind, number> },
  kind: ChannelKind,
  opts: DialOptions,
): Promise<{ socket: TLSSocket; info: ChannelInfo }> {
  const socket = connect({
    host: peer.address,
    port: peer.ports[kind],
    cert: opts.tls.cert,
    key: opts.tls.key,
    ca: opts.tls.ca,
    servername: isIP(peer.address) ? undefined : peer.address,
    minVersion: 'TLSv1.2',
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
  });
  tlsKeyLog.onSocket(socket);
  // A SIP request and its answers are small writes back to back (a 100 Trying, then the 200): with Nagle the second
  // waits for the peer's delayed ACK, up to 40 ms a hop.
  socket.setNoDelay(true);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no TLS connection within ${opts.connectTimeoutMs} ms`)),
        opts.connectTimeoutMs,
      );
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    socket.write(
      line({ mra: PROTOCOL, channel: kind, username: opts.username, password: opts.password, node: opts.node }),
    );
    const reply = parseReply(await readLine(socket, opts.connectTimeoutMs));
    if (!reply.ok) throw new TraversalRefused(reply.error, reply.reason);
    socket.on('error', () => {});
    return {
      socket,
      info: {
        kind,
        peerNode: reply.node,
        remote: `${socket.remoteAddress}:${socket.remotePort}`,
        localAddress: socket.localAddress,
        since: new Date(),
      },
    };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

/** One line for logs and status: what went wrong, in the operator's words. */
export function describeDialError(err: unknown): string {
  if (err instanceof TraversalRefused) return err.message;
  if (err instanceof HandshakeError) return `handshake failed: ${err.message}`;
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'connection refused (edge not listening)';
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `edge unreachable (${e.code})`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_HAS_EXPIRED':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `edge certificate rejected: ${e.code}: ${e.message}`;
    default:
      return e.code ? `${e.code}: ${e.message}` : String(e?.message ?? err);
  }
}
