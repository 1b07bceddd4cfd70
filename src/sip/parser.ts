// Turns one whole message (a datagram, or what SipStreamFramer cut from a stream) into a SipMessage.
// Only what every receiver needs is checked here (start line, field syntax, the single-valued and
// transaction headers); everything else is parsed when first read (message.ts).
import { SipError, badRequest, tooLarge } from './errors.js';
import { isAscii } from 'node:buffer';
import { isToken, trimWs, unfold } from './grammar.js';
import { SINGLE_VALUED, fieldKey } from './header-names.js';
import { SipRequest, SipResponse, type HeaderField, type SipMessage } from './message.js';
import type { SipUri } from './uri.js';

export interface ParseLimits {
  maxHeaderBytes: number;
  maxHeaders: number;
  maxBodyBytes: number;
}

export interface ParseOptions {
  limits?: Partial<ParseLimits>;
  /**
   * Stream transports require Content-Length (RFC 3261 §18.3); on a datagram its absence means "to the end",
   * and a body longer than Content-Length is cut to it (§18.3).
   */
  stream?: boolean;
  /**
   * false: only framing, the start line and field syntax are checked now; each structured header is parsed
   * (and may throw) when first read. For a hop that reads a few headers of a message already checked by the
   * other node of the pair, or a response it only passes on. 'requests': true for a request, false for a
   * response. Default true.
   */
  essentials?: boolean | 'requests';
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = { maxHeaderBytes: 16384, maxHeaders: 128, maxBodyBytes: 1 << 20 };

const CRLFCRLF = Buffer.from('\r\n\r\n');
const VERSION_RE = /^SIP\/(\d+)\.(\d+)$/i;

export function parseMessage(data: Buffer, options: ParseOptions = {}): SipMessage {
  const limits = { ...DEFAULT_PARSE_LIMITS, ...options.limits };
  let start = 0;
  // Empty lines before the start line are keepalive residue and are ignored (RFC 3261 §7.5).
  while (data[start] === 13 && data[start + 1] === 10) start += 2;
  const end = data.indexOf(CRLFCRLF, start);
  if (end < 0) {
    if (data.length - start > limits.maxHeaderBytes) throw tooLarge('header section');
    throw badRequest('Missing empty line after the header section');
  }
  if (end - start > limits.maxHeaderBytes) throw tooLarge('header section');

  const lineEnd = data.indexOf(13, start);
  const startRaw = data.subarray(start, lineEnd + 2);
  const startLine = data.toString('utf8', start, lineEnd);
  const headers = parseFields(data, lineEnd + 2, end + 2, limits.maxHeaders);

  const body = cutBody(data.subarray(end + 4), headers, limits.maxBodyBytes, options.stream === true);
  // The received bytes can be handed on unchanged only if nothing before or after the message was dropped.
  const original = body.length === data.length - end - 4 && start === 0 ? data : null;
  const msg = startLine.startsWith('SIP/')
    ? response(startLine, headers, body, original, startRaw)
    : request(startLine, headers, body, original, startRaw);
  checkSingleValued(msg);
  const essentials = options.essentials ?? true;
  if (essentials === true || (essentials === 'requests' && msg.isRequest)) checkEssentials(msg);
  return msg;
}

function parseFields(data: Buffer, from: number, to: number, maxHeaders: number): HeaderField[] {
  const headers: HeaderField[] = [];
  // One decode for the whole section; offsets in an ASCII string are byte offsets. Sections carrying
  // UTF-8 (display names, reason phrases) decode field by field instead so each value is proper text.
  const ascii = isAscii(data.subarray(from, to));
  const block = ascii ? data.toString('latin1', from, to) : '';
  let pos = from;
  while (pos < to) {
    let next = data.indexOf(10, pos);
    if (data[next - 1] !== 13) throw badRequest('Bare LF in the header section');
    // Folded continuation lines (starting with SP or HT) belong to the same field.
    while (next + 1 < to && (data[next + 1] === 32 || data[next + 1] === 9)) {
      next = data.indexOf(10, next + 1);
      if (data[next - 1] !== 13) throw badRequest('Bare LF in the header section');
    }
    const text = ascii ? block.slice(pos - from, next - 1 - from) : data.toString('utf8', pos, next - 1);
    const colon = text.indexOf(':');
    if (colon < 0) throw badRequest(data[pos] === 32 || data[pos] === 9 ? 'Folded line before the first header field' : 'Header field without a colon');
    const name = trimWs(text.slice(0, colon));
    const key = fieldKey(name);
    if (key === undefined) throw badRequest('Malformed header field name');
    if (headers.length >= maxHeaders) throw tooLarge('too many header fields');
    headers.push({ name, key, value: unfold(text.slice(colon + 1)), src: data, start: pos, end: next + 1 });
    pos = next + 1;
  }
  return headers;
}

function cutBody(rest: Buffer, headers: HeaderField[], maxBody: number, stream: boolean): Buffer {
  const lengths = headers.filter((h) => h.key === 'content-length');
  if (lengths.length === 0) {
    if (stream) throw badRequest('Missing Content-Length on a stream transport');
    if (rest.length > maxBody) throw tooLarge('body');
    return rest;
  }
  if (lengths.length > 1) throw badRequest('Multiple Content-Length header fields');
  const text = lengths[0]!.value;
  if (!/^\d{1,10}$/.test(text)) throw badRequest('Malformed Content-Length');
  const length = Number(text);
  if (length > maxBody) throw tooLarge('body');
  if (length > rest.length) throw badRequest('Content-Length larger than the body');
  return length === rest.length ? rest : rest.subarray(0, length);
}

function request(line: string, headers: HeaderField[], body: Buffer, original: Buffer | null, startRaw: Buffer): SipRequest {
  const parts = line.split(' ');
  if (parts.length !== 3) throw badRequest('Malformed Request-Line');
  const [method, uriText, version] = parts as [string, string, string];
  if (!isToken(method)) throw badRequest('Malformed method');
  checkVersion(version);
  const req = new SipRequest(method, uriText, headers, body, original, startRaw);
  const uri = req.uri;
  // A Request-URI must not carry headers (RFC 3261 §19.1.5, RFC 4475 §3.1.2.9 escaped headers).
  if (uri.kind === 'sip' && (uri as SipUri).headers !== null) throw badRequest('Request-URI with headers');
  return req;
}

function response(line: string, headers: HeaderField[], body: Buffer, original: Buffer | null, startRaw: Buffer): SipResponse {
  const m = /^(\S+) (\d{3})(?: (.*))?$/.exec(line);
  if (!m) throw badRequest('Malformed Status-Line');
  checkVersion(m[1]!);
  const status = Number(m[2]);
  if (status < 100) throw badRequest('Status code out of range');
  return new SipResponse(status, m[3] ?? '', headers, body, original, startRaw);
}

function checkVersion(version: string): void {
  const m = VERSION_RE.exec(version);
  if (!m) throw badRequest('Malformed SIP-Version');
  if (m[1] !== '2' || m[2] !== '0') throw new SipError(505, 'Version Not Supported');
}

// One bit per single-valued header: the duplicate check runs on every message and needs no Set for it.
const SINGLE_VALUED_BITS = new Map([...SINGLE_VALUED].map((key, i) => [key, 1 << i] as const));

function checkSingleValued(msg: SipMessage): void {
  let seen = 0;
  for (const h of msg.headers) {
    const bit = SINGLE_VALUED_BITS.get(h.key);
    if (bit === undefined) continue;
    if (seen & bit) throw badRequest(`Multiple ${h.name} header fields`);
    seen |= bit;
  }
}

/** What a transaction layer or proxy reads on every message: fail here rather than deep in routing. */
function checkEssentials(msg: SipMessage): void {
  msg.topVia();
  msg.vias();
  msg.from();
  msg.to();
  msg.callId();
  const cseq = msg.cseq();
  msg.maxForwards();
  if (msg.isRequest && cseq.method !== msg.method) throw badRequest('CSeq method does not match the Request-Line');
}
