// Debian's rtpengine (package rtpengine-daemon), userspace only (--table=-1), on loopback with the same logical
// interfaces as the relay under test: the reference the differential test and bench:relay compare against.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { NgClient } from '../../bench/media/ng-client.js';
import { freeUdpPort } from '../support/node-files.js';
export { freeUdpPort };

export const RTPENGINE_BIN = '/usr/bin/rtpengine';

export function rtpengineMissing(): string | null {
  const r = spawnSync(RTPENGINE_BIN, ['--version'], { encoding: 'utf8' });
  return r.error || r.status !== 0 ? 'rtpengine is not installed (apt-get install rtpengine-daemon)' : null;
}

export interface Rtpengine {
  ngPort: number;
  ng: NgClient;
  child: ChildProcess;
  log(): string;
  close(): Promise<void>;
}

/**
 * Starts rtpengine in the foreground with `interfaces` (name/address), ports `portMin`..`portMax`, and resolves
 * once it answers ping. `spawnWith` lets a bench pin and renice it.
 */
export async function startRtpengine(opts: {
  interfaces: Array<{ name: string; address: string }>;
  portMin: number;
  portMax: number;
  threads?: number;
  spawnWith?: (cmd: string, args: string[]) => ChildProcess;
}): Promise<Rtpengine> {
  const ngPort = await freeUdpPort();
  const args = [
    '--config-file=none',
    '--foreground',
    '--table=-1',
    ...opts.interfaces.map((i) => `--interface=${i.name}/${i.address}`),
    `--listen-ng=127.0.0.1:${ngPort}`,
    `--port-min=${opts.portMin}`,
    `--port-max=${opts.portMax}`,
    `--num-threads=${opts.threads ?? 1}`,
    '--log-stderr',
    '--log-level=4',
    '--timeout=600',
    '--delete-delay=0',
  ];
  const child = opts.spawnWith
    ? opts.spawnWith(RTPENGINE_BIN, args)
    : spawn(RTPENGINE_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-8000)));
  child.stdout?.resume();
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const ng = new NgClient(ngPort);
  const close = async () => {
    process.removeListener('exit', kill);
    ng.close();
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(t);
    }
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      if ((await ng.send({ command: 'ping' }, 500)).result === 'pong') break;
    } catch (err) {
      if (Date.now() > deadline || child.exitCode !== null) {
        await close();
        throw new Error(`rtpengine did not start: ${(err as Error).message}\n${log}`);
      }
    }
  }
  return { ngPort, ng, child, log: () => log, close };
}
