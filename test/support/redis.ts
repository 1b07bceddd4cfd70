// Debian's redis-server for the cluster tests: each test starts its own on its own port, its data in a temporary
// folder (append-only file as docs/cluster.md recommends: appendfsync everysec), so tests never share one and a
// restart finds what the server persisted. `kill()` is a kill -9; `restart()` starts it again on the same port and
// folder. A `netns` runner starts it inside a test host of the namespace topology.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function redisMissing(): string | undefined {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return r.error ? 'redis-server (Debian package redis-server) is not installed' : undefined;
}

/** A TCP port the OS says is free now. */
export async function freePort(address = '127.0.0.1'): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, address, resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export interface RedisOptions {
  address?: string;
  port?: number;
  /** Persistence: 'aof' (append-only, fsync every second), 'none' (a restart comes back empty). */
  persistence?: 'aof' | 'none';
  /** Runs the server another way (ip netns exec …). */
  wrap?: (cmd: string, args: string[]) => [string, string[]];
}

export class RedisServer {
  #proc: ChildProcess | undefined;
  output = '';

  private constructor(
    readonly address: string,
    readonly port: number,
    readonly dir: string,
    readonly opts: RedisOptions,
  ) {}

  static async start(opts: RedisOptions = {}): Promise<RedisServer> {
    const address = opts.address ?? '127.0.0.1';
    const port = opts.port ?? (await freePort(address));
    const server = new RedisServer(address, port, mkdtempSync(join(tmpdir(), 'mra-redis-')), opts);
    await server.#spawn();
    return server;
  }

  get url(): string {
    return `redis://${this.address}:${this.port}/0`;
  }

  get running(): boolean {
    return this.#proc !== undefined && this.#proc.exitCode === null && this.#proc.signalCode === null;
  }

  async #spawn(): Promise<void> {
    const persistence = this.opts.persistence ?? 'aof';
    const args = [
      '--port',
      String(this.port),
      '--bind',
      this.address,
      '--dir',
      this.dir,
      '--save',
      '',
      '--daemonize',
      'no',
      '--protected-mode',
      'no',
      '--loglevel',
      this.opts.wrap ? 'notice' : 'warning',
      ...(persistence === 'aof' ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no']),
    ];
    const [cmd, argv] = this.opts.wrap ? this.opts.wrap('redis-server', args) : ['redis-server', args];
    const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#proc = proc;
    proc.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      if (!this.running) throw new Error(`redis-server exited: ${this.output.trim()}`);
      // In another namespace the test cannot connect to it: its own word says it is up.
      if (this.opts.wrap ? /Ready to accept connections/.test(this.output) : await this.ping()) return;
      await new Promise((r) => setTimeout(r, 30));
    }
    throw new Error(`redis-server on ${this.address}:${this.port} did not answer within 10 s: ${this.output.trim()}`);
  }

  /** One PING over a fresh connection: true on +PONG (outside a namespace the caller must reach the address). */
  async ping(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = net.connect(this.port, this.address);
      const done = (ok: boolean) => {
        s.destroy();
        resolve(ok);
      };
      s.setTimeout(1000, () => done(false));
      s.once('error', () => done(false));
      s.once('connect', () => s.write('PING\r\n'));
      s.once('data', (d) => done(d.toString().startsWith('+PONG')));
    });
  }

  /** kill -9: no shutdown save, what the append-only file did not fsync is gone. */
  async kill(): Promise<void> {
    const proc = this.#proc;
    if (!proc || !this.running) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGKILL');
    await exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.#spawn();
  }

  /** Pauses the server (SIGSTOP): connections stay open and nothing answers, as in a partition. */
  pause(): void {
    this.#proc?.kill('SIGSTOP');
  }

  resume(): void {
    this.#proc?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    this.resume();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
