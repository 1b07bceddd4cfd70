// The cluster tests' site in the three-namespace topology (docs/testing.md): two edges in the DMZ (their Redis there),
// two cores inside (theirs there), and the lab's call control inside as Unified CM (test/cluster/tools/inside.ts),
// every node a process of its own whose JSON log lines the test reads. Each core may be given a media address of its
// own (a VIP, as keepalived would hold it) and configuration beyond the common one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import { createTopology, type Topology } from '../topology/index.js';
import { CertificateAuthority } from '../../src/certs/index.js';
import { hashPassword } from '../../src/traversal/index.js';
import { CLI } from '../support/node-files.js';
import { mediaRange } from '../support/media-range.js';
import { RedisServer, redisMissing } from '../support/redis.js';
import { jsonLines, type LineReader } from '../sip-proxy/lines.js';

export const TOOLS = join(CLI, '../../../test/cluster/tools');
export const EDGES = [
  { name: 'edge1', public: '198.18.1.2', traversal: '198.18.2.1' },
  { name: 'edge2', public: '198.18.1.3', traversal: '198.18.2.3' },
];
export const CORES = [
  { name: 'core1', address: '198.18.2.2' },
  { name: 'core2', address: '198.18.2.4' },
];
export const PORTS = { sip: 5061, traversalSip: 7001, httpTunnel: 2222, xmppTraversal: 7400, callControl: 5060 };
/** Each node's admin API, on 127.0.0.1 of its own namespace (the two edges share one, as do the cores). */
const ADMIN: Record<string, number> = { edge1: 9411, edge2: 9412, core1: 9421, core2: 9422 };

export interface Process {
  proc: ChildProcess;
  lines: LineReader;
}

export interface SiteOptions {
  /** Users u0…u<n-1> of the inside's call control (password "pw"). */
  users: number;
  /** Per core: a media address of its own (added to the inside), and configuration merged into its own. */
  cores?: Array<{ mediaAddress?: string; config?: Record<string, unknown> }>;
}

export interface Site {
  topo: Topology;
  dir: string;
  nodes: Map<string, Process>;
  inside: Process;
  /** The inside's Redis (the cores'). */
  coresRedis: RedisServer;
  /** A node's status document (its admin API's /api/status), asked from inside its namespace. */
  status(node: string): Promise<Record<string, unknown>>;
  /** A process in `host` whose stdout is JSON lines; a non-zero exit is printed with its last stderr. */
  start(host: Topology['dmz'], label: string, args: string[]): Process;
  stop(): Promise<void>;
}

/** The site, or why it cannot run here (no namespaces, no redis-server). */
export async function startSite(prefix: string, opts: SiteOptions): Promise<Site | { skip: string }> {
  const missing = redisMissing();
  const made = missing ? { skip: missing } : await createTopology(prefix);
  if ('skip' in made) return made;
  const topo = made;
  const redis: RedisServer[] = [];
  const dir = mkdtempSync(join(tmpdir(), `mra-${prefix}-`));
  const nodes = new Map<string, Process>();
  const processes: Process[] = [];
  const start = (host: Topology['dmz'], label: string, args: string[]): Process => {
    const proc = topo.spawnNode(host, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    proc.once('exit', (code, signal) => {
      if (code && code !== 0) console.log(`# ${label} exited ${code ?? signal}: ${err.trim()}`);
    });
    const p = { proc, lines: jsonLines(proc) };
    processes.push(p);
    return p;
  };
  const stop = async () => {
    for (const p of processes) p.proc.stdin?.end();
    await topo.destroy();
    for (const r of redis) await r.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // The second edge's two faces and the second core's address, beside the topology's own; the cores' media VIPs.
    await topo.run(topo.dmz, 'ip', ['addr', 'add', `${EDGES[1]!.public}/24`, 'dev', 'to-internet']);
    await topo.run(topo.dmz, 'ip', ['addr', 'add', `${EDGES[1]!.traversal}/24`, 'dev', 'to-inside']);
    await topo.run(topo.inside, 'ip', ['addr', 'add', `${CORES[1]!.address}/24`, 'dev', 'to-dmz']);
    for (const c of opts.cores ?? [])
      if (c.mediaAddress) await topo.run(topo.inside, 'ip', ['addr', 'add', `${c.mediaAddress}/24`, 'dev', 'to-dmz']);
    const wrap =
      (ns: string) =>
      (cmd: string, args: string[]): [string, string[]] => ['ip', ['netns', 'exec', ns, cmd, ...args]];
    const dmzRedis = await RedisServer.start({ port: 6379, wrap: wrap(topo.dmz.ns!) });
    redis.push(dmzRedis);
    const insideRedis = await RedisServer.start({ port: 6379, wrap: wrap(topo.inside.ns!) });
    redis.push(insideRedis);

    const ca = await CertificateAuthority.create({ commonName: 'mra-edge cluster test CA' });
    const issue = async (name: string, cn: string, ips: string[]) => {
      const c = await ca.issue({ commonName: cn, dnsNames: [cn], ipAddresses: ips });
      writeFileSync(join(dir, `${name}.pem`), c.cert);
      writeFileSync(join(dir, `${name}.key`), c.key, { mode: 0o600 });
    };
    writeFileSync(join(dir, 'ca.pem'), ca.cert);
    await issue(
      'edge',
      'edge.example.com',
      EDGES.flatMap((e) => [e.public, e.traversal]),
    );
    await issue('core', 'core.example.com', []);
    const tls = (n: string) => ({
      cert_file: join(dir, `${n}.pem`),
      key_file: join(dir, `${n}.key`),
      ca_file: join(dir, 'ca.pem'),
    });
    const traversal = {
      sip_port: PORTS.traversalSip,
      http_tunnel_port: PORTS.httpTunnel,
      xmpp_port: PORTS.xmppTraversal,
    };
    const account = { username: 'traversal', password_hash: await hashPassword('secret') };

    const inside = start(topo.inside, 'inside', [
      join(TOOLS, 'inside.js'),
      CORES[0]!.address,
      String(PORTS.callControl),
      String(opts.users),
    ]);
    await inside.lines.next('call control listening', (o) => o.event === 'listening');
    // In production each edge is a host of its own, whose media leaves from its own addresses. Here both edges share
    // the DMZ namespace and bind their media to every interface, so edge2's would leave from edge1's (each link's
    // first) address, and the cores and the inside's firewall would not know it: a routing rule on edge2's media ports
    // gives its packets its own source addresses, as its own host's routes would. The kernel path would forward past
    // the rule, so edge2 relays in user space.
    const edgeMedia = EDGES.map((_, i) => ({ ...mediaRange(), ...(i === 1 ? { kernel_path: 'off' } : {}) }));
    const routes = [
      [
        'rule',
        'add',
        'ipproto',
        'udp',
        'sport',
        `${edgeMedia[1]!.port_min}-${edgeMedia[1]!.port_max}`,
        'lookup',
        '102',
      ],
      ['route', 'add', '198.18.2.0/24', 'dev', 'to-inside', 'src', EDGES[1]!.traversal, 'table', '102'],
      ['route', 'add', '198.18.1.0/24', 'dev', 'to-internet', 'src', EDGES[1]!.public, 'table', '102'],
    ];
    for (const r of routes) {
      const done = await topo.run(topo.dmz, 'ip', r);
      if (done.code !== 0) throw new Error(`ip ${r.join(' ')} in the DMZ: ${done.stderr}`);
    }
    for (const [i, e] of EDGES.entries()) {
      const file = join(dir, `${e.name}.yaml`);
      writeFileSync(
        file,
        stringify({
          role: 'edge',
          name: e.name,
          admin: { address: '127.0.0.1', port: ADMIN[e.name] },
          tls: tls('edge'),
          media: edgeMedia[i],
          store: `redis://127.0.0.1:${dmzRedis.port}/0`,
          cluster: { name: 'site' },
          public: { address: e.public, sip_tls_port: PORTS.sip, https_port: 0, xmpp_port: 0 },
          traversal: {
            address: e.traversal,
            ...traversal,
            tls_verify_subject_name: 'core.example.com',
            accounts: [account],
          },
        }),
      );
      nodes.set(e.name, start(topo.dmz, e.name, [CLI, 'edge', '-c', file]));
    }
    for (const [i, c] of CORES.entries()) {
      const own = opts.cores?.[i];
      const file = join(dir, `${c.name}.yaml`);
      const config: Record<string, unknown> = {
        role: 'core',
        name: c.name,
        admin: { address: '127.0.0.1', port: ADMIN[c.name] },
        tls: tls('core'),
        media: { ...mediaRange(), ...(own?.mediaAddress ? { address: own.mediaAddress } : {}) },
        source_address: c.address,
        store: `redis://127.0.0.1:${insideRedis.port}/0`,
        cluster: { name: 'site' },
        domains: [{ name: 'example.com', sip_registrations: true }],
        unified_cm: [
          { publisher: CORES[0]!.address, nodes: [{ address: CORES[0]!.address, sip_port: PORTS.callControl }] },
        ],
        traversal: {
          peers: EDGES.map((e) => ({ address: e.traversal, ...traversal })),
          username: 'traversal',
          password: 'secret',
          reconnect_initial_s: 0.1,
          reconnect_max_s: 0.5,
        },
      };
      for (const [k, v] of Object.entries(own?.config ?? {}))
        config[k] = typeof v === 'object' && v !== null ? { ...(config[k] as object), ...v } : v;
      writeFileSync(file, stringify(config));
      nodes.set(c.name, start(topo.inside, c.name, [CLI, 'core', '-c', file]));
    }
    // Every edge hears the domain table from every core: the full mesh is up.
    try {
      for (const e of EDGES)
        for (const c of CORES)
          await nodes
            .get(e.name)!
            .lines.next(
              `${e.name} to hear from ${c.name}`,
              (o) => o.msg === 'domain table received from core' && o.core === c.name,
              30_000,
            );
    } catch (err) {
      // What each node said last: why the mesh did not come up.
      for (const [name, p] of nodes)
        console.log(
          `# ${name}: ${p.lines
            .all()
            .slice(-4)
            .map((o) => JSON.stringify(o))
            .join(' | ')}`,
        );
      throw err;
    }
    const status = async (node: string) => {
      const host = node.startsWith('edge') ? topo.dmz : topo.inside;
      const r = await topo.run(host, process.execPath, [
        '-e',
        `fetch('http://127.0.0.1:${ADMIN[node]}/api/status').then((r) => r.text()).then((t) => process.stdout.write(t))`,
      ]);
      return JSON.parse(r.stdout) as Record<string, unknown>;
    };
    return { topo, dir, nodes, inside, coresRedis: insideRedis, status, start, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
