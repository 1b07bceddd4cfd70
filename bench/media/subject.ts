// What every relay under test offers the bench: a process to charge CPU time to, and N streams to send into.
import type { LoadGenerator, StreamPlan } from './loadgen.js';
import type { CpuMeter } from './measure.js';

/** plain: RTP in, RTP out; rtp-srtp: RTP in, SRTP out; srtp-srtp: SRTP in, re-keyed SRTP out. */
export type Mode = 'plain' | 'rtp-srtp' | 'srtp-srtp' | 'edge';

export interface Subject {
  readonly name: string;
  /** The process whose CPU time counts as the relay's. */
  readonly pid: number;
  /** How to charge the relay's CPU when its process's time is not all of it (the kernel rows). */
  readonly meter?: CpuMeter;
  /** After setup and verification, before timing: e.g. let every stream go into the kernel. Says what it did. */
  warmUp?(gen: LoadGenerator, streams: number): Promise<string>;
  /** Creates the relays for `streams` streams from the generator's tx port to its rx port. */
  setup(streams: number, gen: { txPort: number; rxPort: number; txKey: Buffer | null }): Promise<StreamPlan>;
  close(): Promise<void>;
}
