// A controlled neighbour for bench:sip: processes that keep a fixed share of the machine busy beside the path being
// measured, so the table can say how much each path degrades on a busy host (issue 24: the pair's rate fell far
// more than Kamailio's while other work ran), with the same neighbour for both paths rather than whatever other
// programs happened to run. Each process spins `duty` of every period (wall clock) at nice 0 and sleeps the rest,
// as a service with a steady load would; what it really took is read from /proc and reported beside each row.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpuSeconds } from '../media/cpu.js';

/**
 * Busy until the period's share is spent, then asleep until the next period. A period missed (the process was not
 * scheduled) is skipped, not made up: the neighbour's demand stays fixed instead of bursting after a stall.
 */
const SPINNER = `
const busy = Number(process.argv[1]), period = Number(process.argv[2]);
let next = performance.now();
const tick = () => {
  const end = next + busy;
  while (performance.now() < end);
  next += period;
  if (next < performance.now()) next = performance.now();
  setTimeout(tick, next - performance.now());
};
tick();
`;

export interface NeighbourShape {
  /** Processes, each spinning on its own (one per core the neighbour should take when duty is 1). */
  processes: number;
  /** Share of each period each one spins, 0-1. */
  duty: number;
  periodMs: number;
}

/** BENCH_SIP_NEIGHBOUR="<processes>x<duty>" (e.g. 2x0.5, the default: one core's worth over 2 cores); "0" turns the rows off. */
export function neighbourShape(text = process.env.BENCH_SIP_NEIGHBOUR ?? '2x0.5'): NeighbourShape | null {
  if (text === '0' || text === '') return null;
  const m = /^(\d+)x(0?\.\d+|1)$/.exec(text);
  if (!m) throw new Error(`BENCH_SIP_NEIGHBOUR: expected <processes>x<duty> (e.g. 2x0.5), got "${text}"`);
  return { processes: Number(m[1]), duty: Number(m[2]), periodMs: 100 };
}

export class Neighbour {
  readonly #procs: ChildProcess[];

  private constructor(procs: ChildProcess[]) {
    this.#procs = procs;
  }

  static start(shape: NeighbourShape): Neighbour {
    const busy = String(shape.duty * shape.periodMs);
    return new Neighbour(
      Array.from({ length: shape.processes }, () =>
        spawn(process.execPath, ['-e', SPINNER, busy, String(shape.periodMs)], { stdio: 'ignore' }),
      ),
    );
  }

  /** CPU seconds the neighbour's processes used so far. */
  cpuSeconds(): number {
    return this.#procs.reduce((a, p) => a + (p.pid && p.exitCode === null ? cpuSeconds(p.pid) : 0), 0);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.#procs.map(async (p) => {
        if (p.exitCode !== null || p.signalCode !== null) return;
        const exited = once(p, 'exit');
        p.kill('SIGKILL');
        await exited;
      }),
    );
  }
}
