// The HTTPS plane's refusals and how they go on the wire: a status and a one-line plain-text body naming the
// fault (edge listener, core's tunnel handler and the HTTP/1.1 reader all answer through httpAnswer).
import { MraError } from '../host/index.js';

const CODES: Record<number, string> = {
  400: 'MRA_HTTP_BAD_REQUEST',
  404: 'MRA_HTTP_NOT_FOUND',
  405: 'MRA_HTTP_METHOD_NOT_ALLOWED',
  413: 'MRA_HTTP_TOO_LARGE',
  417: 'MRA_HTTP_EXPECTATION_FAILED',
  431: 'MRA_HTTP_HEADERS_TOO_LARGE',
  501: 'MRA_HTTP_NOT_IMPLEMENTED',
};

/** A request refused with an HTTP status; the message is the body's text. */
export abstract class HttpError extends MraError {
  abstract readonly status: number;

  get code(): string {
    return CODES[this.status] ?? `MRA_HTTP_${this.status}`;
  }
}

/** The answer to a refused request: its status, and the message as the body (one line, newline-ended). */
export function httpAnswer(err: HttpError): { status: number; body: string } {
  return { status: err.status, body: `${err.message}\n` };
}
