import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/**
 * A packet capture of the node's own ports with tcpdump (what Expressway's diagnostic logging takes), into a pcap
 * file Wireshark opens. The admin port is left out: its requests carry the admin token in clear on loopback.
 */
export interface Capture {
  stop(): Promise<{ file: string; note: string }>;
}

/** The BPF filter for these TCP ports and, when given, the media UDP range. */
export function captureFilter(tcpPorts: readonly number[], media?: { min: number; max: number }): string {
  const parts = [...new Set(tcpPorts.filter((p) => p > 0))].sort((a, b) => a - b).map((p) => `tcp port ${p}`);
  if (media) parts.push(`udp portrange ${media.min}-${media.max}`);
  return parts.join(' or ');
}

/** Starts tcpdump, or says why there is no capture (not installed, not allowed): the bundle is made either way. */
export async function startCapture(file: string, filter: string): Promise<Capture | { unavailable: string }> {
  if (spawnSync('tcpdump', ['--version'], { stdio: 'ignore' }).error)
    return { unavailable: 'tcpdump is not installed (apt-get install tcpdump)' };
  if (!filter) return { unavailable: 'no port to capture' };
  const child: ChildProcess = spawn('tcpdump', ['-i', 'any', '-n', '-U', '-s', '0', '-w', file, filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  // tcpdump says "listening on any" once the capture runs; an exit before that is its refusal.
  const ready = await Promise.race([
    new Promise<boolean>((resolve) => child.stderr!.on('data', () => /listening on/.test(err) && resolve(true))),
    once(child, 'exit').then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(/listening on/.test(err)), 5000)),
  ]);
  if (!ready) {
    child.kill('SIGKILL');
    return {
      unavailable: `tcpdump did not start: ${err.trim().split('\n').pop() ?? 'no reason given'} (it needs root or CAP_NET_RAW)`,
    };
  }
  return {
    async stop() {
      const exited = child.exitCode !== null ? Promise.resolve() : once(child, 'exit').then(() => undefined);
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      const summary = err
        .split('\n')
        .filter((l) => /packets (captured|received|dropped)/.test(l))
        .join('; ');
      return { file, note: `tcpdump -i any '${filter}'${summary ? `: ${summary}` : ''}` };
    },
  };
}
