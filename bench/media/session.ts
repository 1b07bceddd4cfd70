// One relay under test wired to the generator: setup, a correctness check before timing, and recovery when an
// overload left it not forwarding (rtpengine's userspace path stops reading busy ports: we restart it, and count).
import { randomBytes } from 'node:crypto';
import type { LoadGenerator } from './loadgen.js';
import { processMeter, settle, type CpuMeter } from './measure.js';
import type { Mode, Subject } from './subject.js';

export class SubjectSession {
  #subject: Subject;
  /** Times the subject had to be torn down and set up again after it stopped forwarding. */
  restarts = 0;
  readonly txKey: Buffer | null;

  constructor(
    private readonly make: () => Subject,
    readonly mode: Mode,
    private readonly gen: LoadGenerator,
    private readonly streams: number,
    private readonly say: (msg: string) => void,
  ) {
    this.#subject = make();
    this.txKey = mode === 'srtp-srtp' ? randomBytes(30) : null;
  }

  get subject(): Subject {
    return this.#subject;
  }
  /** A rate every stream gets packets at in a second, without loading the relay (10,000 streams: 2 each). */
  get #gentle(): number {
    return Math.max(Math.min(5000, this.streams * 5), this.streams * 2);
  }
  get pid(): number {
    return this.#subject.pid;
  }
  /** The subject's own meter when it has one (the kernel rows), else its process's CPU time. */
  get meter(): CpuMeter {
    return this.#subject.meter ?? processMeter(this.#subject.pid);
  }

  async start(): Promise<void> {
    const plan = await this.#subject.setup(this.streams, {
      txPort: this.gen.txPort,
      rxPort: this.gen.rxPort,
      txKey: this.txKey,
    });
    await this.gen.setStreams(plan);
    await this.gen.setTxKey(this.txKey);
    await this.verify();
    if (this.#subject.warmUp) this.say(`${this.#subject.name}: ${await this.#subject.warmUp(this.gen, this.streams)}`);
  }

  /** Proves every stream is forwarded (and, with SRTP, that what arrives unprotects) before anything is timed. */
  async verify(): Promise<void> {
    let c = await this.gen.run(this.#gentle, 1000, 172, true);
    // One retry: on a shared machine a single slow second is not a broken relay; SRTP failures never pass.
    if (c.authFail === 0 && (c.received < 0.99 * c.sent || c.silentStreams > 0))
      c = await this.gen.run(this.#gentle, 1000, 172, true);
    if (c.received < 0.99 * c.sent || c.authFail > 0 || c.silentStreams > 0) {
      throw new Error(
        `${this.#subject.name} does not forward correctly: sent ${c.sent}, received ${c.received}, ` +
          `SRTP failures ${c.authFail}, silent streams ${c.silentStreams}`,
      );
    }
    this.say(`${this.#subject.name}: verified, ${c.received}/${c.sent} packets forwarded over ${this.streams} streams`);
  }

  /** After a lossy trial: if a gentle rate no longer gets through, start the subject afresh. */
  async recover(): Promise<void> {
    // Queues left by the overload drain first: packets stuck behind them would read as a relay that stopped.
    await settle(this.meter);
    const c = await this.gen.run(this.#gentle, Math.max(400, Math.ceil((2000 * this.streams) / this.#gentle)), 172);
    if (c.received >= 0.99 * c.sent && c.silentStreams === 0) return;
    this.say(
      `${this.#subject.name}: stopped forwarding after overload (${c.received}/${c.sent} at a gentle rate): restarting it`,
    );
    this.restarts++;
    await this.#subject.close();
    this.#subject = this.make();
    await this.start();
  }

  close(): Promise<void> {
    return this.#subject.close();
  }
}
