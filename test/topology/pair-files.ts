// What a plane's namespace test writes before it starts the nodes: a CA, the edge's and core's certificates
// (and any inside server's), free ports for the edge, and the two YAML files as an operator would write them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CertificateAuthority } from '../../src/certs/index.js';
import { hashPassword } from '../../src/traversal/index.js';
import { freePort } from '../support/node-files.js';
import { mediaRange } from '../support/media-range.js';
import type { Network } from './index.js';

export interface PairFiles {
  dir: string;
  ca: CertificateAuthority;
  /** The edge's ports, chosen free: its public face (SIP TLS, HTTPS, XMPP) and the three traversal channels. */
  ports: {
    sipTls: number;
    https: number;
    xmpp: number;
    traversalSip: number;
    httpTunnel: number;
    xmppTraversal: number;
  };
  /** Issues `<name>.pem` / `<name>.key` for an inside server. */
  issue(name: string, commonName: string, ipAddresses: string[]): Promise<void>;
  /** Writes edge.yaml (public ports not listed in `open` are 0) and core.yaml (`inside`: domains and clusters). */
  writeConfigs(
    open: ReadonlyArray<'sipTls' | 'https' | 'xmpp'>,
    inside: Record<string, unknown>,
  ): Promise<{ edge: string; core: string }>;
  remove(): void;
}

export async function pairFiles(net: Network, label: string): Promise<PairFiles> {
  const dir = mkdtempSync(join(tmpdir(), `mra-${label}-`));
  const ca = await CertificateAuthority.create({ commonName: `mra-edge ${label} CA` });
  const issue = async (name: string, cn: string, ips: string[]) => {
    const c = await ca.issue({ commonName: cn, dnsNames: [cn], ipAddresses: [...new Set(ips)] });
    writeFileSync(join(dir, `${name}.pem`), c.cert);
    writeFileSync(join(dir, `${name}.key`), c.key, { mode: 0o600 });
  };
  writeFileSync(join(dir, 'ca.pem'), ca.cert);
  await issue('edge', 'edge.example.com', [net.dmzPublicAddress, net.dmzTraversalAddress]);
  await issue('core', 'core.example.com', []);
  const ports = {
    sipTls: await freePort(),
    https: await freePort(),
    xmpp: await freePort(),
    traversalSip: await freePort(),
    httpTunnel: await freePort(),
    xmppTraversal: await freePort(),
  };
  const tls = (n: string) => ({
    cert_file: join(dir, `${n}.pem`),
    key_file: join(dir, `${n}.key`),
    ca_file: join(dir, 'ca.pem'),
  });
  return {
    dir,
    ca,
    ports,
    issue,
    async writeConfigs(open, inside) {
      const pub = (k: 'sipTls' | 'https' | 'xmpp') => (open.includes(k) ? ports[k] : 0);
      const files = { edge: join(dir, 'edge.yaml'), core: join(dir, 'core.yaml') };
      const traversal = {
        sip_port: ports.traversalSip,
        http_tunnel_port: ports.httpTunnel,
        xmpp_port: ports.xmppTraversal,
      };
      writeFileSync(
        files.edge,
        stringify({
          role: 'edge',
          name: 'edge1',
          admin: { address: '127.0.0.1', port: 0 },
          tls: tls('edge'),
          media: mediaRange(),
          public: {
            address: net.dmzPublicAddress,
            sip_tls_port: pub('sipTls'),
            https_port: pub('https'),
            xmpp_port: pub('xmpp'),
          },
          traversal: {
            address: net.dmzTraversalAddress,
            ...traversal,
            tls_verify_subject_name: 'core.example.com',
            accounts: [{ username: 'traversal', password_hash: await hashPassword('secret') }],
          },
        }),
      );
      writeFileSync(
        files.core,
        stringify({
          role: 'core',
          name: 'core1',
          // Loopback inside the namespace: the admin API is not under test here and needs no token there.
          admin: { address: '127.0.0.1', port: 0 },
          tls: tls('core'),
          media: mediaRange(),
          ...inside,
          traversal: {
            peers: [{ address: net.dmzTraversalAddress, ...traversal }],
            username: 'traversal',
            password: 'secret',
            reconnect_initial_s: 0.1,
            reconnect_max_s: 0.5,
          },
        }),
      );
      return files;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
