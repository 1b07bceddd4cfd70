// One error type for the whole SIP layer: it carries the status and reason the caller should answer with, so the
// transport or proxy never has to guess how to turn a fault into a response (RFC 3261 §8.2, §16.3): this is
// SIP's one mapping of its errors to the wire. Its stable code follows the status.
import { MraError } from '../../host/index.js';

const MARK = Symbol.for('mra-edge.sip.SipError');

export type SipErrorStatus = 400 | 416 | 420 | 481 | 483 | 505 | 513;

const CODES: Record<SipErrorStatus, string> = {
  400: 'MRA_SIP_BAD_REQUEST',
  416: 'MRA_SIP_UNSUPPORTED_URI_SCHEME',
  420: 'MRA_SIP_BAD_EXTENSION',
  481: 'MRA_SIP_NO_TRANSACTION',
  483: 'MRA_SIP_TOO_MANY_HOPS',
  505: 'MRA_SIP_VERSION_NOT_SUPPORTED',
  513: 'MRA_SIP_MESSAGE_TOO_LARGE',
};

export class SipError extends MraError {
  readonly status: SipErrorStatus;
  /** Reason phrase for the response line; names the fault (e.g. "Bad Request - Malformed Via"). */
  readonly reason: string;

  constructor(status: SipErrorStatus, reason: string) {
    super(`${status} ${reason}`);
    this.name = 'SipError';
    this.status = status;
    this.reason = reason;
  }

  get code(): string {
    return CODES[this.status];
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
