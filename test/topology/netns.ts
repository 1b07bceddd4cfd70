import { spawnSync } from 'node:child_process';
import type { ProcessSet } from './processes.js';

/**
 * Addresses from 198.18.0.0/15 (RFC 2544, benchmarking) so nothing in the tests can collide with or leak to a
 * real network. The edge has two faces, as a dual-NIC Expressway-E does: public towards internet, traversal
 * towards inside.
 */
export const ADDRESSES = {
  internet: '198.18.1.1',
  dmzPublic: '198.18.1.2',
  dmzTraversal: '198.18.2.1',
  inside: '198.18.2.2',
} as const;
const PREFIX_LENGTH = 24;

/** Interfaces are named for where they lead; the names live inside the namespaces, so topologies cannot clash. */
export const LINKS = {
  internetToDmz: 'to-dmz',
  dmzToInternet: 'to-internet',
  dmzToInside: 'to-inside',
  insideToDmz: 'to-dmz',
} as const;

export const FIREWALL_TABLE = 'mra_dmz_firewall';

/**
 * The DMZ firewall, on the inside end of the dmz link: the only way into `inside` from `dmz` is as a reply on
 * a connection `inside` opened. Drop, not reject, because that is what a DMZ firewall does and what the edge
 * must survive (a connect that hangs, not one that fails fast). The counter lets tests prove the drop happened.
 */
export const FIREWALL_RULESET = `table inet ${FIREWALL_TABLE} {
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "${LINKS.insideToDmz}" ct state established,related accept
    iifname "${LINKS.insideToDmz}" ct state new counter drop
    iifname "${LINKS.insideToDmz}" drop
  }
}
`;

export interface Namespaces {
  internet: string;
  dmz: string;
  inside: string;
}

const PREFIX_RE = /^[a-z][a-z0-9]{0,19}$/;
let created = 0;

/** `mra-<prefix>-<pid>-<n>-<host>`: the pid says whether a leftover's owner is still alive. */
export function namespaceNames(prefix: string): Namespaces {
  if (typeof prefix !== 'string' || !PREFIX_RE.test(prefix)) {
    throw new TypeError(
      `topology prefix ${JSON.stringify(prefix)} is not allowed: use 1-20 lowercase letters and digits, starting with a letter`,
    );
  }
  const base = `mra-${prefix}-${process.pid}-${created++}`;
  return { internet: `${base}-internet`, dmz: `${base}-dmz`, inside: `${base}-inside` };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Namespaces left by a run of the same prefix that was killed before its `destroy()`. */
export function staleNamespaces(prefix: string, listed: string): string[] {
  const re = new RegExp(`^mra-${prefix}-(\\d+)-\\d+-(internet|dmz|inside)$`);
  return listed
    .split('\n')
    .map((line) => line.trim().split(/\s/)[0] ?? '')
    .filter((name) => {
      const m = re.exec(name);
      return m !== null && !pidAlive(Number(m[1]));
    });
}

/** The machine cannot host the topology (no privilege, no kernel support): tests skip, they do not fail. */
export class TopologyUnavailable extends Error {}

/** What the kernel or the sandbox says when it refuses, as opposed to a mistake in the commands themselves. */
const REFUSED =
  /Operation not permitted|Permission denied|not supported|Cannot open netlink socket|mount --make-shared/i;

async function must(
  procs: ProcessSet,
  what: string,
  ns: string | null,
  cmd: string,
  args: string[],
  input?: string,
): Promise<void> {
  const r = await procs.run(ns, cmd, args, input);
  if (r.code === 0) return;
  const message = `${what}: ${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`;
  throw REFUSED.test(r.stderr) ? new TopologyUnavailable(message) : new Error(message);
}

/**
 * Deletes namespaces and first ends whatever still runs in them (a grandchild of a test, or processes of a
 * killed run): a namespace with a process left in it lives on, unnamed, holding its veth ends.
 */
export async function deleteNamespaces(procs: ProcessSet, names: string[]): Promise<void> {
  await Promise.all(
    names.map(async (ns) => {
      killAll((await procs.run(null, 'ip', ['netns', 'pids', ns])).stdout);
      const r = await procs.run(null, 'ip', ['netns', 'delete', ns]);
      if (r.code !== 0 && !/No such file/.test(r.stderr))
        throw new Error(`cannot delete namespace ${ns}: ${r.stderr.trim()}`);
    }),
  );
}

/** For an exit without `destroy()` (a failed assertion that skipped `after`): no namespace may outlive the run. */
export function deleteNamespacesSync(names: string[]): void {
  for (const ns of names) {
    const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 5_000 }).stdout ?? '';
    killAll(pids);
    spawnSync('ip', ['netns', 'delete', ns], { stdio: 'ignore', timeout: 5_000 });
  }
}

/** Kills the pids `ip netns pids` listed: only processes in this library's own namespaces. */
function killAll(listed: string): void {
  for (const pid of listed
    .split('\n')
    .map(Number)
    .filter((p) => p > 0 && p !== process.pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** Builds the three namespaces, their links, addresses and the firewall. Throws with the failing step. */
export async function buildNamespaces(procs: ProcessSet, ns: Namespaces): Promise<void> {
  await Promise.all(
    Object.values(ns).map((name) => must(procs, `create namespace ${name}`, null, 'ip', ['netns', 'add', name])),
  );
  // Each veth pair is created straight into its two namespaces, so no name ever appears in the host's namespace.
  await Promise.all([
    must(procs, 'link internet-dmz', null, 'ip', [
      '-n',
      ns.internet,
      'link',
      'add',
      LINKS.internetToDmz,
      'type',
      'veth',
      'peer',
      'name',
      LINKS.dmzToInternet,
      'netns',
      ns.dmz,
    ]),
    must(procs, 'link inside-dmz', null, 'ip', [
      '-n',
      ns.inside,
      'link',
      'add',
      LINKS.insideToDmz,
      'type',
      'veth',
      'peer',
      'name',
      LINKS.dmzToInside,
      'netns',
      ns.dmz,
    ]),
  ]);
  const batch = (lines: string[]) => `${lines.join('\n')}\n`;
  // Only connected routes, no default route: internet reaches the edge's public face and nothing behind it;
  // inside reaches the edge's traversal face; the edge reaches both and forwards nothing between them.
  await Promise.all([
    must(
      procs,
      'address internet',
      null,
      'ip',
      ['-n', ns.internet, '-batch', '-'],
      batch([
        'link set lo up',
        `address add ${ADDRESSES.internet}/${PREFIX_LENGTH} dev ${LINKS.internetToDmz}`,
        `link set ${LINKS.internetToDmz} up`,
      ]),
    ),
    must(
      procs,
      'address dmz',
      null,
      'ip',
      ['-n', ns.dmz, '-batch', '-'],
      batch([
        'link set lo up',
        `address add ${ADDRESSES.dmzPublic}/${PREFIX_LENGTH} dev ${LINKS.dmzToInternet}`,
        `address add ${ADDRESSES.dmzTraversal}/${PREFIX_LENGTH} dev ${LINKS.dmzToInside}`,
        `link set ${LINKS.dmzToInternet} up`,
        `link set ${LINKS.dmzToInside} up`,
      ]),
    ),
    must(
      procs,
      'address inside',
      null,
      'ip',
      ['-n', ns.inside, '-batch', '-'],
      batch([
        'link set lo up',
        `address add ${ADDRESSES.inside}/${PREFIX_LENGTH} dev ${LINKS.insideToDmz}`,
        `link set ${LINKS.insideToDmz} up`,
      ]),
    ),
    // New namespaces start with forwarding off on most kernels; the edge being a proxy and not a router must
    // not depend on that default. /proc/sys/net shows the writer's namespace; sh is there when procps is not.
    must(procs, 'edge forwards nothing', ns.dmz, 'sh', ['-c', 'echo 0 > /proc/sys/net/ipv4/ip_forward']),
    must(procs, 'firewall', ns.inside, 'nft', ['-f', '-'], FIREWALL_RULESET),
  ]);
}
