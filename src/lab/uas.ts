// How the lab's user agents (a remote client, an inside phone) answer a request: a response that forms or lives in
// a dialog carries what RFC 3261 §12.1.1 requires of a UAS, so a standard client can confirm and end the call.
import { createResponse, type SipRequest, type SipResponse } from '../sip/message/index.js';

export interface UasAnswer {
  status: number;
  body?: string;
  contentType?: string;
}

/**
 * The answer to `req`: to an INVITE (or another dialog-forming request) a non-100 provisional or a 2xx copies the
 * request's Record-Route (the route set the caller learns) and carries `contact` (where the dialog's later requests
 * go); `toTag` is used when the request has none (out of a dialog).
 */
export function uasResponse(req: SipRequest, a: UasAnswer, contact: string, toTag: string): SipResponse {
  const headers: Array<[string, string]> = [];
  const forming = req.method === 'INVITE' || req.method === 'SUBSCRIBE' || req.method === 'REFER';
  if (forming && a.status > 100 && a.status < 300) {
    for (const rr of req.headerList('record-route')) headers.push(['Record-Route', rr]);
    headers.push(['Contact', contact]);
  }
  const body = a.body ? Buffer.from(a.body, 'utf8') : undefined;
  if (body) headers.push(['Content-Type', a.contentType ?? 'application/sdp']);
  return createResponse(req, a.status, { headers, toTag, ...(body ? { body } : {}) });
}
