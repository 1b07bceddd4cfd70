// The TypeScript side of loadgen.c: one long-lived generator for the whole bench, driven line by line.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { pinned, readLines, stopChild } from './child.js';

export interface StreamPlan {
  /** Where stream i is sent (127.0.0.1). */
  ports: number[];
  /** Stream i's key||salt for what arrives at the generator, when the subject protects it. */
  rxKeys?: Buffer[];
}

export interface TrialCounts {
  sent: number;
  sendErrors: number;
  received: number;
  foreign: number;
  authFail: number;
  stale: number;
  silentStreams: number;
  minStream: number;
  maxStream: number;
  elapsedS: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  /** kgen only: NET_RX softirq ns on the charged core outside the charged processes, over the trial and its drain. */
  netRxNs?: number;
}

export class LoadGenerator {
  private constructor(
    private readonly child: ChildProcess,
    readonly txPort: number,
    readonly rxPort: number,
  ) {}

  /** loadgen.c on loopback, or (kernel rows) `ip netns exec <ns> kgen ...`: the same line protocol. */
  static async start(binary: string, args: string[] = []): Promise<LoadGenerator> {
    const child = pinned(binary, args, 'generator');
    const [hello] = await readLines(child, (l) => l.length >= 1, 'load generator');
    const ports = JSON.parse(hello!) as { txPort?: number; rxPort?: number; error?: string };
    if (!ports.txPort || !ports.rxPort) throw new Error(`load generator: ${ports.error ?? hello}`);
    return new LoadGenerator(child, ports.txPort, ports.rxPort);
  }

  get pid(): number {
    return this.child.pid!;
  }

  async #ask<T>(line: string, timeoutMs = 15000): Promise<T> {
    const reply = readLines(this.child, (l) => l.length >= 1, `load generator '${line.split(' ')[0]}'`, timeoutMs);
    this.child.stdin!.write(`${line}\n`);
    const [text] = await reply;
    const parsed = JSON.parse(text!) as T & { error?: string };
    if (parsed.error) throw new Error(`load generator '${line}': ${parsed.error}`);
    return parsed;
  }

  async setStreams(plan: StreamPlan): Promise<void> {
    const file = join(tmpdir(), `mra-bench-media-streams-${process.pid}.txt`);
    const lines = plan.ports.map((port, i) => {
      const key = plan.rxKeys?.[i];
      return key ? `${port} ${key.toString('hex')}` : String(port);
    });
    writeFileSync(file, `${lines.join('\n')}\n`);
    await this.#ask(`streams ${file}`);
  }

  async setTxKey(key: Buffer | null): Promise<void> {
    await this.#ask(`txkey ${key ? key.toString('hex') : 'none'}`);
  }

  /** kgen only: bytes after the payload (10: the shape of an SRTP packet, for the pass-through rows). */
  async setTrailer(bytes: number): Promise<void> {
    await this.#ask(`trailer ${bytes}`);
  }

  /** kgen only: whose softirq time the next runs measure (`netRxNs`). */
  async charge(core: number, pids: number[]): Promise<void> {
    await this.#ask(`charge ${core} ${pids.join(',')}`);
  }

  /** One paced trial; `verify` unprotects every arrival (slower: for correctness checks only). */
  run(pps: number, ms: number, size: number, verify = false): Promise<TrialCounts> {
    return this.#ask<TrialCounts>(`run ${Math.round(pps)} ${Math.round(ms)} ${size} ${verify ? 1 : 0}`, ms + 15000);
  }

  async close(): Promise<void> {
    this.child.stdin!.write('quit\n');
    await stopChild(this.child);
  }
}
