import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's sipp (package sip-tester) and the scenarios shipped beside this file (not compiled). */
export const SIPP_BIN = '/usr/bin/sipp';
export const SIPP_SCENARIOS = join(process.env.MRA_ROOT ?? process.cwd(), 'test/interop/sipp');

export function sippMissing(): string | null {
  const r = spawnSync(SIPP_BIN, ['-v'], { encoding: 'utf8' });
  return r.error ? 'sipp is not installed (apt-get install sip-tester)' : null;
}

export interface SippRun {
  /** sipp's exit status: 0 when every call succeeded, 1 when some failed, other values for errors. */
  status: number | null;
  successful: number;
  failed: number;
  /** The tail of sipp's error file (unexpected messages, timeouts), for assertion messages. */
  errors: string;
  /** The tail of sipp's message trace (what it sent and received), when it was asked for. */
  messages: string;
}

/** Waits for a sipp run started in `dir` (-stf stats.csv, -error_file errors.log) to end, and reads its statistics. */
async function sippResult(proc: ChildProcess, dir: string): Promise<SippRun> {
  let stderr = '';
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const [status] = (await once(proc, 'exit')) as [number | null];
  const read = (f: string) => {
    try {
      return readFileSync(join(dir, f), 'utf8');
    } catch {
      return '';
    }
  };
  const lines = read('stats.csv').trim().split('\n');
  const header = lines[0]?.split(';') ?? [];
  const last = lines.at(-1)?.split(';') ?? [];
  const column = (name: string) => Number(last[header.indexOf(name)] ?? NaN);
  return {
    status,
    successful: column('SuccessfulCall(C)'),
    failed: column('FailedCall(C)'),
    errors: (read('errors.log') + stderr).slice(-2000),
    messages: read('messages.log').slice(-6000),
  };
}

/**
 * Runs a scenario to completion: `calls` calls at `rate` per second, at most `limit` at once, users from
 * `users` (field0), against `target` over TCP (`mode` t1: one connection for all
 * calls; tn: one per call). Counts come from sipp's own statistics file.
 */
export async function runSipp(opts: {
  scenario: string;
  target: { host: string; port: number };
  /** Addresses of record, one per call in order. */
  users: string[];
  /** The digest username and password every call answers the challenge with. */
  auth: { user: string; password: string };
  domain: string;
  calls: number;
  rate: number;
  limit: number;
  mode: 't1' | 'tn';
  timeoutS?: number;
}): Promise<SippRun> {
  const dir = mkdtempSync(join(tmpdir(), 'mra-sipp-'));
  try {
    const inf = join(dir, 'users.csv');
    writeFileSync(inf, ['SEQUENTIAL', ...opts.users, ''].join('\n'));
    const stats = join(dir, 'stats.csv');
    const args = [
      `${opts.target.host}:${opts.target.port}`,
      '-sf',
      join(SIPP_SCENARIOS, opts.scenario),
      '-t',
      opts.mode,
      // tn opens a socket per call; sipp refuses to start when its default cap (50,000) exceeds ulimit -n.
      '-max_socket',
      String(Math.max(opts.limit * 2, 64)),
      '-i',
      '127.0.0.1',
      '-inf',
      inf,
      '-key',
      'domain',
      opts.domain,
      '-au',
      opts.auth.user,
      '-ap',
      opts.auth.password,
      '-m',
      String(opts.calls),
      '-r',
      String(opts.rate),
      '-l',
      String(opts.limit),
      '-recv_timeout',
      '5000',
      '-timeout',
      `${opts.timeoutS ?? 30}s`,
      '-timeout_error',
      '-nostdin',
      '-trace_stat',
      '-stf',
      stats,
      '-fd',
      '1',
      '-trace_err',
      '-error_file',
      join(dir, 'errors.log'),
    ];
    const proc = spawn(SIPP_BIN, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    return await sippResult(proc, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** How a scenario reaches its far end: as a client (UAC) to `target`, or as a server (UAS) listening on `listen`. */
export type SippRole = { target: { host: string; port: number } } | { listen: number };

export interface SippCall {
  /** Resolves when sipp has exited, with its exit status and statistics. */
  done: Promise<SippRun>;
  /** Ends sipp (SIGKILL) if it still runs. */
  kill(): void;
}

/**
 * One call of `scenario` (a file in SIPP_SCENARIOS), run by `spawn` (a topology host's spawn) at `address` over TCP:
 * each call its own connection as a client (tn: its Contact names that connection's port), one listening socket as a
 * server. Media at `media` (sipp's -mi/-mp), with RTP echo on: what arrives is sent back to its sender, so the far end
 * counts its own packets too. The scenario is copied beside `files` (pcaps it plays, by file name), where sipp looks for
 * them; `keys` fill its [key] fields. sipp's exit status (0: the call succeeded) and its statistics decide.
 */
export function startSippCall(opts: {
  spawn: (cmd: string, args: string[], o: { cwd: string; stdio: Array<'ignore' | 'pipe'> }) => ChildProcess;
  scenario: string;
  role: SippRole;
  address: string;
  media: number;
  files?: Record<string, string>;
  keys?: Record<string, string>;
  service?: string;
  timeoutS?: number;
}): SippCall {
  const dir = mkdtempSync(join(tmpdir(), 'mra-sipp-'));
  copyFileSync(join(SIPP_SCENARIOS, opts.scenario), join(dir, opts.scenario));
  for (const [name, from] of Object.entries(opts.files ?? {})) copyFileSync(from, join(dir, name));
  const args = [
    ...('target' in opts.role ? [`${opts.role.target.host}:${opts.role.target.port}`, '-t', 'tn'] : []),
    ...('listen' in opts.role ? ['-t', 't1', '-p', String(opts.role.listen)] : []),
    '-sf',
    join(dir, opts.scenario),
    '-i',
    opts.address,
    '-mi',
    opts.address,
    '-mp',
    String(opts.media),
    '-rtp_echo',
    '-s',
    opts.service ?? 'sipp',
    ...Object.entries(opts.keys ?? {}).flatMap(([k, v]) => ['-key', k, v]),
    '-m',
    '1',
    '-max_socket',
    '64',
    '-recv_timeout',
    '20000',
    '-timeout',
    `${opts.timeoutS ?? 40}s`,
    '-timeout_error',
    '-nostdin',
    '-trace_stat',
    '-stf',
    join(dir, 'stats.csv'),
    '-fd',
    '1',
    '-trace_err',
    '-error_file',
    join(dir, 'errors.log'),
    '-trace_msg',
    '-message_file',
    join(dir, 'messages.log'),
  ];
  const proc = opts.spawn(SIPP_BIN, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const done = sippResult(proc, dir).finally(() => rmSync(dir, { recursive: true, force: true }));
  return {
    done,
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}
