// coturn (Debian's `turnserver`) as the reference TURN server: started with the same realm, secret, quotas,
// lifetimes and peer rules as ours, on its own ports, its state in a temporary folder (its SQLite database and pid
// file would otherwise be shared with any other coturn on the machine).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { METHOD, TurnClient } from './turn-client.js';

export interface CoturnOptions {
  address: string;
  port: number;
  relayPorts: [number, number];
  realm: string;
  secret: string;
  userQuota?: number;
  totalQuota?: number;
  staleNonceS?: number;
  maxLifetimeS?: number;
  permissionLifetimeS?: number;
  channelLifetimeS?: number;
  /** Ranges a.b.c.d-e.f.g.h refused as peers (coturn's --denied-peer-ip). */
  deniedPeers?: string[];
  /** Relay threads (coturn's -m); 0: relaying in the listener's thread. */
  threads?: number;
  /** Extra arguments (taskset/nice are the caller's). */
  wrap?: (cmd: string, args: string[]) => [string, string[]];
}

/** A port free for UDP and for TCP at once (a TURN server takes both): the OS's choice for UDP, checked for TCP. */
export async function freeTurnPort(address = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, address, resolve));
    const port = udp.address().port;
    const tcp = net.createServer();
    const free = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, address, () => resolve(true));
    });
    await new Promise<void>((resolve) => (free ? tcp.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (free) return port;
  }
  throw new Error('no port free for both UDP and TCP');
}

export function coturnMissing(): string | undefined {
  const r = spawnSync('turnserver', ['--version'], { encoding: 'utf8' });
  return r.error ? 'coturn (Debian package coturn) is not installed' : undefined;
}

export class Coturn {
  output = '';
  private constructor(
    readonly proc: ChildProcess,
    readonly dir: string,
    readonly opts: CoturnOptions,
  ) {}

  static async start(opts: CoturnOptions): Promise<Coturn> {
    const dir = mkdtempSync(join(tmpdir(), 'mra-coturn-'));
    const args = [
      '-n',
      '--no-cli',
      '--no-tls',
      '--no-dtls',
      '--no-rfc5780',
      '--log-file=stdout',
      '--simple-log',
      `--pidfile=${join(dir, 'turnserver.pid')}`,
      `--db=${join(dir, 'turndb')}`,
      `--listening-ip=${opts.address}`,
      `--listening-port=${opts.port}`,
      `--relay-ip=${opts.address}`,
      `--min-port=${opts.relayPorts[0]}`,
      `--max-port=${opts.relayPorts[1]}`,
      '--use-auth-secret',
      `--static-auth-secret=${opts.secret}`,
      `--realm=${opts.realm}`,
      '--allow-loopback-peers',
      '--no-multicast-peers',
      `--relay-threads=${opts.threads ?? 1}`,
      `--stale-nonce=${opts.staleNonceS ?? 600}`,
      `--max-allocate-lifetime=${opts.maxLifetimeS ?? 3600}`,
      `--permission-lifetime=${opts.permissionLifetimeS ?? 300}`,
      `--channel-lifetime=${opts.channelLifetimeS ?? 600}`,
      ...(opts.userQuota ? [`--user-quota=${opts.userQuota}`] : []),
      ...(opts.totalQuota ? [`--total-quota=${opts.totalQuota}`] : []),
      ...(opts.deniedPeers ?? []).map((r) => `--denied-peer-ip=${r}`),
    ];
    const [cmd, argv] = opts.wrap ? opts.wrap('turnserver', args) : ['turnserver', args];
    const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const c = new Coturn(proc, dir, opts);
    proc.stdout!.on('data', (d: Buffer) => {
      c.output = (c.output + d.toString()).slice(-200_000);
    });
    proc.stderr!.on('data', (d: Buffer) => {
      c.output = (c.output + d.toString()).slice(-200_000);
    });
    await c.#ready();
    return c;
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Ready when a Binding request on its UDP port is answered. */
  async #ready(): Promise<void> {
    const deadline = Date.now() + 10_000;
    const probe = await TurnClient.open({ address: this.opts.address, port: this.opts.port });
    try {
      while (Date.now() < deadline) {
        if (this.proc.exitCode !== null)
          throw new Error(`coturn exited (${this.proc.exitCode}):\n${this.output.slice(-2000)}`);
        if (await probe.transact(probe.build(METHOD.binding, []), 200)) return;
      }
      throw new Error(`coturn did not answer on ${this.opts.address}:${this.opts.port}:\n${this.output.slice(-2000)}`);
    } finally {
      probe.close();
    }
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      const kill = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(kill);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
