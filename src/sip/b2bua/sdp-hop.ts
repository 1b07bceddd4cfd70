// Where SDP meets a hop: which messages carry an offer or an answer, and how a rewrite's failure is answered.
import type { SipMessage, SipRequest, SipResponse } from '../message/index.js';
import { SdpError, SdpSyntaxError } from '../../sdp/index.js';

/** A non-empty application/sdp body (a multipart body or none passes untouched: no relay for it). */
export function hasSdp(msg: SipMessage): boolean {
  return msg.body.length > 0 && (msg.header('content-type') ?? '').trim().toLowerCase().startsWith('application/sdp');
}

/** Requests whose SDP is an offer (RFC 3264; RFC 3311 UPDATE; RFC 3262 PRACK, unless it answers one). */
const OFFERING = new Set(['INVITE', 'UPDATE', 'PRACK']);

/** An INVITE (initial or re-INVITE), UPDATE or PRACK with SDP. */
export const carriesOffer = (req: SipRequest): boolean => OFFERING.has(req.method) && hasSdp(req);

/** The method of the request a response answers, from its CSeq. */
export const answeredMethod = (res: SipResponse): string => (res.header('cseq') ?? '').trim().split(/\s+/).pop() ?? '';

/**
 * An answer's carrier: an INVITE's 18x or 2xx with SDP (RFC 3264; 3261 §13.2.1), or the 2xx of an UPDATE or PRACK
 * whose request carried the offer (RFC 3311, RFC 3262).
 */
export function carriesAnswer(res: SipResponse): boolean {
  if (res.status < 180 || res.status >= 300 || !hasSdp(res)) return false;
  const method = answeredMethod(res);
  return method === 'INVITE' || (res.status >= 200 && (method === 'UPDATE' || method === 'PRACK'));
}

/** What a hop answers for an offer it will not pass on: the status, the Reason text, and more header fields. */
export interface OfferFault {
  status: number;
  text: string;
  headers?: Array<[string, string]>;
}

/**
 * `Warning: 399 <agent> "<text>"` (RFC 3261 §20.43): what a client shows its user for a refused session
 * description. 399 is the miscellaneous code; the text says what (the line, the missing key).
 */
export function warningHeader(agent: string, text: string): [string, string] {
  return ['Warning', `399 ${agent} "${text.replace(/["\\\r\n]/g, '')}"`];
}

/**
 * A refusal to send for an offer that failed: 400 for SDP that does not parse (the line named), 488 for SDP the call
 * cannot use, both with a Warning from `agent` saying why; 503 when the relay cannot open.
 */
export function offerFault(err: unknown, agent: string): OfferFault {
  if (err instanceof SdpSyntaxError)
    return { status: 400, text: `Malformed SDP: ${err.message}`, headers: [warningHeader(agent, err.message)] };
  if (err instanceof SdpError) return { status: 488, text: err.message, headers: [warningHeader(agent, err.message)] };
  if (err instanceof Error) return { status: 503, text: `Media relay unavailable: ${err.message}` };
  throw err;
}
