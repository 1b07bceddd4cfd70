// The kernel rows' two hosts: the generator and the relay each in a network namespace of their own, joined by a
// veth pair, so what the relay forwards really leaves one host for another. Receive steering (RPS) puts all of
// the relay side's packet processing on the relay's core and the generator side's on the generator's, so the
// relay core's softirq time is the relay's. Addresses from 198.18.0.0/15 (RFC 2544), as test/topology's.
import { execFileSync, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

export interface BenchLink {
  genNs: string;
  relayNs: string;
  genIf: string;
  relayIf: string;
  genAddress: string;
  relayAddress: string;
  relayMac: string;
  /** The core the relay side's softirq runs on (the relay's core). */
  relayCore: number;
  destroy(): void;
}

const PREFIX = 'mra-bench';
const ip = (args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });
const inNs = (ns: string, cmd: string, args: string[]): string =>
  execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8' });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Namespaces an earlier run left behind (killed before it could remove them). */
function removeStale(): void {
  for (const line of ip(['netns', 'list']).split('\n')) {
    const m = new RegExp(`^(${PREFIX}-(\\d+)-(?:gen|relay))\\b`).exec(line);
    if (m && !alive(Number(m[2]))) spawnSync('ip', ['netns', 'delete', m[1]!]);
  }
}

/** Why the kernel rows cannot run here, or null. */
export function unavailable(): string | null {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, BPF, kernel.bpf_stats_enabled)';
  if (availableParallelism() < 2) return 'needs two cores (the generator and the relay each get one)';
  if (spawnSync('ip', ['-V']).status !== 0) return 'no ip (Debian package iproute2)';
  return null;
}

export function createLink(): BenchLink {
  removeStale();
  const genNs = `${PREFIX}-${process.pid}-gen`;
  const relayNs = `${PREFIX}-${process.pid}-relay`;
  const link: BenchLink = {
    genNs,
    relayNs,
    genIf: 'kb-gen',
    relayIf: 'kb-relay',
    genAddress: '198.18.9.1',
    relayAddress: '198.18.9.2',
    relayMac: '',
    relayCore: availableParallelism() - 1,
    destroy: () => {
      for (const ns of [genNs, relayNs]) spawnSync('ip', ['netns', 'delete', ns]);
    },
  };
  process.once('exit', link.destroy);
  try {
    ip(['netns', 'add', genNs]);
    ip(['netns', 'add', relayNs]);
    ip(['link', 'add', link.genIf, 'netns', genNs, 'type', 'veth', 'peer', 'name', link.relayIf, 'netns', relayNs]);
    for (const [ns, dev, addr] of [
      [genNs, link.genIf, link.genAddress],
      [relayNs, link.relayIf, link.relayAddress],
    ] as const) {
      ip(['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
      ip(['-n', ns, 'link', 'set', dev, 'up']);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // Receive steering: each side's packets are processed on its own core (masks are hex CPU sets).
    const mask = (core: number) => (1 << core).toString(16);
    inNs(relayNs, 'sh', ['-c', `echo ${mask(link.relayCore)} > /sys/class/net/${link.relayIf}/queues/rx-0/rps_cpus`]);
    inNs(genNs, 'sh', ['-c', `echo ${mask(0)} > /sys/class/net/${link.genIf}/queues/rx-0/rps_cpus`]);
    link.relayMac = (
      JSON.parse(ip(['-n', relayNs, '-j', 'link', 'show', link.relayIf])) as Array<{ address: string }>
    )[0]!.address;
  } catch (err) {
    link.destroy();
    throw err;
  }
  return link;
}
