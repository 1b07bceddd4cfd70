// (d) rtpengine from Debian, userspace forwarding only (--table=-1), on the relay core, driven over ng.
// Each stream is one call: the generator's rx port is the caller (offer), its tx port the callee (answer).
// SDES keys: in each SDP the a=crypto key is what that party encrypts with, so the answer rtpengine returns to
// the caller carries the key it protects the caller's media with (our rx key), and the callee's answer we send
// carries the generator's tx key.
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { NgClient } from '../ng-client.js';
import { audioSdp, sdpAudioPort, sdpCrypto } from '../sdp.js';
import { pinned, stopChild } from '../child.js';
import type { StreamPlan } from '../loadgen.js';
import type { Mode, Subject } from '../subject.js';

const SETUP_CONCURRENCY = 16;

/** Runs fn(0..count-1) with a bounded number in flight: rtpengine answers in order, one thread. */
async function inPool(count: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) await fn(i);
  };
  await Promise.all(Array.from({ length: SETUP_CONCURRENCY }, worker));
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', resolve);
  });
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export class RtpengineSubject implements Subject {
  readonly name: string;
  #child: ChildProcess | undefined;
  #ng: NgClient | undefined;
  #calls: string[] = [];
  #log = '';

  constructor(
    private readonly mode: Mode,
    private readonly portRange: [number, number],
  ) {
    this.name = `rtpengine ${mode}`;
  }

  get pid(): number {
    if (!this.#child?.pid) throw new Error('rtpengine not started');
    return this.#child.pid;
  }

  async setup(streams: number, gen: { txPort: number; rxPort: number; txKey: Buffer | null }): Promise<StreamPlan> {
    if (this.portRange[1] - this.portRange[0] + 1 < streams * 4)
      throw new Error(`rtpengine needs ${streams * 4} ports, the range has fewer`);
    const ngPort = await freeUdpPort();
    this.#child = pinned(
      'rtpengine',
      [
        '--config-file=none',
        '--foreground',
        '--table=-1',
        '--interface=127.0.0.1',
        `--listen-ng=127.0.0.1:${ngPort}`,
        `--port-min=${this.portRange[0]}`,
        `--port-max=${this.portRange[1]}`,
        '--num-threads=1',
        '--log-stderr',
        '--log-level=4',
        '--timeout=600',
        '--delete-delay=0',
      ],
      'relay',
    );
    this.#child.stderr!.on('data', (d: Buffer) => {
      this.#log = (this.#log + d.toString()).slice(-4000);
    });
    this.#child.stdout!.resume();
    this.#ng = new NgClient(ngPort);
    await this.#waitForPong();

    const plan: StreamPlan = { ports: new Array<number>(streams) };
    if (this.mode !== 'plain') plan.rxKeys = new Array<Buffer>(streams);
    await inPool(streams, (i) => this.#createCall(i, gen, plan));
    return plan;
  }

  async #waitForPong(): Promise<void> {
    const deadline = Date.now() + 10000;
    for (;;) {
      try {
        const r = await this.#ng!.command({ command: 'ping' }, 1000);
        if (r.result === 'pong') return;
      } catch (err) {
        if (Date.now() > deadline || this.#child!.exitCode !== null) {
          throw new Error(`rtpengine did not start: ${(err as Error).message}\n${this.#log}`);
        }
      }
    }
  }

  async #createCall(
    i: number,
    gen: { txPort: number; rxPort: number; txKey: Buffer | null },
    plan: StreamPlan,
  ): Promise<void> {
    const callId = `mra-bench-${process.pid}-${i}`;
    const rxSrtp = this.mode !== 'plain';
    const txSrtp = this.mode === 'srtp-srtp';
    const offer = await this.#ng!.command({
      command: 'offer',
      'call-id': callId,
      'from-tag': 'rx',
      sdp: audioSdp({ port: gen.rxPort, srtp: rxSrtp, key: randomBytes(30) }),
      'transport-protocol': txSrtp ? 'RTP/SAVP' : 'RTP/AVP',
      ICE: 'remove',
      replace: ['origin', 'session-connection'],
    });
    this.#calls.push(callId);
    const offered = String(offer.sdp);
    if (txSrtp && !gen.txKey) throw new Error('srtp-srtp needs the generator key');
    const answer = await this.#ng!.command({
      command: 'answer',
      'call-id': callId,
      'from-tag': 'rx',
      'to-tag': 'tx',
      sdp: audioSdp({
        port: gen.txPort,
        srtp: txSrtp,
        ...(txSrtp ? { key: gen.txKey!, cryptoTag: sdpCrypto(offered).tag } : {}),
      }),
      ICE: 'remove',
      replace: ['origin', 'session-connection'],
    });
    plan.ports[i] = sdpAudioPort(offered);
    if (plan.rxKeys) plan.rxKeys[i] = sdpCrypto(String(answer.sdp)).key;
  }

  async close(): Promise<void> {
    if (this.#ng && this.#child?.exitCode === null) {
      // Deletes release the ports the way a real call ends; a failure here must not hide the results.
      const calls = this.#calls;
      await inPool(calls.length, async (i) => {
        await this.#ng!.command({ command: 'delete', 'call-id': calls[i]!, 'from-tag': 'rx' }).catch(() => undefined);
      });
    }
    this.#calls = [];
    this.#ng?.close();
    if (this.#child) await stopChild(this.#child);
  }

  /** rtpengine's last log lines, for error reports. */
  get log(): string {
    return this.#log;
  }
}
