// Turns one whole message (a datagram, or what SipStreamFramer cut from a stream) into a SipMessage.
// Only what every receiver needs is checked here (start line, field syntax, the single-valued and
// transaction headers); everything else is parsed when first read (message.ts).
import { SipError, badRequest, tooLarge } from './errors.js';
import { isAscii } from 'node:buffer';
import { isToken, isWsCode, trimWs, unfold } from './grammar.js';
import { fieldName } from './header-names.js';
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
  // Read field by field rather than spread into a new object: this runs for every message a node receives.
  const limits = options.limits;
  const maxHeaderBytes = limits?.maxHeaderBytes ?? DEFAULT_PARSE_LIMITS.maxHeaderBytes;
  let start = 0;
  // Empty lines before the start line are keepalive residue and are ignored (RFC 3261 §7.5).
  while (data[start] === 13 && data[start + 1] === 10) start += 2;
  const end = data.indexOf(CRLFCRLF, start);
  if (end < 0) {
    if (data.length - start > maxHeaderBytes) throw tooLarge('header section');
    throw badRequest('Missing empty line after the header section');
  }
  if (end - start > maxHeaderBytes) throw tooLarge('header section');

  // One decode of the whole header section: latin1 is one character per byte, so offsets in it are offsets in
  // data, and lines and names are found with string searches (each Buffer.indexOf is a call into C++).
  const head = data.toString('latin1', start, end + 2);
  // Sections carrying UTF-8 (display names, reason phrases) decode field by field so each value is proper text.
  const ascii = isAscii(data.subarray(start, end));
  const lineEnd = head.indexOf('\r');
  const startRaw = data.subarray(start, start + lineEnd + 2);
  const startLine = ascii ? head.slice(0, lineEnd) : data.toString('utf8', start, start + lineEnd);
  const fields = new FieldReader(data, head, start, ascii, limits?.maxHeaders ?? DEFAULT_PARSE_LIMITS.maxHeaders);
  const headers = fields.read(lineEnd + 2);

  const body = cutBody(
    data.subarray(end + 4),
    headers,
    limits?.maxBodyBytes ?? DEFAULT_PARSE_LIMITS.maxBodyBytes,
    options.stream === true,
  );
  // The received bytes can be handed on unchanged only if nothing before or after the message was dropped.
  const original = body.length === data.length - end - 4 && start === 0 ? data : null;
  const msg = startLine.startsWith('SIP/')
    ? response(startLine, headers, body, original, startRaw)
    : request(startLine, headers, body, original, startRaw);
  // A single-valued header seen twice (RFC 4475 §3.1.2.17), reported after the start line's faults.
  if (fields.repeated) throw badRequest(`Multiple ${fields.repeated} header fields`);
  const essentials = options.essentials ?? true;
  if (essentials === true || (essentials === 'requests' && msg.isRequest)) checkEssentials(msg);
  return msg;
}

/** Cuts the header section (a latin1 string of the bytes) into fields, noting the first repeated single-valued one. */
class FieldReader {
  /** The name, as written, of the first single-valued header that appeared a second time; '' if none. */
  repeated = '';

  constructor(
    private readonly data: Buffer,
    private readonly head: string,
    /** Where head starts in data. */
    private readonly base: number,
    private readonly ascii: boolean,
    private readonly maxHeaders: number,
  ) {}

  read(from: number): HeaderField[] {
    const { data, head, base } = this;
    const headers: HeaderField[] = [];
    const to = head.length;
    let seen = 0;
    let pos = from;
    while (pos < to) {
      let next = head.indexOf('\n', pos);
      if (head.charCodeAt(next - 1) !== 13) throw badRequest('Bare LF in the header section');
      // Folded continuation lines (starting with SP or HT) belong to the same field.
      let folded = false;
      for (let c = head.charCodeAt(next + 1); next + 1 < to && (c === 32 || c === 9); c = head.charCodeAt(next + 1)) {
        next = head.indexOf('\n', next + 1);
        if (head.charCodeAt(next - 1) !== 13) throw badRequest('Bare LF in the header section');
        folded = true;
      }
      const colon = head.indexOf(':', pos);
      if (colon < 0 || colon > next) {
        const c = head.charCodeAt(pos);
        throw badRequest(
          c === 32 || c === 9 ? 'Folded line before the first header field' : 'Header field without a colon',
        );
      }
      const name = trimWs(head.slice(pos, colon));
      const found = fieldName(name);
      if (found === undefined) throw badRequest('Malformed header field name');
      if (headers.length >= this.maxHeaders) throw tooLarge('too many header fields');
      if (found.single !== 0) {
        if (seen & found.single) this.repeated ||= name;
        seen |= found.single;
      }
      headers.push({
        name,
        key: found.key,
        value: this.#value(colon + 1, next - 1, folded),
        src: data,
        start: base + pos,
        end: base + next + 1,
      });
      pos = next + 1;
    }
    return headers;
  }

  /** The value between from and to (head offsets), without its surrounding SP/HT: one slice, not two. */
  #value(from: number, to: number, folded: boolean): string {
    const { head } = this;
    if (folded) return unfold(this.#text(from, to));
    while (from < to && isWsCode(head.charCodeAt(from))) from++;
    while (to > from && isWsCode(head.charCodeAt(to - 1))) to--;
    return this.#text(from, to);
  }

  #text(from: number, to: number): string {
    return this.ascii ? this.head.slice(from, to) : this.data.toString('utf8', this.base + from, this.base + to);
  }
}

function cutBody(rest: Buffer, headers: HeaderField[], maxBody: number, stream: boolean): Buffer {
  let field: HeaderField | undefined;
  for (const h of headers) {
    if (h.key !== 'content-length') continue;
    if (field) throw badRequest('Multiple Content-Length header fields');
    field = h;
  }
  if (!field) {
    if (stream) throw badRequest('Missing Content-Length on a stream transport');
    if (rest.length > maxBody) throw tooLarge('body');
    return rest;
  }
  const text = field.value;
  if (!/^\d{1,10}$/.test(text)) throw badRequest('Malformed Content-Length');
  const length = Number(text);
  if (length > maxBody) throw tooLarge('body');
  if (length > rest.length) throw badRequest('Content-Length larger than the body');
  return length === rest.length ? rest : rest.subarray(0, length);
}

function request(
  line: string,
  headers: HeaderField[],
  body: Buffer,
  original: Buffer | null,
  startRaw: Buffer,
): SipRequest {
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

function response(
  line: string,
  headers: HeaderField[],
  body: Buffer,
  original: Buffer | null,
  startRaw: Buffer,
): SipResponse {
  const m = /^(\S+) (\d{3})(?: (.*))?$/.exec(line);
  if (!m) throw badRequest('Malformed Status-Line');
  checkVersion(m[1]!);
  const status = Number(m[2]);
  if (status < 100) throw badRequest('Status code out of range');
  return new SipResponse(status, m[3] ?? '', headers, body, original, startRaw);
}

function checkVersion(version: string): void {
  if (version === 'SIP/2.0') return;
  const m = VERSION_RE.exec(version);
  if (!m) throw badRequest('Malformed SIP-Version');
  if (m[1] !== '2' || m[2] !== '0') throw new SipError(505, 'Version Not Supported');
}

/** What a transaction layer or proxy reads on every message: fail here rather than deep in routing. */
function checkEssentials(msg: SipMessage): void {
  // Every Via first: topVia() then reads the first of them instead of parsing it a second time.
  msg.vias();
  msg.topVia();
  msg.from();
  msg.to();
  msg.callId();
  const cseq = msg.cseq();
  msg.maxForwards();
  if (msg.isRequest && cseq.method !== msg.method) throw badRequest('CSeq method does not match the Request-Line');
}
