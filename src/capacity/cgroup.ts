// A node held to a share of the machine: its own cgroup with a CPU quota (cgroup v1 cpu.cfs_quota_us, v2 cpu.max)
// and a cpuset, created under the hierarchy this host mounts. The process and everything it forks start inside it
// (the wrapper writes its own pid to cgroup.procs, then execs), and its CPU time is the cgroup's own counter
// (v1 cpuacct.usage, v2 cpu.stat usage_usec), every thread and child included.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { CapacityError } from './errors.js';

const PERIOD_US = 100_000;

/** Where this host's controllers live: v1 one directory per controller, v2 one directory for all. */
export type Hierarchy = { version: 1; cpu: string; cpuacct: string; cpuset: string } | { version: 2; root: string };

/** Reads /proc/self/mountinfo for the cgroup mounts: v2 when its root offers cpu and cpuset, else v1's cpu, cpuacct and cpuset. */
export function findHierarchy(mountinfo = readMountinfo()): Hierarchy | { missing: string } {
  const v1: Record<string, string> = {};
  let v2: string | undefined;
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = left.split(' ')[4]!;
    const [fstype, , superOptions = ''] = right.split(' ');
    if (fstype === 'cgroup2') v2 ??= mountPoint;
    if (fstype === 'cgroup')
      for (const opt of superOptions.split(',')) if (['cpu', 'cpuacct', 'cpuset'].includes(opt)) v1[opt] ??= mountPoint;
  }
  if (v2 && controllersOf(v2).includes('cpu') && controllersOf(v2).includes('cpuset')) return { version: 2, root: v2 };
  if (v1.cpu && v1.cpuacct && v1.cpuset) return { version: 1, cpu: v1.cpu, cpuacct: v1.cpuacct, cpuset: v1.cpuset };
  return {
    missing: `no cgroup hierarchy with the cpu, cpuacct and cpuset controllers is mounted (cgroup v1) and no cgroup v2 root offers cpu and cpuset (${v2 ?? 'no cgroup2 mount'})`,
  };
}

function readMountinfo(): string {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return '';
  }
}

function controllersOf(root: string): string[] {
  try {
    return readFileSync(join(root, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
  } catch {
    return [];
  }
}

/** The CPUs this process may use (its affinity: what a cpuset below us can hold). */
export function machineCpus(): number {
  return availableParallelism();
}

/** Refuses a share the machine cannot give: not a number, not above zero, or more cores than it has. */
export function checkShare(share: number, cpus = machineCpus(), what = 'share'): void {
  if (!Number.isFinite(share) || share <= 0)
    throw new CapacityError(`${what} must be a number of cores above 0, got ${share}`);
  if (share > cpus)
    throw new CapacityError(`${what} ${share} is more than this machine's ${cpus} CPU${cpus === 1 ? '' : 's'}`);
}

/**
 * Places nodes on CPUs: each gets ceil(share) CPUs, packed from the last CPU down, so that the first CPU (where the
 * load generator runs) stays free while the nodes' shares leave it free. Two nodes with 0.5 each on 2 CPUs share
 * CPU 1; 1 core each takes both, and the generator then shares CPU 0 with the second node (the plan says so).
 */
export function planCpus(
  shares: number[],
  cpus = machineCpus(),
): { nodes: number[][]; generator: number[]; shared: boolean } {
  shares.forEach((s, i) => checkShare(s, cpus, `node ${i + 1}'s share`));
  const total = shares.reduce((a, b) => a + b, 0);
  if (total > cpus + 1e-9)
    throw new CapacityError(`the nodes' shares add up to ${total} cores, more than this machine's ${cpus}`);
  const nodes: number[][] = [];
  let free = cpus - 1; // the highest CPU with room
  let room = 1; // room left on CPU `free`
  for (const s of shares) {
    const width = Math.ceil(s - 1e-9);
    if (free < 0) {
      nodes.push(Array.from({ length: width }, (_, i) => cpus - 1 - i).filter((c) => c >= 0)); // full: overlap from the top
      continue;
    }
    if (s <= room + 1e-9 && width === 1) {
      nodes.push([free]);
      room -= s;
      if (room < 1e-9) {
        free -= 1;
        room = 1;
      }
      continue;
    }
    if (room < 1) {
      free -= 1;
      room = 1;
    }
    const set = Array.from({ length: width }, (_, i) => free - i).filter((c) => c >= 0);
    nodes.push(set.length ? set : [0]);
    free -= width;
    room = 1;
  }
  const used = new Set(nodes.flat());
  const generator = Array.from({ length: cpus }, (_, i) => i).filter((c) => !used.has(c));
  return { nodes, generator: generator.length ? generator : [0], shared: generator.length === 0 };
}

/** One node's cgroup. */
export class CpuJail {
  readonly #dirs: string[];
  readonly #procs: string;

  private constructor(
    readonly name: string,
    readonly hierarchy: Hierarchy,
    readonly cpus: number[],
    public share: number,
  ) {
    const leaf = name;
    this.#dirs =
      hierarchy.version === 1
        ? [join(hierarchy.cpu, leaf), join(hierarchy.cpuacct, leaf), join(hierarchy.cpuset, leaf)]
        : [join(hierarchy.root, leaf)];
    this.#procs = join(this.#dirs[0]!, 'cgroup.procs');
  }

  /** Creates the cgroup `name` (unique per run: say whose and which node) with its quota and cpuset. */
  static create(o: { name: string; share: number; cpus: number[]; hierarchy?: Hierarchy }): CpuJail {
    const h = o.hierarchy ?? findHierarchy();
    if ('missing' in h) throw new CapacityError(`cannot hold a node to a CPU share: ${h.missing}`);
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(o.name)) throw new CapacityError(`bad cgroup name ${o.name}`);
    checkShare(o.share, Math.max(o.cpus.length, 1), `${o.name}: share`);
    const jail = new CpuJail(o.name, h, o.cpus, o.share);
    try {
      if (h.version === 2) {
        // v2 enables controllers for children in the parent; the root may hold processes and still do so.
        writeFileSync(join(h.root, 'cgroup.subtree_control'), '+cpu +cpuset');
      }
      for (const d of jail.#dirs) mkdirSync(d, { recursive: true });
      jail.#writeCpuset();
      jail.setShare(o.share);
      // The jail competes with the rest of the machine as one entity: the highest weight, so that neighbours on a shared
      // host do not take what its quota allows (the quota, not the neighbours, is what a run measures).
      if (h.version === 1) writeFileSync(join(h.cpu, o.name, 'cpu.shares'), '262144');
      else writeFileSync(join(h.root, o.name, 'cpu.weight'), '10000');
    } catch (err) {
      jail.destroy();
      if (err instanceof CapacityError) throw err;
      throw new CapacityError(`cannot set up cgroup ${o.name} (${(err as Error).message}): running as root?`);
    }
    return jail;
  }

  #writeCpuset(): void {
    const h = this.hierarchy;
    const dir = h.version === 1 ? join(h.cpuset, this.name) : join(h.root, this.name);
    // v1 cpusets start empty: a task cannot join until cpus and mems are set. Memory node 0 (what exists here).
    if (h.version === 1) {
      const mems = readFirst([join(h.cpuset, 'cpuset.mems'), join(h.cpuset, 'cpuset.effective_mems')]) ?? '0';
      writeFileSync(join(dir, 'cpuset.mems'), mems.trim() || '0');
    }
    writeFileSync(join(dir, 'cpuset.cpus'), this.cpus.join(','));
  }

  /** Changes the quota (cores: 0.5 is half of one CPU's time each period) while the node runs. */
  setShare(share: number): void {
    checkShare(share, Math.max(this.cpus.length, 1), `${this.name}: share`);
    const quota = Math.max(1000, Math.round(share * PERIOD_US));
    const h = this.hierarchy;
    if (h.version === 1) {
      writeFileSync(join(h.cpu, this.name, 'cpu.cfs_period_us'), String(PERIOD_US));
      writeFileSync(join(h.cpu, this.name, 'cpu.cfs_quota_us'), String(quota));
    } else writeFileSync(join(h.root, this.name, 'cpu.max'), `${quota} ${PERIOD_US}`);
    this.share = share;
  }

  /**
   * A command line that joins this cgroup (every controller's) and then runs `cmd args`, which gets SIGTERM when the
   * process that started it dies: a capacity run stopped by ^C left its edge and core running without it.
   */
  wrap(cmd: string, args: string[]): [string, string[]] {
    const joins = this.#dirs.map((d) => `echo $$ > '${join(d, 'cgroup.procs')}'`).join(' && ');
    return ['sh', ['-c', `${joins} && exec setpriv --pdeathsig TERM -- "$@"`, 'sh', cmd, ...args]];
  }

  /** CPU seconds every task in the cgroup has used since it was made. */
  cpuSeconds(): number {
    const h = this.hierarchy;
    if (h.version === 1) return Number(readFileSync(join(h.cpuacct, this.name, 'cpuacct.usage'), 'utf8')) / 1e9;
    const m = /^usage_usec (\d+)$/m.exec(readFileSync(join(h.root, this.name, 'cpu.stat'), 'utf8'));
    return m ? Number(m[1]) / 1e6 : NaN;
  }

  /** Times the cgroup was held back by its quota, and for how long (what shows a node at its share). */
  throttled(): { periods: number; seconds: number } {
    const h = this.hierarchy;
    const text =
      readFirst([h.version === 1 ? join(h.cpu, this.name, 'cpu.stat') : join(h.root, this.name, 'cpu.stat')]) ?? '';
    const get = (k: string) => Number(new RegExp(`^${k} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    return h.version === 1
      ? { periods: get('nr_throttled'), seconds: get('throttled_time') / 1e9 }
      : { periods: get('nr_throttled'), seconds: get('throttled_usec') / 1e6 };
  }

  pids(): number[] {
    const text = readFirst([this.#procs]) ?? '';
    return text.split('\n').filter(Boolean).map(Number);
  }

  /**
   * Memory of the cgroup's processes: the sum of their proportional set sizes (Pss: pages shared between a
   * forking server's processes, as Kamailio's, are split among them rather than counted once per process).
   */
  memoryBytes(): number {
    let total = 0;
    for (const pid of this.pids()) {
      const text = readFirst([`/proc/${pid}/smaps_rollup`]);
      const kb = text ? /^Pss:\s+(\d+) kB$/m.exec(text)?.[1] : undefined;
      total += Number(kb ?? 0) * 1024;
    }
    return total;
  }

  /** Removes the cgroup; every process in it must have exited (a process left is killed first). */
  destroy(): void {
    for (const pid of this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const d of this.#dirs) {
      for (let i = 0; i < 50 && existsSync(d); i++) {
        try {
          rmdirSync(d);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOTEMPTY') break; // not a cgroupfs (a test's tree): files stay
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); // a killed task leaves the cgroup a moment later
        }
      }
    }
  }
}

function readFirst(files: string[]): string | undefined {
  for (const f of files) {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      // next
    }
  }
  return undefined;
}
