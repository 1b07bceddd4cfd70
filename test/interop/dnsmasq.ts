// dnsmasq (Debian's dnsmasq-base) as the DNS a remote client asks for the edge's name: a SIP client is configured
// with names, and resolves them with its own DNS client (baresip's libre reads no hosts file), so a test that
// names the edge needs a real DNS server. It answers only the names given and forwards nothing.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { waitFor } from '../support/log-capture.js';
import { freeUdpPort } from '../support/node-files.js';

export const DNSMASQ_BIN = '/usr/sbin/dnsmasq';

export function dnsmasqMissing(): string | null {
  return spawnSync(DNSMASQ_BIN, ['--version']).error ? 'dnsmasq is not installed (apt-get install dnsmasq-base)' : null;
}

export interface Dns {
  /** host:port to give a client as its DNS server. */
  server: string;
  close(): Promise<void>;
}

/** Serves A records `names` (name → IPv4) on `address`, a free UDP/TCP port; nothing else resolves. */
export async function startDns(names: Record<string, string>, address = '127.0.0.1'): Promise<Dns> {
  const port = await freeUdpPort(address);
  const args = [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    '--user=root',
    '--pid-file=',
    `--listen-address=${address}`,
    '--bind-interfaces',
    `--port=${port}`,
    '--log-facility=-',
    ...Object.entries(names).map(([name, ip]) => `--address=/${name}/${ip}`),
  ];
  const proc: ChildProcess = spawn(DNSMASQ_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  await waitFor(
    'dnsmasq started',
    () => {
      if (proc.exitCode !== null) throw new Error(`dnsmasq exited (${proc.exitCode}): ${log}`);
      return /started, version/.test(log);
    },
    5000,
    50,
  );
  return {
    server: `${address}:${port}`,
    async close() {
      if (proc.exitCode !== null) return;
      proc.kill('SIGTERM');
      await once(proc, 'exit');
    },
  };
}
