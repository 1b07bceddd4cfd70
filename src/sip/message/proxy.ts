// What a stateful proxy does to a message on its way through (RFC 3261 §16.6, §16.7, RFC 3327 Path),
// and how any element answers a request (§8.2.6). Each helper is one rule, so callers compose them.
import { randomBytes } from 'node:crypto';
import { SipError } from './errors.js';
import { formatParams, type Param } from './grammar.js';
import { SipResponse, fields, type SipRequest } from './message.js';
import { formatUri, type SipUri } from './uri.js';
import { MAGIC_COOKIE, formatVia, parseVia, type Via } from './via.js';

const REASONS: Record<number, string> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  200: 'OK',
  202: 'Accepted',
  301: 'Moved Permanently',
  302: 'Moved Temporarily',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  423: 'Interval Too Brief',
  430: 'Flow Failed',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  513: 'Message Too Large',
  603: 'Decline',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? REASONS[Math.floor(status / 100) * 100] ?? 'Unknown';
}

/** A branch that RFC 3261 §8.1.1.7 recognises as unique per transaction (magic cookie + 64 random bits). */
export function generateBranch(): string {
  return `${MAGIC_COOKIE}${randomBytes(8).toString('hex')}`;
}

export function generateTag(): string {
  return randomBytes(6).toString('hex');
}

export interface ResponseOptions {
  reason?: string;
  /** To tag for a response that needs one and whose request had none (§8.2.6.2); generated if omitted. */
  toTag?: string;
  headers?: ReadonlyArray<readonly [string, string]>;
  body?: Buffer;
}

/** Builds a response copying Via, From, To, Call-ID and CSeq from the request (§8.2.6.2). */
export function createResponse(req: SipRequest, status: number, options: ResponseOptions = {}): SipResponse {
  const copied: Array<readonly [string, string]> = [];
  for (const h of req.headers) if (h.key === 'via') copied.push(['Via', h.value]);
  copied.push(['From', req.header('from')!]);
  let to = req.header('to')!;
  // 100 Trying never carries a tag; everything else does, so the dialog (or its absence) is identifiable.
  if (status > 100 && req.to().params.every((p) => p.name.toLowerCase() !== 'tag')) {
    to += `;tag=${options.toTag ?? generateTag()}`;
  }
  copied.push(['To', to], ['Call-ID', req.header('call-id')!], ['CSeq', req.header('cseq')!]);
  if (options.headers) copied.push(...options.headers);
  const body = options.body ?? Buffer.alloc(0);
  copied.push(['Content-Length', String(body.length)]);
  return new SipResponse(status, options.reason ?? reasonPhrase(status), fields(copied), body);
}

/** The response for a SipError (parse fault, 483, ...) — usable only when the request parsed far enough. */
export function createErrorResponse(req: SipRequest, err: SipError): SipResponse {
  return createResponse(req, err.status, { reason: err.reason });
}

export function addVia(req: SipRequest, via: Via): void {
  req.addHeader('via', formatVia(via), 'top');
}

/** A proxy strips its own Via from a response before forwarding it (§16.7 step 3); returns the removed one. */
export function removeTopVia(msg: SipRequest | SipResponse): Via | undefined {
  const parsed = msg.parsedTopVia();
  const removed = msg.removeFirstValue('via');
  if (removed === undefined) return undefined;
  return parsed ?? parseVia(removed);
}

function routeValue(uri: SipUri, headerParams: Param[]): string {
  const withLr: SipUri = uri.params.some((p) => p.name.toLowerCase() === 'lr')
    ? uri
    : { ...uri, params: [...uri.params, { name: 'lr', value: null }] };
  return `<${formatUri(withLr)}>${formatParams(headerParams)}`;
}

/** RFC 3327: a registrar-bound proxy puts itself first in Path so requests to the contact come back through it. */
export function addPath(req: SipRequest, uri: SipUri, headerParams: Param[] = []): void {
  req.addHeader('path', routeValue(uri, headerParams), 'top');
}

export function addRecordRoute(req: SipRequest, uri: SipUri, headerParams: Param[] = []): void {
  req.addHeader('record-route', routeValue(uri, headerParams), 'top');
}

/** §16.6 step 3 and §16.3 step 3: a request arriving with Max-Forwards 0 is answered 483, never forwarded. */
export function decrementMaxForwards(req: SipRequest, initial = 70): number {
  const current = req.maxForwards();
  if (current === 0) throw new SipError(483, 'Too Many Hops');
  const next = current === null ? initial : current - 1;
  req.setHeader('max-forwards', String(next));
  return next;
}
