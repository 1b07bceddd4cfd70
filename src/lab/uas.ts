// How the lab's user agents (a remote client, an inside phone) answer a request: a response that forms or lives in
// a dialog carries what RFC 3261 §12.1.1 requires of a UAS, so a standard client can confirm and end the call.
import { createResponse, type SipRequest, type SipResponse } from '../sip/message/index.js';

export interface UasAnswer {
  status: number;
  body?: string;
  contentType?: string;
  /** More header fields for the answer (Session-Expires, Require...). */
  headers?: Array<[string, string]>;
  /** A provisional answer sent first (a 183 with early media's SDP); the final one follows after `finalAfterMs`. */
  early?: UasAnswer;
  finalAfterMs?: number;
}

/**
 * Sends `a` for `req` through `send`: its provisional answer first when it has one, then the final one (after
 * finalAfterMs). Every answer in the dialog carries the same To tag.
 */
export function sendAnswers(
  req: SipRequest,
  a: UasAnswer,
  contact: string,
  toTag: string,
  send: (res: SipResponse) => void,
): { cancel(): boolean } {
  if (a.early) send(uasResponse(req, a.early, contact, toTag));
  let pending = true;
  const final = () => {
    pending = false;
    send(uasResponse(req, a, contact, toTag));
  };
  const timer = a.finalAfterMs ? setTimeout(final, a.finalAfterMs) : undefined;
  timer?.unref();
  if (!timer) final();
  return {
    /** A CANCEL came while the final answer waited: 487 instead (RFC 3261 §9.2); false when it was sent already. */
    cancel() {
      if (!pending) return false;
      clearTimeout(timer);
      pending = false;
      send(uasResponse(req, { status: 487 }, contact, toTag));
      return true;
    },
  };
}

/**
 * The answer to `req`: to an INVITE (or another dialog-forming request) a non-100 provisional or a 2xx copies the
 * request's Record-Route (the route set the caller learns) and carries `contact` (where the dialog's later requests
 * go); `toTag` is used when the request has none (out of a dialog).
 */
export function uasResponse(req: SipRequest, a: UasAnswer, contact: string, toTag: string): SipResponse {
  const headers: Array<[string, string]> = [...(a.headers ?? [])];
  const forming = req.method === 'INVITE' || req.method === 'SUBSCRIBE' || req.method === 'REFER';
  if (forming && a.status > 100 && a.status < 300) {
    for (const rr of req.headerList('record-route')) headers.push(['Record-Route', rr]);
    headers.push(['Contact', contact]);
  }
  const body = a.body ? Buffer.from(a.body, 'utf8') : undefined;
  if (body) headers.push(['Content-Type', a.contentType ?? 'application/sdp']);
  return createResponse(req, a.status, { headers, toTag, ...(body ? { body } : {}) });
}
