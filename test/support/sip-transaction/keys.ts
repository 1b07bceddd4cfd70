// Transaction matching (RFC 3261 §17.1.3 and §17.2.3). With the magic cookie the branch is unique, so
// branch + sent-by + method is the key; ACK joins its INVITE's transaction and CANCEL has its own. Without
// the cookie (RFC 2543 peers) the key falls back to the dialog identifiers and CSeq.
import type { SipRequest, SipResponse } from '../../../src/sip/message/message.js';
import { MAGIC_COOKIE, branchOf, sentByKey } from '../../../src/sip/message/via.js';

export function clientKey(branch: string, method: string): string {
  return `c|${branch}|${method === 'ACK' ? 'INVITE' : method}`;
}

export function clientKeyOfResponse(res: SipResponse): string | null {
  const branch = branchOf(res.topVia());
  return branch === null ? null : clientKey(branch, res.cseq().method);
}

/** Key of the server transaction a request belongs to; method overrides (to look up a CANCEL's INVITE). */
export function serverKey(req: SipRequest, method: string = req.method): string {
  const via = req.topVia();
  const m = method === 'ACK' ? 'INVITE' : method;
  const branch = branchOf(via);
  if (branch !== null && branch.startsWith(MAGIC_COOKIE)) return `s|${branch}|${sentByKey(via)}|${m}`;
  // RFC 2543 matching (§17.2.3 last paragraphs): the To tag is left out because an ACK carries the tag
  // of the response while the INVITE did not.
  const fromTag = req.from().params.find((p) => p.name.toLowerCase() === 'tag')?.value ?? '';
  return `s2543|${req.uriText}|${fromTag}|${req.callId()}|${req.cseq().seq}|${sentByKey(via)}|${branch ?? ''}|${m}`;
}
