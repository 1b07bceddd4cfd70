// One node of a pair under test: a process started inside its own cgroup (cgroup.ts), in a process group of its own
// so that one signal reaches it and whatever it forked; CPU and memory are the cgroup's.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { CpuJail } from './cgroup.js';

/** What the search reads of a node: its name, its CPU seconds so far, its memory now. */
export interface MeasuredNode {
  readonly name: string;
  cpuSeconds(): number;
  memoryBytes(): number;
  /** The share of a core the node is held to. */
  readonly share: number;
  throttled(): { periods: number; seconds: number };
}

// Every node started here, so that none outlives the command (a run cut short by a signal included).
const running = new Set<JailedProcess>();
process.once('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

export class JailedProcess implements MeasuredNode {
  readonly #child: ChildProcess;
  #log = '';
  #exited = false;

  private constructor(
    readonly name: string,
    readonly jail: CpuJail,
    child: ChildProcess,
  ) {
    this.#child = child;
    const keep = (d: Buffer) => (this.#log = (this.#log + d.toString()).slice(-20_000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('exit', () => {
      this.#exited = true;
      running.delete(this);
    });
    running.add(this);
  }

  /** Starts `cmd args` inside a new cgroup `jailName` at `share` cores on `cpus`. */
  static start(o: {
    name: string;
    jailName: string;
    share: number;
    cpus: number[];
    cmd: string;
    args: string[];
    env?: NodeJS.ProcessEnv;
    stdin?: boolean;
  }): JailedProcess {
    const jail = CpuJail.create({ name: o.jailName, share: o.share, cpus: o.cpus });
    const [file, argv] = jail.wrap(o.cmd, o.args);
    const child = spawn(file, argv, {
      stdio: [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      detached: true,
      env: o.env ?? process.env,
    });
    return new JailedProcess(o.name, jail, child);
  }

  /** The process's standard streams, when started with `stdin` (a node driven by lines). */
  get stdio(): { stdin: NodeJS.WritableStream | null; stdout: NodeJS.ReadableStream | null } {
    return { stdin: this.#child.stdin, stdout: this.#child.stdout };
  }

  get share(): number {
    return this.jail.share;
  }

  get exited(): boolean {
    return this.#exited;
  }

  /** The tail of what it wrote (for an error that names why it stopped). */
  log(): string {
    return this.#log;
  }

  cpuSeconds(): number {
    return this.jail.cpuSeconds();
  }

  memoryBytes(): number {
    return this.jail.memoryBytes();
  }

  throttled(): { periods: number; seconds: number } {
    return this.jail.throttled();
  }

  kill(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.#child.pid!, signal);
    } catch {
      // already gone
    }
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; then the cgroup goes. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.#exited) {
      const gone = once(this.#child, 'exit');
      this.kill('SIGTERM');
      const t = setTimeout(() => this.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(t);
    }
    this.jail.destroy();
  }
}

/** Polls `ready` until it says yes, failing with the node's log when it exits or the time runs out. */
export async function waitReady(p: JailedProcess, ready: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (p.exited) throw new Error(`${p.name} exited during start-up:\n${p.log().slice(-3000)}`);
    if (Date.now() > end)
      throw new Error(`${p.name} was not ready within ${timeoutMs / 1000} s:\n${p.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
