import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/node-files.js';

/** The Debian binary and the cfg shipped beside this file (test/interop/kamailio/kamailio.cfg, not compiled). */
export const KAMAILIO_BIN = '/usr/sbin/kamailio';
export const KAMAILIO_CFG = join(process.env.MRA_ROOT ?? process.cwd(), 'test/interop/kamailio/kamailio.cfg');
/** The password every user has when Kamailio runs with auth (the cfg's AUTH_PASSWORD define). */
export const KAMAILIO_PASSWORD = 'interop-secret';

export interface KamailioOptions {
  address?: string;
  /** Digest-challenge REGISTERs (pv_www_authenticate against KAMAILIO_PASSWORD). */
  auth?: boolean;
  /** Adds a TLS listener with this certificate (PEM text). */
  tls?: { cert: string; key: string };
  /**
   * Worker processes for TCP/TLS (Kamailio's -N). Default 2, but 1 with TLS: Debian's 5.6.3 with OpenSSL 3
   * corrupts its shared memory when two TLS workers handshake at once (kamailio issue #3791; the fix,
   * tls_threads_mode, came in 5.7), which shows up as connections reset under a burst of clients.
   */
  tcpChildren?: number;
  /** Shared memory in MB: TLS connections cost Kamailio tens of KB each. */
  shmMb?: number;
  /** Another cfg than kamailio.cfg (test/interop/kamailio/relay.cfg: calls through an rtpengine relay). */
  cfg?: string;
  /** Also listen on UDP (the port comes back as udpPort). */
  udp?: boolean;
  /** `-A NAME=VALUE` defines for the cfg (strings are quoted). */
  defines?: Record<string, string>;
}

export interface Kamailio {
  address: string;
  tcpPort: number;
  tlsPort: number | null;
  udpPort: number | null;
  pid: number;
  /** Everything Kamailio wrote to stderr so far (its log). */
  log(): string;
  close(): Promise<void>;
}

/** Whether Debian's kamailio (and, for TLS, kamailio-tls-modules) is installed; a reason string when not. */
export function kamailioMissing(tls = false): string | null {
  const r = spawnSync(KAMAILIO_BIN, ['-v'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'kamailio is not installed (apt-get install kamailio)';
  if (tls && spawnSync('test', ['-f', '/usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so']).status !== 0) {
    return 'kamailio-tls-modules is not installed';
  }
  return null;
}

async function canConnect(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/**
 * Runs Kamailio in the foreground (-DD -E) on loopback with its own runtime directory and free ports, and
 * resolves once its listeners accept connections. It dies with close(), or with the process that started it.
 */
export async function startKamailio(opts: KamailioOptions = {}): Promise<Kamailio> {
  const address = opts.address ?? '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'mra-kamailio-'));
  const tcpPort = await freePort(address);
  const tlsPort = opts.tls ? await freePort(address) : null;
  const udpPort = opts.udp ? await freePort(address) : null;
  const args = ['-f', opts.cfg ?? KAMAILIO_CFG, '-DD', '-E', '-Y', dir, '-P', join(dir, 'kamailio.pid'), '-w', dir];
  args.push(
    '-m',
    String(opts.shmMb ?? 256),
    '-M',
    '16',
    '-N',
    String(opts.tcpChildren ?? (opts.tls ? 1 : 2)),
    '-n',
    '1',
  );
  args.push('-l', `tcp:${address}:${tcpPort}`);
  if (udpPort) args.push('-l', `udp:${address}:${udpPort}`);
  for (const [name, value] of Object.entries(opts.defines ?? {})) args.push('-A', `${name}="${value}"`);
  if (opts.auth) args.push('-A', 'WITH_AUTH');
  if (opts.tls && tlsPort) {
    writeFileSync(join(dir, 'cert.pem'), opts.tls.cert);
    writeFileSync(join(dir, 'key.pem'), opts.tls.key, { mode: 0o600 });
    const tlsCfg = join(dir, 'tls.cfg');
    writeFileSync(
      tlsCfg,
      [
        '[server:default]',
        'method = TLSv1.2+',
        'verify_certificate = no',
        'require_certificate = no',
        `certificate = ${join(dir, 'cert.pem')}`,
        `private_key = ${join(dir, 'key.pem')}`,
        '[client:default]',
        'method = TLSv1.2+',
        'verify_certificate = no',
        '',
      ].join('\n'),
    );
    args.push('-A', 'WITH_TLS', '-A', `TLS_CONFIG="${tlsCfg}"`, '-l', `tls:${address}:${tlsPort}`);
  }
  // UDP stays off unless asked for (the relay cfg's calls).
  // Its own process group, so one signal reaches the main process and every worker it forked.
  const proc: ChildProcess = spawn(KAMAILIO_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const group = proc.pid!;
  // When this process dies by a signal (a test-runner timeout, Ctrl-C) no 'exit' handler runs: a watchdog
  // outside it kills the group then, so no Kamailio outlives the test or bench that started it.
  const watchdog = spawn(
    'sh',
    ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 -${group} 2>/dev/null`],
    {
      stdio: 'ignore',
      detached: true,
    },
  );
  watchdog.unref();
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-group, signal);
    } catch {
      // already gone
    }
  };
  let log = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => {
    // Keep the tail only: a bench run logs for minutes.
    log = (log + d).slice(-200_000);
  });
  const killOnExit = () => killGroup('SIGKILL');
  process.once('exit', killOnExit);
  let exited = false;
  proc.once('exit', () => (exited = true));

  const close = async () => {
    process.removeListener('exit', killOnExit);
    if (!exited) {
      const gone = once(proc, 'exit').catch(() => undefined);
      killGroup('SIGTERM');
      const timer = setTimeout(() => killGroup('SIGKILL'), 3000);
      await gone;
      clearTimeout(timer);
    }
    watchdog.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  const end = Date.now() + 15_000;
  for (;;) {
    if (exited) {
      await close();
      throw new Error(`kamailio exited during startup:\n${log.slice(-4000)}`);
    }
    const up = (await canConnect(address, tcpPort)) && (tlsPort === null || (await canConnect(address, tlsPort)));
    if (up) break;
    if (Date.now() > end) {
      await close();
      throw new Error(`kamailio did not listen within 15 s:\n${log.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { address, tcpPort, tlsPort, udpPort, pid: proc.pid!, log: () => log, close };
}
