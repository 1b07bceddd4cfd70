// (a) The limit: reflector.c, one socket per stream, no parsing and no crypto.
import type { ChildProcess } from 'node:child_process';
import { pinnedRelay, readLines, stopChild, type Placement } from '../child.js';
import type { StreamPlan } from '../loadgen.js';
import type { Subject } from '../subject.js';

export class ReflectorSubject implements Subject {
  readonly name = 'reflector (C, recvmmsg/sendmmsg)';
  #child: ChildProcess | undefined;

  constructor(
    private readonly binary: string,
    private readonly placement?: Placement,
  ) {}

  get pid(): number {
    if (!this.#child?.pid) throw new Error('reflector not started');
    return this.#child.pid;
  }

  async setup(streams: number, gen: { rxPort: number; txKey: Buffer | null }): Promise<StreamPlan> {
    if (gen.txKey) throw new Error('the reflector only reflects plain RTP');
    const where = this.placement ? [this.placement.relayAddress, this.placement.genAddress] : [];
    this.#child = pinnedRelay(this.binary, [String(streams), String(gen.rxPort), ...where], this.placement);
    const lines = await readLines(this.#child, (l) => l.at(-1) === 'ready', 'reflector');
    return { ports: lines.slice(0, -1).map(Number) };
  }

  async close(): Promise<void> {
    if (this.#child) await stopChild(this.#child);
  }
}
