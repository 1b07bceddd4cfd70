// (b), (c) Our engine, hosted by ours-host.ts in a child process on the relay core. A process may hold at most
// MAX_FDS descriptors here (a hard limit this sandbox sets), so a stream count that needs more sockets is shared
// out between several engine processes, each on its own part of the port range.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import { pinnedRelay, readLines, stopChild, type Placement } from '../child.js';
import type { StreamPlan } from '../loadgen.js';
import type { Mode, Subject } from '../subject.js';

const host = join(dirname(fileURLToPath(import.meta.url)), '../ours-host.js');
const MAX_FDS = 16000; // of the 20,000 a process gets here, room kept for Node's own

export interface EngineCounters {
  packetsIn: number;
  kernelInstalls: number;
  kernelRemovals: number;
  kernelRefusals: number;
}

export class OursSubject implements Subject {
  readonly name: string;
  srtpBackend = '';
  #children: ChildProcess[] = [];

  constructor(
    private readonly mode: Mode,
    private readonly portRange: [number, number],
    protected readonly placement?: Placement,
  ) {
    this.name = `ours ${mode}${placement ? ` (${placement.kernelPath === 'auto' ? 'kernel path' : 'user space'})` : ''}`;
  }

  get pid(): number {
    return this.pids[0]!;
  }
  get pids(): number[] {
    if (this.#children.length === 0 || this.#children.some((c) => !c.pid))
      throw new Error('our relay host not started');
    return this.#children.map((c) => c.pid!);
  }

  async setup(streams: number, gen: { rxPort: number; txKey: Buffer | null }): Promise<StreamPlan> {
    const socketsPerStream = this.mode === 'edge' ? 2 : 4; // the edge's leg B is on the shared mux pair
    const hosts = Math.ceil((streams * socketsPerStream) / MAX_FDS);
    const span = Math.floor((this.portRange[1] - this.portRange[0] + 1) / hosts / 2) * 2;
    const plan: StreamPlan = { ports: [] };
    const rxKeys: Buffer[] = [];
    for (let h = 0, first = 0; h < hosts; h++) {
      const share = Math.ceil((streams - first) / (hosts - h));
      const args = {
        streams: share,
        mode: this.mode,
        rxPort: gen.rxPort + (this.mode === 'edge' ? 2 * first : 0),
        txKey: gen.txKey?.toString('hex') ?? null,
        portMin: this.portRange[0] + h * span,
        portMax: this.portRange[0] + (h + 1) * span - 1,
        ...(this.placement
          ? {
              bindAddress: this.placement.relayAddress,
              rxAddress: this.placement.genAddress,
              kernelPath: this.placement.kernelPath,
            }
          : {}),
      };
      const child = pinnedRelay(process.execPath, [host, JSON.stringify(args)], this.placement);
      this.#children.push(child);
      const [line] = await readLines(child, (l) => l.length >= 1, 'our relay host', 60000);
      const reply = JSON.parse(line!) as { ports?: number[]; rxKeys?: string[]; srtpBackend?: string; error?: string };
      if (!reply.ports) throw new Error(`our relay host: ${reply.error ?? line}`);
      this.srtpBackend = reply.srtpBackend ?? '';
      plan.ports.push(...reply.ports);
      rxKeys.push(...(reply.rxKeys ?? []).map((k) => Buffer.from(k, 'hex')));
      first += share;
    }
    if (rxKeys.length) plan.rxKeys = rxKeys;
    return plan;
  }

  /** The engines' worker counters, summed (ours-host answers `stats`). */
  async workerStats(): Promise<EngineCounters> {
    const sum: EngineCounters = { packetsIn: 0, kernelInstalls: 0, kernelRemovals: 0, kernelRefusals: 0 };
    for (const child of this.#children) {
      const reply = readLines(child, (l) => l.length >= 1, 'our relay host stats', 10000);
      child.stdin!.write('stats\n');
      const [line] = await reply;
      const c = JSON.parse(line!) as EngineCounters;
      for (const k of Object.keys(sum) as (keyof EngineCounters)[]) sum[k] += c[k];
    }
    return sum;
  }

  async close(): Promise<void> {
    await Promise.all(this.#children.map((c) => stopChild(c, 10000)));
  }
}
