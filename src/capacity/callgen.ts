// The TypeScript side of callgen.c: builds it on first use (Debian's cc, libsrtp from the engine's OpenSSL build in
// .deps/libsrtp or Debian's libsrtp2-dev) and drives it line by line. Replies come back in order, one per command.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CapacityError } from './errors.js';

/** The checkout this runs from (dist/src/capacity or src/capacity): the C source and .deps live there. */
export const repoRoot = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new CapacityError('cannot find the checkout (package.json) this command runs from');
    dir = up;
  }
  return dir;
})();

/** One direction of one stream: what was sent, what arrived (authenticated), RFC 3550 jitter, latency. */
export interface FlowFigures {
  sent: number;
  received: number;
  authFail: number;
  jitterUs: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

/** A call's figures when it is deleted: per stream, up (client → inside) and down (inside → client). */
export interface CallMediaFigures {
  streams: Array<{ up: FlowFigures; down: FlowFigures }>;
}

export interface WindowDirection {
  sent: number;
  received: number;
  authFail: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  jitterMeanUs: number;
  jitterMaxUs: number;
}

/** Packets stamped between `window start` and `window end`, counted after a drain. */
export interface WindowFigures {
  us: number;
  calls: number;
  foreign: number;
  up: WindowDirection;
  down: WindowDirection;
}

/** One stream of a call as the generator needs it (keys are key||salt, 30 bytes). */
export interface StreamPlan {
  /** The pair's client-facing port (from the answer the client got). */
  clientPort: number;
  /** The client's own key (offered in its a=crypto): it protects what it sends with it. */
  clientTxKey: Buffer;
  /** The key in the answer: the pair protects what it sends the client with it. */
  clientRxKey: Buffer;
  /** The pair's inside-facing port (from the offer the inside phone got). */
  insidePort: number;
  /** RTP packet size before SRTP (172 for G.711 at 20 ms; 1,200 for video). */
  bytes: number;
  intervalUs: number;
}

export const AUDIO = { bytes: 172, intervalUs: 20_000 } as const;
/** 1,200-byte packets at 1.5 Mbit/s: 156 packets a second, one every 6.4 ms. */
export const VIDEO = { bytes: 1200, intervalUs: Math.round((1200 * 8 * 1e6) / 1_500_000) } as const;

function srtpFlags(): { cflags: string[]; libs: string[] } {
  const prefix = join(repoRoot, '.deps/libsrtp');
  if (existsSync(join(prefix, 'lib/libsrtp2.a')))
    return { cflags: [`-I${join(prefix, 'include')}`], libs: [join(prefix, 'lib/libsrtp2.a'), '-lcrypto'] };
  const pc = spawnSync('pkg-config', ['--cflags', '--libs', 'libsrtp2'], { encoding: 'utf8' });
  if (pc.status !== 0)
    throw new CapacityError(
      'the call generator needs libsrtp: run `node scripts/setup.mjs` (it builds .deps/libsrtp) or install libsrtp2-dev',
    );
  return { cflags: [], libs: pc.stdout.trim().split(/\s+/) };
}

/** Compiles callgen.c into build/capacity/ unless the binary is newer than the source and its header. */
export function buildCallgen(): string {
  const src = join(repoRoot, 'src/capacity/callgen.c');
  const bin = join(repoRoot, 'build/capacity/callgen');
  const sources = [src, join(repoRoot, 'src/capacity/generator.h')].map((f) => statSync(f).mtimeMs);
  if (existsSync(bin) && statSync(bin).mtimeMs > Math.max(...sources)) return bin;
  mkdirSync(dirname(bin), { recursive: true });
  const { cflags, libs } = srtpFlags();
  try {
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', ...cflags, '-o', bin, src, ...libs, '-lm'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (err) {
    throw new CapacityError(
      `cannot build the call generator (cc ${src}): ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).slice(0, 2000)}`,
    );
  }
  return bin;
}

type Waiter = { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void };

/** The generator process: both media ends of every call. */
export class CallGenerator {
  readonly #child: ChildProcess;
  readonly #waiting: Waiter[] = [];
  #rest = '';
  #stderr = '';
  #dead: Error | null = null;
  /** The generator's sockets: stream 0 and 1 on the client's side and on the inside. */
  ports = { client: [0, 0], inside: [0, 0] };

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.stdout!.on('data', (d: Buffer) => this.#onData(d));
    child.stderr!.on('data', (d: Buffer) => (this.#stderr = (this.#stderr + d.toString()).slice(-2000)));
    child.once('exit', (code, signal) => {
      this.#dead = new Error(`call generator exited (${code ?? signal}) ${this.#stderr}`);
      for (const w of this.#waiting.splice(0)) w.reject(this.#dead);
    });
  }

  /**
   * Starts the generator, bound to `bind` (client side, inside side). `wrap` puts it under a command prefix
   * (taskset, nice) so it runs where the plan wants it.
   */
  static async start(
    opts: { bind?: [string, string]; dest?: [string, string]; wrap?: string[] } = {},
  ): Promise<CallGenerator> {
    const bin = buildCallgen();
    const args = [bin, ...(opts.bind ?? ['127.0.0.1', '127.0.0.1'])];
    const [cmd, ...rest] = [...(opts.wrap ?? []), ...args];
    const gen = new CallGenerator(spawn(cmd!, rest, { stdio: ['pipe', 'pipe', 'pipe'] }));
    const hello = await gen.#next();
    if (!Array.isArray(hello.client) || !Array.isArray(hello.inside))
      throw new CapacityError(`call generator: ${String(hello.error ?? JSON.stringify(hello))}`);
    gen.ports = { client: hello.client as number[], inside: hello.inside as number[] };
    if (opts.dest) await gen.#ask(`dest ${opts.dest[0]} ${opts.dest[1]}`);
    return gen;
  }

  get pid(): number {
    return this.#child.pid!;
  }

  #onData(d: Buffer): void {
    this.#rest += d.toString();
    let nl: number;
    while ((nl = this.#rest.indexOf('\n')) >= 0) {
      const line = this.#rest.slice(0, nl);
      this.#rest = this.#rest.slice(nl + 1);
      const w = this.#waiting.shift();
      if (!w) continue;
      try {
        w.resolve(JSON.parse(line) as Record<string, unknown>);
      } catch {
        w.reject(new Error(`call generator said: ${line}`));
      }
    }
  }

  #next(): Promise<Record<string, unknown>> {
    if (this.#dead) return Promise.reject(this.#dead);
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  async #ask(line: string): Promise<Record<string, unknown>> {
    const reply = this.#next();
    this.#child.stdin!.write(`${line}\n`);
    const r = await reply;
    if (typeof r.error === 'string')
      throw new CapacityError(`call generator '${line.split(' ').slice(0, 2).join(' ')}': ${r.error}`);
    return r;
  }

  /** Starts a call's media both ways. */
  async add(id: string, streams: StreamPlan[]): Promise<void> {
    const parts = streams.map(
      (s) =>
        `${s.clientPort} ${s.clientTxKey.toString('hex')} ${s.clientRxKey.toString('hex')} ${s.insidePort} ${s.bytes} ${s.intervalUs}`,
    );
    await this.#ask(`add ${id} ${streams.length} ${parts.join(' ')}`);
  }

  /** Stops sending; what is still on its way is counted until `del`. */
  async stop(id: string): Promise<void> {
    await this.#ask(`stop ${id}`);
  }

  async del(id: string): Promise<CallMediaFigures> {
    const r = await this.#ask(`del ${id}`);
    return { streams: r.streams as CallMediaFigures['streams'] };
  }

  async windowStart(): Promise<void> {
    await this.#ask('window start');
  }

  async windowEnd(): Promise<void> {
    await this.#ask('window end');
  }

  async windowRead(): Promise<WindowFigures> {
    return (await this.#ask('window read')) as unknown as WindowFigures;
  }

  async close(): Promise<void> {
    if (this.#dead) return;
    const exited = new Promise<void>((r) => this.#child.once('exit', () => r()));
    this.#child.stdin!.end('quit\n');
    const t = setTimeout(() => this.#child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
}
