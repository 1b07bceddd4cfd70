// What the edge answers, from a request's raw bytes, when the request waited too long in its queue under
// sustained overload (sip.max_queue_wait_s; the client listener decides when, docs/sip.md).
import { rawAnswer, reasonHeader } from './hop.js';

const IN_DIALOG = /^(?:to|t)[ \t]*:[^\r\n]*;[ \t]*tag[ \t]*=/im;
const RETRY_AFTER: [string, string] = ['Retry-After', '5'];

/**
 * The 503 with Retry-After for a request that waited too long, or null when it must be handled anyway: a response,
 * an ACK, or a request inside a dialog (a BYE or re-INVITE of a call already carried). Shedding is for new work,
 * as SIP overload control has it (RFC 7339): what keeps existing calls right goes first.
 */
export function overloadAnswer(data: Buffer): Buffer | null {
  const end = data.indexOf('\r\n\r\n');
  const head = data.toString('latin1', 0, end < 0 ? Math.min(data.length, 16384) : end);
  if (head.startsWith('ACK ') || IN_DIALOG.test(head)) return null;
  return rawAnswer(data, 503, 'Service Unavailable', [RETRY_AFTER, reasonHeader(503, 'Edge overloaded')]);
}
