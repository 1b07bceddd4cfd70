// Our pair as an operator runs it: one `mra-edge edge` and one `mra-edge core` process from this checkout's build,
// each in its own cgroup, with configuration files written here (a Large node: 6 mux pairs; capacity limits above
// the run's largest step, so that the search finds the machine's limit, not the configured one).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CertificateAuthority } from '../certs/index.js';
import { hashPassword } from '../traversal/index.js';
import { repoRoot } from './callgen.js';
import { JailedProcess, waitReady } from './jailed-process.js';
import { freePort, type PairOptions, type PairUnderTest } from './pair.js';

const EDGE_NAME = 'edge.example.com';

async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

async function sipLinkUp(adminPort: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${adminPort}/api/status`, { signal: AbortSignal.timeout(2000) });
    const s = (await res.json()) as { traversal?: unknown; sip?: { domains?: unknown } };
    return (
      JSON.stringify(s.traversal ?? {}).includes('"sip":"up"') &&
      s.sip?.domains !== null &&
      s.sip?.domains !== undefined
    );
  } catch {
    return false;
  }
}

export async function startOurs(o: PairOptions): Promise<PairUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'mra-capacity-ours-'));
  const ca = await CertificateAuthority.create({ commonName: 'mra-edge capacity CA' });
  const edgeCert = await ca.issue({ commonName: EDGE_NAME, dnsNames: [EDGE_NAME], ipAddresses: ['127.0.0.1'] });
  const coreCert = await ca.issue({ commonName: 'core.example.com', dnsNames: ['core.example.com'] });
  const files: Record<string, string> = {
    'ca.pem': ca.cert,
    'edge.pem': edgeCert.cert,
    'edge.key': edgeCert.key,
    'core.pem': coreCert.cert,
    'core.key': coreCert.key,
  };
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body, { mode: 0o600 });
  const [sipTls, https, xmpp, tSip, tHttp, tXmpp, edgeAdmin, coreAdmin] = await Promise.all(
    Array.from({ length: 8 }, () => freePort()),
  );
  const limits = { registrations: o.maxCalls + 100, calls: 2 * o.maxCalls + 100 };
  const common = { size: 'large', log: { level: o.logLevel ?? 'warn' }, capacity: limits };
  const [edgeMedia, coreMedia] = o.mediaPorts;
  writeFileSync(
    join(dir, 'edge.yaml'),
    stringify({
      role: 'edge',
      name: 'edge1',
      ...common,
      admin: { address: '127.0.0.1', port: edgeAdmin },
      tls: { cert_file: 'edge.pem', key_file: 'edge.key', ca_file: 'ca.pem' },
      public: { address: '127.0.0.1', sip_tls_port: sipTls, https_port: https, xmpp_port: xmpp },
      media: { address: '127.0.0.1', port_min: edgeMedia![0], port_max: edgeMedia![1] },
      sip: { max_connections: o.maxCalls + 1000 },
      traversal: {
        address: '127.0.0.1',
        sip_port: tSip,
        http_tunnel_port: tHttp,
        xmpp_port: tXmpp,
        tls_verify_subject_name: 'core.example.com',
        accounts: [{ username: 'traversal', password_hash: await hashPassword('capacity-secret') }],
      },
    }),
  );
  writeFileSync(
    join(dir, 'core.yaml'),
    stringify({
      role: 'core',
      name: 'core1',
      ...common,
      admin: { address: '127.0.0.1', port: coreAdmin },
      tls: { cert_file: 'core.pem', key_file: 'core.key', ca_file: 'ca.pem' },
      source_address: '127.0.0.1',
      media: { address: '127.0.0.1', port_min: coreMedia![0], port_max: coreMedia![1] },
      domains: [{ name: o.domain, sip_registrations: true }],
      unified_cm: [
        { publisher: o.callControl.address, nodes: [{ address: o.callControl.address, sip_port: o.callControl.port }] },
      ],
      traversal: {
        peers: [{ address: '127.0.0.1', sip_port: tSip, http_tunnel_port: tHttp, xmpp_port: tXmpp }],
        username: 'traversal',
        password: 'capacity-secret',
        reconnect_initial_s: 0.1,
        reconnect_max_s: 0.5,
      },
    }),
  );
  const cli = join(repoRoot, 'dist/src/cli/main.js');
  const nodes: JailedProcess[] = [];
  const close = async () => {
    for (const n of nodes.reverse()) await n.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const [i, role] of (['edge', 'core'] as const).entries()) {
      const node = JailedProcess.start({
        name: role,
        jailName: `mra-capacity-${o.tag}-${role}`,
        share: o.shares[i]!,
        cpus: o.cpus[i]!,
        cmd: process.execPath,
        args: [cli, role, '-c', join(dir, `${role}.yaml`)],
      });
      nodes.push(node);
      // A node at a quarter of a core takes a few seconds to load; the quota is what it is from the first instruction.
      await waitReady(node, () => healthy(role === 'edge' ? edgeAdmin! : coreAdmin!), 60_000);
    }
    await waitReady(nodes[0]!, () => sipLinkUp(edgeAdmin!), 60_000);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    kind: 'ours',
    label: 'ours (edge + core)',
    face: { host: '127.0.0.1', port: sipTls!, ca: ca.cert, servername: EDGE_NAME },
    nodes: [...nodes],
    close,
  };
}
