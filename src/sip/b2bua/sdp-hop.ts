// Where SDP meets a hop: which messages carry an offer or an answer, and how a rewrite's failure is answered.
import type { SipMessage, SipRequest, SipResponse } from '../message/index.js';
import { SdpError } from '../../sdp/index.js';

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

/** A refusal to send for an offer that failed: 488 for SDP the call cannot use, 503 when the relay cannot open. */
export function offerFault(err: unknown): { status: number; text: string } {
  if (err instanceof SdpError) return { status: 488, text: err.message };
  if (err instanceof Error) return { status: 503, text: `Media relay unavailable: ${err.message}` };
  throw err;
}
