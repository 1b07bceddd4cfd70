// The two TURN servers under test, each in a process of its own pinned to the relay core: ours (ours-host.ts) and
// coturn (Debian's turnserver with one relay thread, the same realm, secret and peer rules).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { METHOD, TurnClient } from '../../test/support/turn-client.js';
import { pinned } from '../media/child.js';
import { LineChild } from './line-child.js';

export const SECRET = 'bench-turn-secret-0123456789';

export interface TurnSubject {
  readonly name: 'ours' | 'coturn';
  readonly label: string;
  readonly pid: number;
  readonly port: number;
  /** Resident memory of the server process, bytes. */
  rss(): number;
  close(): Promise<void>;
}

export function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

const host = join(dirname(fileURLToPath(import.meta.url)), 'ours-host.js');

export interface OursStats {
  allocations: number;
  relayPorts: number;
  portPairsInUse: number;
  toPeerPackets: number;
  toClientPackets: number;
}

export class OursTurn implements TurnSubject {
  readonly name = 'ours';
  readonly label: string;
  private constructor(
    private readonly line: LineChild,
    readonly port: number,
    io: string,
  ) {
    this.label = `ours (one native TURN thread, ${io})`;
  }

  static async start(port: number, range: [number, number], maxAllocations: number): Promise<OursTurn> {
    const args = { port, portMin: range[0], portMax: range[1], secret: SECRET, maxAllocations };
    const line = new LineChild(pinned(process.execPath, [host, JSON.stringify(args)], 'relay'), 'our TURN host');
    const hello = await line.hello<{ port: number; io: string }>();
    return new OursTurn(line, hello.port, hello.io);
  }

  get pid(): number {
    return this.line.pid;
  }
  rss(): number {
    return rssOf(this.pid);
  }
  stats(): Promise<OursStats> {
    return this.line.ask<OursStats>('stats');
  }
  close(): Promise<void> {
    return this.line.close();
  }
}

export class Coturn implements TurnSubject {
  readonly name = 'coturn';
  readonly label: string;
  private constructor(
    private readonly line: LineChild,
    readonly port: number,
    private readonly dir: string,
    version: string,
  ) {
    this.label = `coturn ${version} (one relay thread)`;
  }

  static async start(port: number, range: [number, number], maxAllocations: number): Promise<Coturn> {
    const dir = mkdtempSync(join(tmpdir(), 'mra-bench-coturn-'));
    const args = [
      '-n',
      '--no-cli',
      '--no-tls',
      '--no-dtls',
      '--no-rfc5780',
      '--no-stdout-log',
      `--log-file=${join(dir, 'turn.log')}`,
      '--simple-log',
      `--pidfile=${join(dir, 'turnserver.pid')}`,
      `--db=${join(dir, 'turndb')}`,
      '--listening-ip=127.0.0.1',
      `--listening-port=${port}`,
      '--relay-ip=127.0.0.1',
      `--min-port=${range[0]}`,
      `--max-port=${range[1]}`,
      '--use-auth-secret',
      `--static-auth-secret=${SECRET}`,
      '--realm=bench.example.com',
      '--allow-loopback-peers',
      '--relay-threads=1',
      `--total-quota=${maxAllocations}`,
    ];
    const child = pinned('turnserver', args, 'relay');
    const c = new Coturn(new LineChild(child, 'coturn'), port, dir, coturnVersion());
    await waitListening(port, child.pid!);
    return c;
  }

  get pid(): number {
    return this.line.pid;
  }
  rss(): number {
    return rssOf(this.pid);
  }
  async close(): Promise<void> {
    this.line.child.kill('SIGTERM');
    await this.line.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function coturnVersion(): string {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax, not a template
  const r = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'coturn'], { encoding: 'utf8' });
  return r.status === 0 ? `${r.stdout.trim()}, Debian` : 'unknown version';
}

/** coturn says nothing when it is ready: it is when it answers a STUN Binding (its threads start after the bind). */
async function waitListening(port: number, pid: number): Promise<void> {
  const probe = await TurnClient.open({ address: '127.0.0.1', port });
  try {
    for (const end = Date.now() + 30_000; Date.now() < end; ) {
      if (await probe.transact(probe.build(METHOD.binding, []), 250)) return;
      try {
        process.kill(pid, 0);
      } catch {
        throw new Error('coturn exited at start');
      }
    }
    throw new Error(`coturn did not answer on 127.0.0.1:${port}`);
  } finally {
    probe.close();
  }
}
