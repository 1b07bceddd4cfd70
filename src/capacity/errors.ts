import { MraError } from '../host/index.js';

/**
 * What the capacity command refuses or cannot do, in words an operator can act on: an unknown size, a CPU share the
 * machine does not have, no cgroup to hold a node to its share, a generator that does not build.
 */
export class CapacityError extends MraError {
  readonly code = 'MRA_CAPACITY';
  constructor(message: string) {
    super(message);
    this.name = 'CapacityError';
  }
}
