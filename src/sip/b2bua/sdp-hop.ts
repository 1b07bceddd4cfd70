// Where SDP meets a hop: which messages carry an offer or an answer, and how a rewrite's failure is answered.
import type { SipMessage, SipRequest, SipResponse } from '../message/index.js';
import { Sdp, SdpError } from '../sdp/index.js';

/** A non-empty application/sdp body (a multipart body or none passes untouched: no relay for it). */
export function hasSdp(msg: SipMessage): boolean {
  return msg.body.length > 0 && (msg.header('content-type') ?? '').trim().toLowerCase().startsWith('application/sdp');
}

/** An INVITE (initial or re-INVITE) with an offer. */
export const carriesOffer = (req: SipRequest): boolean => req.method === 'INVITE' && hasSdp(req);

/** A reliable answer's carrier: an INVITE's 18x or 2xx with SDP (RFC 3264; 3261 §13.2.1). */
export function carriesAnswer(res: SipResponse): boolean {
  if (res.status < 180 || res.status >= 300 || !hasSdp(res)) return false;
  return (res.header('cseq') ?? '').trim().endsWith('INVITE');
}

/** A refusal to send for an offer that failed: 488 for SDP the call cannot use, 503 when the relay cannot open. */
export function offerFault(err: unknown): { status: number; text: string } {
  if (err instanceof SdpError) return { status: 488, text: err.message };
  if (err instanceof Error) return { status: 503, text: `Media relay unavailable: ${err.message}` };
  throw err;
}

/** Parses `msg`'s SDP, lets `rewrite` change it, and puts the result back as the body. */
export function rewriteSdp(msg: SipMessage, rewrite: (sdp: Sdp) => void): void {
  const sdp = Sdp.parse(msg.body);
  rewrite(sdp);
  msg.body = sdp.toBuffer();
}
