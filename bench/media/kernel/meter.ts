// CPU meters for the kernel rows. A relay that forwards in the kernel has no process to charge: its work runs as
// NET_RX softirq on the core its packets are steered to. Every relay in these rows, ours with its kernel path and
// the userspace reflector alike, is charged the same way: its processes' CPU time (utime + stime, which holds the
// softirq that ran in their own context) plus the NET_RX softirq time on the relay core that ran in any other
// context (kgen.c measures it with sink.bpf.c's softirq_entry/exit raw tracepoints, to the nanosecond). Anyone
// else's network receive work on that core would count too: the figure can only overstate a relay's cost.
// kernel.bpf_stats_enabled adds what our program itself ran, per packet (/proc/<pid>/fdinfo of its fd).
import { readFileSync, readdirSync } from 'node:fs';
import { cpuSeconds } from '../cpu.js';
import type { CpuMeter, CpuSample } from '../measure.js';

/** run_time_ns and run_cnt of the BPF programs a process holds (the engine's media_forward). */
function bpfRunStats(pid: number): { ns: number; runs: number } {
  let ns = 0,
    runs = 0;
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    if (!/^prog_type:/m.test(text) || /^link_type:/m.test(text)) continue;
    ns += Number(/^run_time_ns:\s+(\d+)/m.exec(text)?.[1] ?? 0);
    runs += Number(/^run_cnt:\s+(\d+)/m.exec(text)?.[1] ?? 0);
  }
  return { ns, runs };
}

/** The relay's processes on `core`, charged with the softirq the generator measures there. */
export function relayCoreMeter(pids: number[], core: number, withBpf: boolean): CpuMeter {
  return {
    softirq: { core, pids },
    sample: (): CpuSample => {
      let seconds = 0,
        bpfNs = 0,
        bpfRuns = 0;
      for (const pid of pids) {
        seconds += cpuSeconds(pid);
        if (!withBpf) continue;
        const bpf = bpfRunStats(pid);
        (bpfNs += bpf.ns), (bpfRuns += bpf.runs);
      }
      return withBpf ? { seconds, bpfNs, bpfRuns } : { seconds };
    },
  };
}
