// tshark (Debian's) as the wire's witness: a capture on the loopback (where the lab's hosts are), then every UDP
// packet read back as RTP with its header fields and payload, so a test can say what really went where.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../support/log-capture.js';

/** Why tshark cannot capture here (not installed, not allowed to open the loopback), or null. */
export function tsharkMissing(): string | null {
  const r = spawnSync('tshark', ['-D'], { encoding: 'utf8' });
  if (r.error) return 'tshark is not installed (apt-get install tshark)';
  return /\blo\b/.test(r.stdout)
    ? null
    : `tshark cannot capture on the loopback (it needs root or CAP_NET_RAW): ${r.stderr.trim().split('\n').pop()}`;
}

/** One UDP packet decoded as RTP (a packet that is not RTP version 2 has version !== 2). */
export interface RtpPacket {
  src: string;
  dst: string;
  version: number;
  payloadType: number;
  seq: number;
  timestamp: number;
  ssrc: number;
  /** The RTP payload as hex: with SRTP this is the ciphertext followed by the authentication tag. */
  payload: string;
}

export class Capture {
  readonly #proc: ChildProcess;
  readonly #dir: string;
  readonly #file: string;

  private constructor(proc: ChildProcess, dir: string, file: string) {
    this.#proc = proc;
    this.#dir = dir;
    this.#file = file;
  }

  /** Captures what `filter` (a capture filter, as tcpdump's) selects on the loopback; resolves once it runs. */
  static async start(filter: string): Promise<Capture> {
    const dir = mkdtempSync(join(tmpdir(), 'mra-tshark-'));
    const file = join(dir, 'capture.pcapng');
    const proc = spawn('tshark', ['-i', 'lo', '-n', '-q', '-f', filter, '-w', file], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    proc.stderr!.on('data', (d) => (err += d));
    await waitFor(
      'tshark capturing',
      () => {
        if (proc.exitCode !== null) throw new Error(`tshark exited (${proc.exitCode}): ${err.trim()}`);
        return /Capturing on/.test(err);
      },
      10_000,
      50,
    );
    return new Capture(proc, dir, file);
  }

  /** Stops the capture and reads every UDP packet in it as RTP (the heuristic decoder, version 2 only). */
  async stop(): Promise<RtpPacket[]> {
    if (this.#proc.exitCode === null) {
      const exited = once(this.#proc, 'exit');
      this.#proc.kill('SIGINT');
      await exited;
    }
    const fields = [
      'ip.src',
      'udp.srcport',
      'ip.dst',
      'udp.dstport',
      'rtp.version',
      'rtp.p_type',
      'rtp.seq',
      'rtp.timestamp',
      'rtp.ssrc',
      'rtp.payload',
    ];
    const r = spawnSync(
      'tshark',
      [
        '-r',
        this.#file,
        '-n',
        '-o',
        'rtp.heuristic_rtp:TRUE',
        '-Y',
        'rtp',
        '-T',
        'fields',
        '-E',
        'separator=\t',
        ...fields.flatMap((f) => ['-e', f]),
      ],
      { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
    );
    rmSync(this.#dir, { recursive: true, force: true });
    if (r.status !== 0) throw new Error(`tshark -r: ${r.stderr}`);
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [src, sport, dst, dport, version, pt, seq, ts, ssrc, payload] = line.split('\t');
        return {
          src: `${src}:${sport}`,
          dst: `${dst}:${dport}`,
          version: Number(version),
          payloadType: Number(pt),
          seq: Number(seq),
          timestamp: Number(ts),
          ssrc: Number(ssrc),
          payload: (payload ?? '').replace(/:/g, ''),
        };
      });
  }
}
