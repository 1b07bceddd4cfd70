// The edge and core as an operator runs them: one `mra-edge edge|core -c file.yaml` process each, so the bench
// can read each one's RSS and CPU from /proc and restart either on its own with the same ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CertificateAuthority } from '../../src/certs/index.js';
import { hashPassword } from '../../src/traversal/index.js';
import { freePort } from '../../test/support/node-files.js';
import { cpuSeconds } from '../media/cpu.js';
import { root } from '../media/tools.js';

const CLI = join(root, 'dist/src/cli/main.js');

/** One node process; `restart()` stops it (SIGTERM, as a service manager does) and starts it again. */
export class NodeProcess {
  #proc: ChildProcess | null = null;
  #log = '';

  constructor(
    readonly role: 'edge' | 'core',
    readonly yaml: string,
    readonly adminPort: number,
  ) {}

  get pid(): number {
    if (!this.#proc?.pid) throw new Error(`${this.role} is not running`);
    return this.#proc.pid;
  }

  /** The tail of what the node logged (warnings and errors only), for failure messages. */
  log(): string {
    return this.#log;
  }

  async start(): Promise<void> {
    // BENCH_SIP_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles both nodes (NODE_OPTIONS refuses --cpu-prof).
    const extra = process.env.BENCH_SIP_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    const proc = spawn(process.execPath, [...extra, CLI, this.role, '-c', this.yaml], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#proc = proc;
    // BENCH_NODE_OUT=<dir> also keeps each node's whole output (e.g. with --trace-gc) in <dir>/<role>.out.
    const out = process.env.BENCH_NODE_OUT ? join(process.env.BENCH_NODE_OUT, `${this.role}.out`) : undefined;
    const keep = (d: Buffer) => {
      this.#log = (this.#log + d.toString()).slice(-8000);
      if (out) appendFileSync(out, d);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const end = Date.now() + 20_000;
    while (!(await this.healthy())) {
      if (proc.exitCode !== null) throw new Error(`${this.role} exited with ${proc.exitCode}:\n${this.#log}`);
      if (Date.now() > end) throw new Error(`${this.role} did not answer /healthz within 20 s:\n${this.#log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    const proc = this.#proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** kill -9: the node dies as a crashed host's would, nothing said to its peers. */
  async kill(): Promise<void> {
    const proc = this.#proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGKILL');
    await exited;
  }

  async healthy(): Promise<boolean> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.adminPort}/healthz`, { signal: AbortSignal.timeout(2000) });
      return res.ok;
    } catch {
      return false;
    }
  }

  async status(): Promise<Record<string, unknown>> {
    const res = await fetch(`http://127.0.0.1:${this.adminPort}/api/status`, { signal: AbortSignal.timeout(10_000) });
    return (await res.json()) as Record<string, unknown>;
  }

  /** The node's own event-loop delay since the last scrape (prom-client resets its histogram per scrape). */
  async loopDelayMs(): Promise<{ max: number; p99: number } | null> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.adminPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      const read = (name: string) =>
        Number(new RegExp(`^mra_process_${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000;
      return { max: read('nodejs_eventloop_lag_max_seconds'), p99: read('nodejs_eventloop_lag_p99_seconds') };
    } catch {
      return null;
    }
  }

  rssBytes(): number {
    return rssOf(this.pid);
  }

  cpuSeconds(): number {
    return cpuSeconds(this.pid);
  }
}

export function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`cannot read the RSS of pid ${pid}`);
  return Number(m[1]) * 1024;
}

/**
 * The kernel's count of connections dropped because a listener's accept queue was full (TcpExt
 * ListenOverflows, for the whole network namespace): each one costs the client a SYN retransmission (1 s, 3 s, 7 s...).
 */
export function listenOverflows(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('TcpExt:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  return Number(values[names.indexOf('ListenOverflows')] ?? NaN);
}

/** CPU seconds of a process and its children (Kamailio forks one process per worker). */
export function treeCpuSeconds(pid: number): number {
  let total = cpuSeconds(pid);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) total += cpuSeconds(Number(entry));
    } catch {
      // the process ended between the listing and the read
    }
  }
  return total;
}

export interface BenchPair {
  edge: NodeProcess;
  core: NodeProcess;
  ca: string;
  sipTlsPort: number;
  close(): Promise<void>;
}

export interface BenchCluster {
  edges: NodeProcess[];
  cores: NodeProcess[];
  ca: string;
  /** Each edge's public SIP TLS port on 127.0.0.1, in the order of `edges`. */
  sipTlsPorts: number[];
  close(): Promise<void>;
}

export interface BenchClusterOptions {
  domain: string;
  registrar: { address: string; port: number };
  capacity: number;
  edges: number;
  cores: number;
  /** The edges' and the cores' store (docs/cluster.md: two stores, one each side of the firewall); memory without. */
  stores?: { edge: string; core: string };
  /** cluster.name on the stores (two clusters sharing the Redis servers keep apart); `bench` when not given. */
  clusterName?: string;
  /** Each node's media port range (nodes that carry calls on one machine must not share one); the default without. */
  media?: (role: 'edge' | 'core', index: number) => { port_min: number; port_max: number };
}

/**
 * Writes certificates and each node's YAML file (fixed free ports, so a restart comes back where it was) and starts
 * the edges, then the cores; every core links to every edge (a full mesh). All on 127.0.0.1, each edge on ports of its own.
 */
export async function startBenchCluster(opts: BenchClusterOptions): Promise<BenchCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'mra-bench-sip-'));
  const ca = await CertificateAuthority.create({ commonName: 'bench:sip CA' });
  const edgeCert = await ca.issue({
    commonName: 'edge.example.com',
    dnsNames: ['edge.example.com'],
    ipAddresses: ['127.0.0.1'],
  });
  const coreCert = await ca.issue({ commonName: 'core.example.com', dnsNames: ['core.example.com'] });
  const files: Record<string, string> = {
    'ca.pem': ca.cert,
    'edge.pem': edgeCert.cert,
    'edge.key': edgeCert.key,
    'core.pem': coreCert.cert,
    'core.key': coreCert.key,
  };
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body, { mode: 0o600 });
  const ports = () => Promise.all(Array.from({ length: 7 }, () => freePort()));
  const edgePorts = await Promise.all(Array.from({ length: opts.edges }, ports));
  const common = { log: { level: 'warn' }, capacity: { registrations: opts.capacity } };
  const shared = (role: 'edge' | 'core') =>
    opts.stores ? { store: opts.stores[role], cluster: { name: opts.clusterName ?? 'bench' } } : {};
  const media = (role: 'edge' | 'core', i: number) => (opts.media ? { media: opts.media(role, i) } : {});
  const account = { username: 'traversal', password_hash: await hashPassword('bench-secret') };
  const edges = edgePorts.map(([sipTls, https, xmpp, tSip, tHttp, tXmpp, admin], i) => {
    const yaml = join(dir, `edge${i + 1}.yaml`);
    writeFileSync(
      yaml,
      stringify({
        role: 'edge',
        name: `edge${i + 1}`,
        ...common,
        ...shared('edge'),
        ...media('edge', i),
        admin: { address: '127.0.0.1', port: admin },
        tls: { cert_file: 'edge.pem', key_file: 'edge.key', ca_file: 'ca.pem' },
        public: { address: '127.0.0.1', sip_tls_port: sipTls, https_port: https, xmpp_port: xmpp },
        sip: { max_connections: opts.capacity + 1000 },
        traversal: {
          address: '127.0.0.1',
          sip_port: tSip,
          http_tunnel_port: tHttp,
          xmpp_port: tXmpp,
          tls_verify_subject_name: 'core.example.com',
          accounts: [account],
        },
      }),
    );
    return new NodeProcess('edge', yaml, admin!);
  });
  const cores = await Promise.all(
    Array.from({ length: opts.cores }, async (_, i) => {
      const admin = await freePort();
      const yaml = join(dir, `core${i + 1}.yaml`);
      writeFileSync(
        yaml,
        stringify({
          role: 'core',
          name: `core${i + 1}`,
          ...common,
          ...shared('core'),
          ...media('core', i),
          admin: { address: '127.0.0.1', port: admin },
          tls: { cert_file: 'core.pem', key_file: 'core.key', ca_file: 'ca.pem' },
          domains: [{ name: opts.domain, sip_registrations: true }],
          unified_cm: [
            {
              publisher: opts.registrar.address,
              nodes: [{ address: opts.registrar.address, sip_port: opts.registrar.port }],
            },
          ],
          traversal: {
            peers: edgePorts.map(([, , , tSip, tHttp, tXmpp]) => ({
              address: '127.0.0.1',
              sip_port: tSip,
              http_tunnel_port: tHttp,
              xmpp_port: tXmpp,
            })),
            username: 'traversal',
            password: 'bench-secret',
            reconnect_initial_s: 0.1,
            reconnect_max_s: 0.5,
          },
        }),
      );
      return new NodeProcess('core', yaml, admin);
    }),
  );
  const close = async () => {
    for (const n of [...cores, ...edges]) await n.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const n of [...edges, ...cores]) await n.start();
  } catch (err) {
    await close();
    throw err;
  }
  return { edges, cores, ca: ca.cert, sipTlsPorts: edgePorts.map((p) => p[0]!), close };
}

/** One edge and one core in memory (bench:sip's pair). */
export async function startBenchPair(opts: {
  domain: string;
  registrar: { address: string; port: number };
  capacity: number;
}): Promise<BenchPair> {
  const c = await startBenchCluster({ ...opts, edges: 1, cores: 1 });
  return { edge: c.edges[0]!, core: c.cores[0]!, ca: c.ca, sipTlsPort: c.sipTlsPorts[0]!, close: c.close };
}
