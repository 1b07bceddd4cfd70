// baresip (Debian's baresip-core) as a third-party SIP user agent: its own SIP stack, TLS and SRTP (libre), no sound
// card. A sine tone of its own frequency is its microphone (ausine); what it decodes is written to a WAV file
// (sndfile), so a test can tell whose audio reached it and that it decrypted. It is driven over ctrl_tcp: netstring
// JSON commands (dial, hangup, hold, resume, sndcode, answermode) and events (REGISTER_OK, CALL_ESTABLISHED,
// CALL_DTMF_START, CALL_CLOSED...).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../support/log-capture.js';
import { freePort } from '../support/node-files.js';

export const BARESIP_BIN = '/usr/bin/baresip';
const MODULES = '/usr/lib/baresip/modules';

/** Why baresip cannot run here (not installed), or null. */
export function baresipMissing(): string | null {
  const r = spawnSync(BARESIP_BIN, ['-h'], { encoding: 'utf8' });
  if (r.error) return 'baresip is not installed (apt-get install baresip-core)';
  return spawnSync('test', ['-f', join(MODULES, 'ctrl_tcp.so')]).status === 0
    ? null
    : 'baresip-core has no ctrl_tcp module';
}

export interface BaresipOptions {
  /** user@domain */
  aor: string;
  password: string;
  /** The outbound proxy as a SIP URI (it becomes the preloaded Route), e.g. sip:edge.example.com:5061;transport=tls. */
  outbound: string;
  transport: 'tls' | 'tcp';
  /** SRTP (SDES) mandatory, as an MRA client runs; plain RTP otherwise (an inside phone). */
  srtp: boolean;
  /** The address baresip binds to (its SIP listener and media). */
  address: string;
  /** The tone it sends, Hz: each party its own, so the receiver can tell whose audio it got. */
  toneHz: number;
  /** Trust anchors for TLS (PEM file). */
  caFile?: string;
  /** host:port of the DNS server that resolves the edge's name. */
  dnsServer?: string;
  /** Picks up every call at once. */
  autoAnswer?: boolean;
}

export interface BaresipEvent {
  type: string;
  class?: string;
  param?: string;
  peeruri?: string;
  direction?: string;
  [k: string]: unknown;
}

/** A decoded WAV's figures: samples, RMS, and the tone's frequency from its zero crossings. */
export interface Audio {
  samples: number;
  rms: number;
  hz: number;
}

export class Baresip {
  readonly events: BaresipEvent[] = [];
  readonly #proc: ChildProcess;
  readonly #ctrl: Socket;
  readonly #dir: string;
  #out = '';
  #pending: Array<(r: { ok: boolean; data: string }) => void> = [];
  #buf = Buffer.alloc(0);

  private constructor(proc: ChildProcess, ctrl: Socket, dir: string, out: () => string) {
    this.#proc = proc;
    this.#ctrl = ctrl;
    this.#dir = dir;
    this.#out = out();
    ctrl.on('data', (d: Buffer) => this.#onData(d));
    ctrl.on('error', () => {});
  }

  static async start(o: BaresipOptions): Promise<Baresip> {
    const dir = mkdtempSync(join(tmpdir(), 'mra-baresip-'));
    const ctrlPort = await freePort('127.0.0.1');
    const config = [
      'poll_method epoll',
      `net_interface ${o.address}`,
      `sip_listen ${o.address}:0`,
      ...(o.caFile ? [`sip_cafile ${o.caFile}`] : []),
      ...(o.dnsServer ? [`dns_server ${o.dnsServer}`] : []),
      // Below every node's media range in the tests (20000-32599) and the kernel's ephemeral ports.
      'rtp_ports 10000-19999',
      // Each stream's RTP packets sent and received, printed when it closes (rtpTotals()).
      'rtp_stats yes',
      // ausine runs at 48 kHz stereo only; baresip resamples to the codec's 8 kHz.
      `audio_source ausine,${o.toneHz}`,
      'audio_player aubridge,out',
      'audio_alert aubridge,alert',
      'ausrc_srate 48000',
      'ausrc_channels 2',
      'auplay_srate 48000',
      'auplay_channels 2',
      `module_path ${MODULES}`,
      'module g711.so',
      'module ausine.so',
      'module aubridge.so',
      'module sndfile.so',
      'module srtp.so',
      'module_app account.so',
      'module_app menu.so',
      'module_app ctrl_tcp.so',
      `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
      `snd_path ${dir}`,
      '',
    ].join('\n');
    writeFileSync(join(dir, 'config'), config);
    const params = [
      `auth_pass=${o.password}`,
      `outbound="${o.outbound}"`,
      'regint=600',
      'audio_codecs=PCMU',
      ...(o.srtp ? ['mediaenc=srtp-mand'] : []),
      ...(o.autoAnswer ? ['answermode=auto'] : []),
    ];
    writeFileSync(join(dir, 'accounts'), `<sip:${o.aor};transport=${o.transport}>;${params.join(';')}\n`);
    const proc = spawn(BARESIP_BIN, ['-f', dir, '-s'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    const ctrl = await waitFor(
      `baresip ${o.aor} control port`,
      () =>
        proc.exitCode !== null
          ? Promise.reject(new Error(`baresip exited (${proc.exitCode}): ${out.slice(-2000)}`))
          : new Promise<Socket | undefined>((resolve) => {
              const s = connect({ host: '127.0.0.1', port: ctrlPort }, () => resolve(s));
              s.once('error', () => resolve(undefined));
            }),
      10_000,
      100,
    );
    const b = new Baresip(proc, ctrl, dir, () => out);
    proc.stdout!.on('data', (d) => (b.#out += d));
    proc.stderr!.on('data', (d) => (b.#out += d));
    return b;
  }

  /** Everything baresip printed (with -s, every SIP message it sent and received). */
  get output(): string {
    return this.#out;
  }

  async command(command: string, params = ''): Promise<{ ok: boolean; data: string }> {
    const body = Buffer.from(JSON.stringify({ command, params, token: String(Date.now()) }));
    const answered = new Promise<{ ok: boolean; data: string }>((r) => this.#pending.push(r));
    this.#ctrl.write(Buffer.concat([Buffer.from(`${body.length}:`), body, Buffer.from(',')]));
    return answered;
  }

  dial(uri: string): Promise<{ ok: boolean; data: string }> {
    return this.command('dial', uri);
  }

  /** Ends the current call: BYE once answered, CANCEL while it rings out, 486 to one ringing in (a rejection). */
  hangup(): Promise<{ ok: boolean; data: string }> {
    return this.command('hangup');
  }

  /** Puts the current call on hold: a re-INVITE with a=sendonly. */
  hold(): Promise<{ ok: boolean; data: string }> {
    return this.command('hold');
  }

  /** Takes it off hold: a re-INVITE with a=sendrecv. */
  resume(): Promise<{ ok: boolean; data: string }> {
    return this.command('resume');
  }

  /** Sends `digits` as RFC 4733 telephone-events in the current call's audio stream. */
  sendDigits(digits: string): Promise<{ ok: boolean; data: string }> {
    return this.command('sndcode', digits);
  }

  /** auto: every call is picked up at once; manual: a call rings until accepted or hung up (rejected). */
  answerMode(mode: 'auto' | 'manual'): Promise<{ ok: boolean; data: string }> {
    return this.command('answermode', mode);
  }

  /** SIP requests with `method` baresip received so far (from its -s trace). */
  receivedRequests(method: string): number {
    return [...this.#out.matchAll(new RegExp(`^${method} sip:`, 'gm'))].length;
  }

  /** Resolves once the account is registered (ctrl_tcp's events of the start are gone before it connects: ask). */
  registered(timeoutMs = 10_000): Promise<string> {
    return waitFor(
      'baresip registered',
      async () => {
        const r = await this.command('reginfo');
        // "> sip:user@domain   ESC[32mOK ESC[;m  Expires 600s": green OK once the registrar said 200.
        return /\x1b\[32mOK\b/.test(r.data) ? r.data : undefined;
      },
      timeoutMs,
      200,
    );
  }

  /** Resolves with the first event (from index `from`) that `match` accepts. */
  waitEvent(what: string, match: (e: BaresipEvent) => boolean, timeoutMs = 10_000, from = 0): Promise<BaresipEvent> {
    return waitFor(`baresip: ${what}`, () => this.events.slice(from).find(match), timeoutMs, 50);
  }

  /**
   * The audio of the calls decoded so far, one entry per call (the WAV sndfile wrote, oldest first). baresip 1.0 drops
   * its decoding filters when a re-INVITE makes the stream other than sendrecv (a hold) and never sets them up again
   * in that call: a held call's recording ends at the hold. rtpTotals() counts what came after.
   */
  decoded(): Audio[] {
    return readdirSync(this.#dir)
      .filter((f) => f.endsWith('-dec.wav'))
      .sort()
      .map((f) => analyse(readFileSync(join(this.#dir, f))));
  }

  /**
   * The audio RTP packets sent and received in the first call that ended after `since` (a length of output), as
   * baresip prints them when the stream closes. A received packet is counted after SRTP authenticated and decrypted
   * it (baresip's srtp drops one that fails) and only while the stream's direction lets it receive.
   */
  rtpTotals(since: number, timeoutMs = 10_000): Promise<{ sent: number; received: number }> {
    return waitFor(
      "baresip's RTP totals of the call",
      () => {
        const m = /audio\s+Transmit:\s+Receive:\s+packets:\s+(\d+)\s+(\d+)/.exec(this.#out.slice(since));
        return m ? { sent: Number(m[1]), received: Number(m[2]) } : undefined;
      },
      timeoutMs,
      50,
    );
  }

  async close(): Promise<void> {
    this.#ctrl.destroy();
    if (this.#proc.exitCode === null) {
      this.#proc.kill('SIGTERM');
      const exited = once(this.#proc, 'exit');
      const timer = setTimeout(() => this.#proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #onData(d: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, d]);
    for (;;) {
      const colon = this.#buf.indexOf(':');
      if (colon < 0) return;
      const len = Number(this.#buf.toString('latin1', 0, colon));
      if (this.#buf.length < colon + 1 + len + 1) return;
      const msg = JSON.parse(this.#buf.toString('utf8', colon + 1, colon + 1 + len)) as Record<string, unknown>;
      this.#buf = this.#buf.subarray(colon + 1 + len + 1);
      if (msg.event) this.events.push(msg as BaresipEvent);
      else if (msg.response) this.#pending.shift()?.({ ok: msg.ok === true, data: String(msg.data ?? '') });
    }
  }
}

/** 16-bit PCM WAV: the samples of its data chunk, their RMS, and the frequency from zero crossings of channel 1. */
export function analyse(wav: Buffer): Audio {
  let off = 12;
  let channels = 1;
  let rate = 8000;
  while (off + 8 <= wav.length) {
    const id = wav.toString('latin1', off, off + 4);
    const size = wav.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      channels = wav.readUInt16LE(off + 10);
      rate = wav.readUInt32LE(off + 12);
    } else if (id === 'data') {
      const end = Math.min(wav.length, off + 8 + size);
      const frames = Math.floor((end - off - 8) / (2 * channels));
      let sum = 0;
      let crossings = 0;
      let prev = 0;
      for (let i = 0; i < frames; i++) {
        const v = wav.readInt16LE(off + 8 + i * 2 * channels);
        sum += v * v;
        if ((prev < 0 && v >= 0) || (prev >= 0 && v < 0)) crossings++;
        prev = v;
      }
      return {
        samples: frames,
        rms: frames ? Math.sqrt(sum / frames) : 0,
        hz: frames ? (crossings / 2) * (rate / frames) : 0,
      };
    }
    off += 8 + size + (size & 1);
  }
  return { samples: 0, rms: 0, hz: 0 };
}
