import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { ProcessSet, type RunResult } from './processes.js';
import {
  ADDRESSES,
  TopologyUnavailable,
  buildNamespaces,
  deleteNamespaces,
  deleteNamespacesSync,
  namespaceNames,
  staleNamespaces,
} from './netns.js';

export { ADDRESSES, FIREWALL_TABLE } from './netns.js';
export type { RunResult } from './processes.js';

export type HostName = 'internet' | 'dmz' | 'inside';

export interface Host {
  name: HostName;
  /** The network namespace, or null for the loopback fallback (the test's own namespace). */
  ns: string | null;
  /** Its main IP: for dmz, the public face (what internet clients dial). */
  address: string;
}

/** Three hosts a test can place processes on; either real namespaces or loopback aliases. */
export interface Network {
  internet: Host;
  dmz: Host;
  inside: Host;
  /** True only for the namespace topology: dmz cannot open connections into inside. */
  firewall: boolean;
  /** The dmz address internet clients dial (the edge's public face). */
  dmzPublicAddress: string;
  /** The dmz address inside dials (the edge's traversal face, where core connects). */
  dmzTraversalAddress: string;
  /** Runs `cmd` on `host` (`ip netns exec <ns> cmd ...`). The process is ended by `destroy()`. */
  spawn(host: Host, cmd: string, args: string[], opts?: SpawnOptions): ChildProcess;
  /** Runs this Node (process.execPath) on `host`, for code that must live in a namespace. */
  spawnNode(host: Host, args: string[], opts?: SpawnOptions): ChildProcess;
  /** Runs a command on `host` to completion (killed after 10 s); never rejects for a non-zero exit. */
  run(host: Host, cmd: string, args: string[], input?: string): Promise<RunResult>;
  /** Ends every process it spawned and removes what it created. Idempotent. */
  destroy(): Promise<void>;
}

export interface Topology extends Network {
  firewall: true;
}

/** Namespaces not yet deleted by `destroy()`, for the exit hook. */
const live = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => deleteNamespacesSync([...live]));
}

function makeNetwork(
  hosts: Record<HostName, Host>,
  firewall: boolean,
  procs: ProcessSet,
  cleanup: () => Promise<void>,
): Network {
  const own = new Set(Object.values(hosts));
  let destroyed: Promise<void> | null = null;
  const check = (host: Host, what: string) => {
    if (destroyed) throw new Error(`${what}: the topology has been destroyed`);
    if (!own.has(host)) throw new TypeError(`${what}: ${JSON.stringify(host)} is not a host of this topology`);
  };
  const spawn = (host: Host, cmd: string, args: string[], opts?: SpawnOptions) => {
    check(host, `spawn ${cmd}`);
    return procs.spawn(host.ns, cmd, args, opts);
  };
  return {
    ...hosts,
    firewall,
    dmzPublicAddress: firewall ? ADDRESSES.dmzPublic : hosts.dmz.address,
    dmzTraversalAddress: firewall ? ADDRESSES.dmzTraversal : hosts.dmz.address,
    spawn,
    spawnNode: (host, args, opts) => spawn(host, process.execPath, args, opts),
    run: async (host, cmd, args, input) => {
      check(host, `run ${cmd}`);
      return procs.run(host.ns, cmd, args, input);
    },
    destroy: () => {
      destroyed ??= procs.killAll().then(cleanup);
      return destroyed;
    },
  };
}

async function unavailable(procs: ProcessSet): Promise<string | null> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0)
    return 'network namespaces need root (run the tests as root for the three-host topology)';
  for (const [cmd, flag, pkg] of [
    ['ip', '-V', 'iproute2'],
    ['nft', '--version', 'nftables'],
  ] as const) {
    const r = await procs.run(null, cmd, [flag]).catch(() => null);
    if (r === null || r.code !== 0) return `${cmd} is not installed (Debian package ${pkg})`;
  }
  return null;
}

/**
 * Three namespaces (internet, dmz, inside) linked by veth pairs, with the DMZ firewall in inside. Names carry
 * the prefix (one per test file) and this process id, so files run side by side; namespaces a killed run of
 * the same prefix left behind are removed first. Returns `{ skip }` when this machine cannot make namespaces.
 */
export async function createTopology(prefix: string): Promise<Topology | { skip: string }> {
  const names = namespaceNames(prefix);
  const procs = new ProcessSet();
  const reason = await unavailable(procs);
  if (reason) return { skip: reason };

  const listed = await procs.run(null, 'ip', ['netns', 'list']);
  await deleteNamespaces(procs, staleNamespaces(prefix, listed.stdout));

  const all = Object.values(names);
  all.forEach((ns) => live.add(ns));
  installExitHook();
  const cleanup = async () => {
    await deleteNamespaces(procs, all);
    all.forEach((ns) => live.delete(ns));
  };
  try {
    await buildNamespaces(procs, names);
  } catch (err) {
    await cleanup();
    if (err instanceof TopologyUnavailable) return { skip: `cannot build the namespace topology here: ${err.message}` };
    throw err;
  }
  const hosts: Record<HostName, Host> = {
    internet: { name: 'internet', ns: names.internet, address: ADDRESSES.internet },
    dmz: { name: 'dmz', ns: names.dmz, address: ADDRESSES.dmzPublic },
    inside: { name: 'inside', ns: names.inside, address: ADDRESSES.inside },
  };
  return makeNetwork(hosts, true, procs, cleanup) as Topology;
}

/** Loopback aliases Linux answers on without configuration (all of 127/8 is local). */
export const LOOPBACK_ADDRESSES: Record<HostName, string> = {
  internet: '127.0.1.1',
  dmz: '127.0.2.1',
  inside: '127.0.3.1',
};

/**
 * Three "hosts" on loopback aliases for tests that need distinct addresses but not the firewall, and for
 * machines where namespaces cannot be made. Processes run in the test's own namespace.
 */
export function loopbackHosts(): Network {
  const procs = new ProcessSet();
  const host = (name: HostName): Host => ({ name, ns: null, address: LOOPBACK_ADDRESSES[name] });
  return makeNetwork(
    { internet: host('internet'), dmz: host('dmz'), inside: host('inside') },
    false,
    procs,
    async () => {},
  );
}

/** The namespace topology when this machine can make it, otherwise loopback hosts and the reason why. */
export async function createNetwork(prefix: string): Promise<{ network: Network; fallback: string | null }> {
  const t = await createTopology(prefix);
  return 'skip' in t ? { network: loopbackHosts(), fallback: t.skip } : { network: t, fallback: null };
}
