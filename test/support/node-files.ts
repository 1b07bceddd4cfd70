import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CertificateAuthority } from '../../src/certs/index.js';
import { hashPassword } from '../../src/traversal/index.js';
import { mediaRange } from './media-range.js';

export const CLI = join(process.env.MRA_ROOT ?? process.cwd(), 'dist/src/cli/main.js');

/** A free TCP port on an address: bound, read and released (for a process that must reuse it after a restart). */
export async function freePort(address = '127.0.0.1'): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, address, () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A free UDP port on an address, bound, read and released (for a server started as another process). */
export async function freeUdpPort(address = '127.0.0.1'): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, address, resolve);
  });
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/**
 * A CA and the nodes' certificates in `dir` as an operator installs them: ca.pem, edge.pem/.key (edge.example.com,
 * with `edgeAddresses` in its SAN, as core dials it) and core.pem/.key (core.example.com, the subject name edges verify).
 */
export async function writeNodePki(
  dir: string,
  edgeAddresses: string[],
  label = 'mra-edge test CA',
): Promise<CertificateAuthority> {
  const ca = await CertificateAuthority.create({ commonName: label });
  const edge = await ca.issue({
    commonName: 'edge.example.com',
    dnsNames: ['edge.example.com'],
    ipAddresses: edgeAddresses,
  });
  const core = await ca.issue({ commonName: 'core.example.com', dnsNames: ['core.example.com'] });
  const files: Record<string, string> = {
    'ca.pem': ca.cert,
    'edge.pem': edge.cert,
    'edge.key': edge.key,
    'core.pem': core.cert,
    'core.key': core.key,
  };
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body, { mode: 0o600 });
  return ca;
}

export interface PairFiles {
  dir: string;
  edgeYaml: string;
  coreYaml: string;
  cleanup(): void;
}

/**
 * Writes what an operator would: a CA, edge and core certificates, and the two YAML files, for an edge at
 * `edgeAddress` (traversal ports given) and a core whose admin API is on `coreAdmin`.
 */
export async function writePairFiles(opts: {
  edgeAddresses: string[];
  traversal: { sip: number; http: number; xmpp: number };
  edgeListen?: string;
  coreAdmin: { address: string; port: number };
  edgeAdmin: { address: string; port: number };
  keepaliveS?: number;
  extraPeers?: Array<{ address: string; sip: number; http: number; xmpp: number }>;
}): Promise<PairFiles> {
  const dir = mkdtempSync(join(tmpdir(), 'mra-pair-'));
  await writeNodePki(dir, opts.edgeAddresses);
  writeFileSync(join(dir, 'password'), 'traversal-secret\n', { mode: 0o600 });
  // Off loopback the admin API is HTTPS with a token (the node's own certificate serves it here).
  const admin = (a: { address: string; port: number }, node: 'edge' | 'core') => ({
    address: a.address,
    port: a.port,
    ...(a.address.startsWith('127.')
      ? {}
      : { token: 'test-admin-token-0123456789', tls: { cert_file: `${node}.pem`, key_file: `${node}.key` } }),
  });
  const edgeYaml = join(dir, 'edge.yaml');
  writeFileSync(
    edgeYaml,
    stringify({
      role: 'edge',
      media: mediaRange(),
      name: 'edge1',
      log: { level: 'debug' },
      admin: admin(opts.edgeAdmin, 'edge'),
      tls: { cert_file: 'edge.pem', key_file: 'edge.key', ca_file: 'ca.pem' },
      traversal: {
        address: opts.edgeListen ?? opts.edgeAddresses[0],
        sip_port: opts.traversal.sip,
        http_tunnel_port: opts.traversal.http,
        xmpp_port: opts.traversal.xmpp,
        tls_verify_subject_name: 'core.example.com',
        accounts: [{ username: 'traversal', password_hash: await hashPassword('traversal-secret') }],
        keepalive_s: opts.keepaliveS ?? 15,
      },
    }),
  );
  const coreYaml = join(dir, 'core.yaml');
  const peers = [
    { address: opts.edgeAddresses[0], sip: opts.traversal.sip, http: opts.traversal.http, xmpp: opts.traversal.xmpp },
    ...(opts.extraPeers ?? []),
  ];
  writeFileSync(
    coreYaml,
    stringify({
      role: 'core',
      media: mediaRange(),
      name: 'core1',
      log: { level: 'debug' },
      admin: admin(opts.coreAdmin, 'core'),
      tls: { cert_file: 'core.pem', key_file: 'core.key', ca_file: 'ca.pem' },
      traversal: {
        peers: peers.map((p) => ({ address: p.address, sip_port: p.sip, http_tunnel_port: p.http, xmpp_port: p.xmpp })),
        username: 'traversal',
        password_file: 'password',
        keepalive_s: opts.keepaliveS ?? 15,
        reconnect_initial_s: 0.1,
        reconnect_max_s: 0.5,
      },
    }),
  );
  return { dir, edgeYaml, coreYaml, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
