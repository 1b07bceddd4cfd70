// The kernel rows' relays, each in the relay namespace on the relay core: our engine with its kernel path (and,
// for context, without it), and the reflector as the userspace reference, all charged alike (meter.ts).
import { OursSubject } from '../subjects/ours.js';
import { ReflectorSubject } from '../subjects/reflector.js';
import type { LoadGenerator } from '../loadgen.js';
import type { CpuMeter } from '../measure.js';
import type { Placement } from '../child.js';
import type { Mode } from '../subject.js';
import { relayCoreMeter } from './meter.js';

/** Packets each stream sends through user space before timing: more than the engine's kernelAfterPackets (10). */
const WARM_PACKETS = 12;

export class KernelOursSubject extends OursSubject {
  constructor(
    mode: Mode,
    portRange: [number, number],
    placement: Placement,
    private readonly core: number,
  ) {
    super(mode, portRange, placement);
  }

  get meter(): CpuMeter {
    return relayCoreMeter(this.pids, this.core, this.placement!.kernelPath === 'auto');
  }

  /** With the kernel path: sends every stream past its first packets until each is in the kernel. */
  async warmUp(gen: LoadGenerator, streams: number): Promise<string> {
    if (this.placement!.kernelPath !== 'auto') return 'user space only (kernel path off)';
    const rate = Math.min(60000, streams * WARM_PACKETS);
    let w = await this.workerStats();
    for (let round = 0; round < 3 && w.kernelInstalls - w.kernelRemovals < streams; round++) {
      await gen.run(rate, Math.ceil((streams * WARM_PACKETS * 1000) / rate) + 200, 172);
      w = await this.workerStats();
    }
    const inKernel = w.kernelInstalls - w.kernelRemovals;
    if (inKernel < streams)
      throw new Error(`only ${inKernel} of ${streams} streams went into the kernel (refusals ${w.kernelRefusals})`);
    return `all ${streams} streams in the kernel after ${w.packetsIn} packets through user space`;
  }
}

export class NetnsReflectorSubject extends ReflectorSubject {
  constructor(
    binary: string,
    placement: Placement,
    private readonly core: number,
  ) {
    super(binary, placement);
  }

  get meter(): CpuMeter {
    return relayCoreMeter([this.pid], this.core, false);
  }
}
