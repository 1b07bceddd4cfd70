// The bench's child processes: pinned to a core at the bench's priority, their output read by line, stopped, and
// none outliving the bench.
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';

// Every child the bench starts, so none outlives it (rtpengine, unlike our tools, does not exit when stdin closes).
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    for (const c of children) c.kill('SIGKILL');
    process.exit(130);
  });
}

/**
 * The kernel rows: the relay runs in a namespace of its own (bench/media/kernel/netns.ts) on `relayAddress` and
 * sends to the generator's `genAddress`; `kernelPath` is our engine's switch.
 */
export interface Placement {
  ns: string;
  relayAddress: string;
  genAddress: string;
  kernelPath: 'auto' | 'off';
}

/** A relay process on the relay core: pinned(), inside the placement's namespace when there is one. */
export function pinnedRelay(cmd: string, args: string[], placement?: Placement): ChildProcess {
  return placement ? pinned('ip', ['netns', 'exec', placement.ns, cmd, ...args], 'relay') : pinned(cmd, args, 'relay');
}

/** Nice value for the relay and the generator when root: a shared machine's other work then barely moves them. */
export const BENCH_NICE = -15;

/**
 * Relays run on the last core and the load generator on the first, so neither steals the other's. As root both
 * also run at nice -15 in a session (so an autogroup) of their own at nice -15: on a shared machine other
 * sessions on the relay's core otherwise take most of it (the scheduler shares the CPU between autogroups, so a
 * plain nice does nothing against them), its queues grow to hundreds of ms and the loss-free search measures the
 * neighbours, not the relay.
 */
export function pinned(cmd: string, args: string[], core: 'relay' | 'generator'): ChildProcess {
  const cores = availableParallelism();
  const cpu = core === 'relay' ? cores - 1 : 0;
  const pin = cores > 1 ? ['taskset', '-c', String(cpu)] : [];
  const [file, argv] =
    process.getuid?.() === 0
      ? [
          'setsid',
          [
            'sh',
            '-c',
            `echo ${BENCH_NICE} > /proc/$$/autogroup 2>/dev/null; exec "$@"`,
            'sh',
            ...pin,
            'nice',
            '-n',
            String(BENCH_NICE),
            cmd,
            ...args,
          ],
        ]
      : [pin[0] ?? cmd, [...pin.slice(1), ...(pin.length ? [cmd] : []), ...args]];
  const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Resolves with the child's stdout lines until `done` says enough; rejects on exit or deadline. */
export function readLines(
  child: ChildProcess,
  done: (lines: string[]) => boolean,
  what: string,
  timeoutMs = 30000,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    let rest = '';
    let stderr = '';
    const timer = setTimeout(
      () => finish(new Error(`${what}: no answer in ${timeoutMs} ms; stderr: ${stderr.slice(-500)}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer): void => {
      rest += chunk.toString();
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        lines.push(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
        if (done(lines)) return finish(null);
      }
    };
    const onErr = (chunk: Buffer): void => {
      stderr += chunk.toString();
    };
    const onExit = (code: number | null): void =>
      finish(new Error(`${what} exited (${code}); stderr: ${stderr.slice(-500)}`));
    const finish = (err: Error | null): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(lines);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onErr);
    child.on('exit', onExit);
  });
}

/** Ends a child we started: stdin closed first (our tools exit on EOF), SIGTERM, then SIGKILL. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin?.end();
  const term = setTimeout(() => child.kill('SIGTERM'), graceMs / 2);
  const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(term);
  clearTimeout(kill);
}
