// (b), (c) Our engine, hosted by ours-host.ts in a child process on the relay core.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import { pinned, readLines, stopChild, type Mode, type StreamPlan, type Subject } from '../subject.js';

const host = join(dirname(fileURLToPath(import.meta.url)), '../ours-host.js');

export class OursSubject implements Subject {
  readonly name: string;
  srtpBackend = '';
  #child: ChildProcess | undefined;

  constructor(private readonly mode: Mode, private readonly portRange: [number, number]) {
    this.name = `ours ${mode}`;
  }

  get pid(): number {
    if (!this.#child?.pid) throw new Error('our relay host not started');
    return this.#child.pid;
  }

  async setup(streams: number, gen: { rxPort: number; txKey: Buffer | null }): Promise<StreamPlan> {
    const args = {
      streams, mode: this.mode, rxPort: gen.rxPort, txKey: gen.txKey?.toString('hex') ?? null,
      portMin: this.portRange[0], portMax: this.portRange[1],
    };
    this.#child = pinned(process.execPath, [host, JSON.stringify(args)], 'relay');
    const [line] = await readLines(this.#child, (l) => l.length >= 1, 'our relay host', 60000);
    const reply = JSON.parse(line!) as { ports?: number[]; rxKeys?: string[]; srtpBackend?: string; error?: string };
    if (!reply.ports) throw new Error(`our relay host: ${reply.error ?? line}`);
    this.srtpBackend = reply.srtpBackend ?? '';
    const plan: StreamPlan = { ports: reply.ports };
    if (reply.rxKeys?.length) plan.rxKeys = reply.rxKeys.map((k) => Buffer.from(k, 'hex'));
    return plan;
  }

  async close(): Promise<void> {
    if (this.#child) await stopChild(this.#child, 10000);
  }
}
