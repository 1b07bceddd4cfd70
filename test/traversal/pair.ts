import { CertificateAuthority, type PemPair } from '../../src/certs/index.js';
import type { TlsFiles } from '../../src/host/index.js';
import { TraversalClient, TraversalServer, hashPassword } from '../../src/traversal/index.js';
import { SipStreamFramer } from '../../src/sip/index.js';
import { capturedLogger } from '../support/log-capture.js';

export const CORE_NAME = 'core.example.com';
export const EDGE_ADDRESS = '127.0.0.1';

export interface Pki {
  ca: CertificateAuthority;
  edge: PemPair;
  core: PemPair;
}

let shared: Promise<Pki> | undefined;
/** One CA and a good edge/core pair for the whole file: issuing is cheap, but there is no need to repeat it. */
export function pki(): Promise<Pki> {
  shared ??= (async () => {
    const ca = await CertificateAuthority.create({ commonName: 'mra-edge test CA' });
    const edge = await ca.issue({
      commonName: 'edge.example.com',
      dnsNames: ['edge.example.com'],
      ipAddresses: [EDGE_ADDRESS],
    });
    const core = await ca.issue({ commonName: CORE_NAME, dnsNames: [CORE_NAME] });
    return { ca, edge, core };
  })();
  return shared;
}

export const tlsOf = (pair: PemPair, ca: string): TlsFiles => ({ cert: pair.cert, key: pair.key, ca });

export async function startEdgeServer(opts: { tls: TlsFiles; password?: string; keepaliveMs?: number; node?: string }) {
  const cap = capturedLogger(opts.node ?? 'edge1');
  const server = new TraversalServer({
    node: opts.node ?? 'edge1',
    tls: opts.tls,
    subjectName: CORE_NAME,
    accounts: new Map([['traversal', await hashPassword(opts.password ?? 'right-password')]]),
    keepaliveMs: opts.keepaliveMs ?? 15_000,
    handshakeTimeoutMs: 2000,
    address: EDGE_ADDRESS,
    ports: { sip: 0, http: 0, xmpp: 0 },
    framer: () => new SipStreamFramer(),
    log: cap.log,
  });
  const ports = await server.start();
  return { server, ports, ...cap };
}

export function coreClient(opts: {
  tls: TlsFiles;
  peers: Array<{ address: string; ports: { sip: number; http: number; xmpp: number } }>;
  password?: string;
  keepaliveMs?: number;
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
}) {
  const cap = capturedLogger('core1');
  const client = new TraversalClient({
    node: 'core1',
    tls: opts.tls,
    peers: opts.peers,
    username: 'traversal',
    password: opts.password ?? 'right-password',
    keepaliveMs: opts.keepaliveMs ?? 15_000,
    reconnectInitialMs: opts.reconnectInitialMs ?? 100,
    reconnectMaxMs: opts.reconnectMaxMs ?? 400,
    connectTimeoutMs: 2000,
    framer: () => new SipStreamFramer(),
    log: cap.log,
  });
  return { client, ...cap };
}
