// The TypeScript side of loadgen.c: N TURN clients and their peers, one generator per server under test.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GENERATOR_HEADER, root, toolDir } from '../media/tools.js';
import { pinned } from '../media/child.js';
import { LineChild } from './line-child.js';

export interface TurnTrial {
  sent: number;
  sendErrors: number;
  toPeer: number;
  toClient: number;
  stale: number;
  foreign: number;
  silentAllocations: number;
  elapsedS: number;
  p50Us: number;
  p99Us: number;
}

/** build/bench/turn-loadgen, compiled with Debian's cc when its sources are newer (OpenSSL's libcrypto for the credentials). */
export function buildLoadgen(): string {
  const sources = [join(root, 'bench/turn/loadgen.c'), GENERATOR_HEADER].map((f) => statSync(f).mtimeMs);
  const out = join(toolDir, 'turn-loadgen');
  if (existsSync(out) && statSync(out).mtimeMs > Math.max(...sources)) return out;
  mkdirSync(toolDir, { recursive: true });
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-o', out, join(root, 'bench/turn/loadgen.c'), '-lcrypto'], {
    stdio: 'inherit',
  });
  return out;
}

export class TurnLoadGenerator {
  private constructor(private readonly line: LineChild) {}

  static async start(binary: string): Promise<TurnLoadGenerator> {
    const line = new LineChild(pinned(binary, [], 'generator'), 'TURN load generator');
    await line.hello();
    return new TurnLoadGenerator(line);
  }

  /** `count` allocations with a channel each; clients from 127.<clientNet>.0.0, peers from 127.<peerNet>.0.0. */
  setup(
    port: number,
    secret: string,
    count: number,
    clientNet: number,
    peerNet: number,
  ): Promise<{ allocations: number; ms: number }> {
    return this.line.ask(`setup ${port} ${secret} ${count} ${clientNet} ${peerNet}`, 120_000);
  }

  /** One trial: pps 0 floods. Half the packets each way. */
  run(pps: number, ms: number, size: number): Promise<TurnTrial> {
    return this.line.ask(`run ${Math.round(pps)} ${Math.round(ms)} ${size}`, ms + 30_000);
  }

  teardown(): Promise<{ deleted: number }> {
    return this.line.ask('teardown', 120_000);
  }

  async close(): Promise<void> {
    this.line.child.stdin!.write('quit\n');
    await this.line.close();
  }
}
