// Runs wrk (Debian) against one URL and reads its figures: requests/s, latency percentiles, errors.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuSeconds } from '../media/cpu.js';

export interface WrkFigures {
  /** wrk's own CPU (user + system) during the run, in seconds: the load generator shares the machine. */
  wrkCpuS: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  socketErrors: number;
  bytesPerRequest: number;
}

const UNIT: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };
function ms(text: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text ?? '');
  return m ? Number(m[1]) * UNIT[m[2]!]! : NaN;
}
const SIZE: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

export function parseWrk(out: string): WrkFigures {
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const read = /requests in [\d.]+\w+, ([\d.]+)(B|KB|MB|GB) read/.exec(out);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    wrkCpuS: NaN,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50Ms: ms(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
    p99Ms: ms(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
    requests,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    bytesPerRequest: read ? (Number(read[1]) * SIZE[read[2]!]!) / requests : NaN,
  };
}

export interface WrkOptions {
  threads: number;
  connections: number;
  seconds: number;
  headers: Record<string, string>;
  nice?: number;
  /**
   * Each connection waits about this long after an answer before its next request (wrk's Lua delay(), drawn
   * evenly from half to one and a half times it): the rate is then about connections ÷ (pause + latency), a load
   * the server carries rather than all it can take. Drawn, not fixed: with one fixed pause, the connections a
   * stall held back answer together and come back together a pause later, again and again, so the round
   * measures bursts it made itself, growing with its length. Independent clients do not keep such step.
   */
  pauseMs?: number;
  /** With pauseMs: how long each connection waits before its first request (the handshakes of all of them settle). */
  settleMs?: number;
  /** Where the Lua script for pauseMs is written. */
  scriptDir?: string;
}

/** wrk -t threads -c connections for seconds, with headers; rejects when wrk fails or prints no rate. */
export function runWrk(url: string, o: WrkOptions): Promise<{ figures: WrkFigures; output: string }> {
  const args = [
    '-t',
    String(o.threads),
    '-c',
    String(o.connections),
    '-d',
    `${o.seconds}s`,
    '--latency',
    '--timeout',
    '5s',
  ];
  if (o.pauseMs !== undefined) {
    const script = join(o.scriptDir ?? tmpdir(), `wrk-pause-${o.pauseMs}.lua`);
    // Each thread's first delay() calls are its connections' first requests: those wait until every connection's TLS
    // handshake is done (settle), spread over one pause, so the latencies are of the steady state, not of wrk
    // opening all its connections at once.
    const perThread = Math.ceil(o.connections / o.threads);
    const settle = o.settleMs ?? 0;
    writeFileSync(
      script,
      [
        'local firsts = 0',
        'function delay()',
        '  firsts = firsts + 1',
        `  if firsts <= ${perThread} then return ${settle} + math.random(0, ${Math.round(o.pauseMs)}) end`,
        `  return math.random(${Math.round(o.pauseMs / 2)}, ${Math.round((o.pauseMs * 3) / 2)})`,
        'end',
        '',
      ].join('\n'),
    );
    args.push('-s', script);
  }
  for (const [k, v] of Object.entries(o.headers)) args.push('-H', `${k}: ${v}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    // nice execs wrk: the pid sampled below is wrk's.
    const p = spawn('nice', ['-n', String(o.nice ?? 0), 'wrk', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    // /proc/<pid> is gone once wrk has exited, so its CPU is sampled while it runs (up to the last quarter second
    // is missed: a lower bound).
    let wrkCpuS = 0;
    const sample = setInterval(() => {
      try {
        wrkCpuS = cpuSeconds(p.pid!);
      } catch {
        // exited between two samples
      }
    }, 250);
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => {
      clearInterval(sample);
      const figures = { ...parseWrk(output), wrkCpuS };
      if (code !== 0 || !Number.isFinite(figures.rps)) reject(new Error(`wrk exited ${code}:\n${output}`));
      else resolve({ figures, output });
    });
  });
}
