import { MraError } from '../host/index.js';

/** The TURN server could not start as configured (no address to advertise, no secret, its port taken, ...). */
export class TurnError extends MraError {
  readonly code = 'MRA_TURN_START';
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'TurnError';
  }
}
