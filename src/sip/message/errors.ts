// One error type for the whole SIP layer: it carries the status the caller should answer with, so the
// transport or proxy never has to guess how to turn a fault into a response (RFC 3261 §8.2, §16.3).

const MARK = Symbol.for('mra-edge.sip.SipError');

export type SipErrorStatus = 400 | 416 | 420 | 481 | 483 | 505 | 513;

export class SipError extends Error {
  readonly status: SipErrorStatus;
  /** Reason phrase for the response line; names the fault (e.g. "Bad Request - Malformed Via"). */
  readonly reason: string;

  constructor(status: SipErrorStatus, reason: string) {
    super(`${status} ${reason}`);
    this.name = 'SipError';
    this.status = status;
    this.reason = reason;
  }

  // Works across duplicated module instances, where instanceof would not (undici's pattern).
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARK] === true;
  }

  get [MARK](): true {
    return true;
  }
}

export function badRequest(fault: string): SipError {
  return new SipError(400, `Bad Request - ${fault}`);
}

export function tooLarge(what: string): SipError {
  return new SipError(513, `Message Too Large - ${what}`);
}
