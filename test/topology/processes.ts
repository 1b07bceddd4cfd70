import { spawn as spawnChild, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A command that hangs (a wedged `ip`, a process waiting on a dropped packet) must not hang the whole test file. */
const RUN_TIMEOUT_MS = 10_000;

/**
 * The processes one topology started, so that `destroy()` can end them: a namespace is only really gone
 * when the last process inside it has exited.
 */
export class ProcessSet {
  private readonly children = new Set<ChildProcess>();

  /** `ns === null` runs in the test's own namespace (the loopback fallback). */
  spawn(ns: string | null, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    if (typeof cmd !== 'string' || cmd.length === 0)
      throw new TypeError('spawn: the command must be a non-empty string');
    if (!Array.isArray(args) || args.some((a) => typeof a !== 'string'))
      throw new TypeError(`spawn ${cmd}: args must be an array of strings`);
    const child =
      ns === null ? spawnChild(cmd, args, opts) : spawnChild('ip', ['netns', 'exec', ns, cmd, ...args], opts);
    this.children.add(child);
    const forget = () => this.children.delete(child);
    child.once('exit', forget);
    // A spawn failure (ENOENT) has no 'exit'; this listener also keeps an unheard 'error' from crashing the test file.
    child.on('error', forget);
    return child;
  }

  run(ns: string | null, cmd: string, args: string[], input?: string): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = this.spawn(ns, cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: RUN_TIMEOUT_MS });
      let stdout = '';
      let stderr = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.once('error', (err) =>
        reject(new Error(`cannot run ${cmd}${ns ? ` in namespace ${ns}` : ''}: ${err.message}`)),
      );
      child.once('close', (code, signal) => {
        if (signal === 'SIGTERM' && code === null) stderr += `\n(${cmd} killed after ${RUN_TIMEOUT_MS} ms)`;
        resolve({ code: code ?? -1, stdout, stderr });
      });
      child.stdin!.on('error', () => {}); // the command may exit before reading its input
      child.stdin!.end(input ?? '');
    });
  }

  /** Ends every process still running and waits until each has exited. */
  async killAll(): Promise<void> {
    const alive = [...this.children].filter((c) => c.exitCode === null && c.signalCode === null && c.pid !== undefined);
    await Promise.all(
      alive.map(async (c) => {
        const exited = once(c, 'exit');
        c.kill('SIGKILL');
        await exited;
      }),
    );
    this.children.clear();
  }
}
