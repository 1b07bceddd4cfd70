// The SIP message: a start line, header fields kept as raw slices of the received bytes, and a body.
// Structured values are parsed on first use and cached (lazy parsing); edits replace whole fields, and
// serialize() copies every untouched field byte-for-byte from the original buffer (the edit list is the
// field list itself: original slices interleaved with new text).
import { badRequest } from './errors.js';
import { isWsCode, parseScalar, skipWs, splitTopLevel, trimWs } from './grammar.js';
import { displayName, headerKey } from './header-names.js';
import { parseContactList, parseNameAddr, parseNameAddrList, type ContactList, type NameAddr } from './name-addr.js';
import { formatUri, parseUri, type Uri } from './uri.js';
import { parseTopVia, parseViaList, type Via } from './via.js';

export interface HeaderField {
  /** name as written ("v", "MaX-fOrWaRdS"). */
  name: string;
  /** canonical lower-case long name ("via", "max-forwards"). */
  key: string;
  /** unfolded value. */
  value: string;
  /**
   * Where the field's original bytes (with folding and its CRLF) sit: src[start, end). Absent for fields
   * added or edited here. Offsets rather than a slice, so parsing allocates nothing per field for this.
   */
  src?: Buffer;
  start?: number;
  end?: number;
}

export interface CSeq {
  seq: number;
  method: string;
}

/**
 * What a message has parsed of its headers, one field per header: every message has the same shape, so each
 * read and write is a fixed-offset property access (a record keyed by header name made those megamorphic).
 * undefined: not parsed yet, or dropped by an edit.
 */
class ParsedFields {
  via: Via[] | undefined = undefined;
  /** The top Via alone: a proxy reads only its own, so the others are parsed only if someone asks for them. */
  topVia: Via | undefined = undefined;
  from: NameAddr | undefined = undefined;
  to: NameAddr | undefined = undefined;
  callId: string | undefined = undefined;
  cseq: CSeq | undefined = undefined;
  maxForwards: number | null | undefined = undefined;
  contentLength: number | null | undefined = undefined;
  contact: ContactList | undefined = undefined;
  route: NameAddr[] | undefined = undefined;
  recordRoute: NameAddr[] | undefined = undefined;
  path: NameAddr[] | undefined = undefined;

  /** An edit of this header: what was parsed of it no longer holds. */
  forget(key: string): void {
    switch (key) {
      case 'via':
        this.via = this.topVia = undefined;
        break;
      case 'from':
        this.from = undefined;
        break;
      case 'to':
        this.to = undefined;
        break;
      case 'call-id':
        this.callId = undefined;
        break;
      case 'cseq':
        this.cseq = undefined;
        break;
      case 'max-forwards':
        this.maxForwards = undefined;
        break;
      case 'content-length':
        this.contentLength = undefined;
        break;
      case 'contact':
        this.contact = undefined;
        break;
      case 'route':
        this.route = undefined;
        break;
      case 'record-route':
        this.recordRoute = undefined;
        break;
      case 'path':
        this.path = undefined;
        break;
    }
  }

  /**
   * The first comma element of this header was removed. A parsed list (Via, Route, Path...) is one entry per
   * element across the fields in order, so it loses exactly its first entry: proxies pop their own Via and
   * Route on every message, and re-parsing what is left each time was a visible share of their CPU.
   */
  popFirst(key: string): void {
    switch (key) {
      case 'via':
        this.via = this.via?.slice(1);
        this.topVia = this.via?.[0];
        break;
      case 'route':
        this.route = this.route?.slice(1);
        break;
      case 'record-route':
        this.recordRoute = this.recordRoute?.slice(1);
        break;
      case 'path':
        this.path = this.path?.slice(1);
        break;
      default:
        this.forget(key);
    }
  }
}

abstract class SipMessageBase {
  readonly headers: HeaderField[];
  #body: Buffer;
  #original: Buffer | null;
  #startRaw: Buffer | null;
  readonly #p = new ParsedFields();

  constructor(headers: HeaderField[], body: Buffer, original: Buffer | null, startRaw: Buffer | null) {
    this.headers = headers;
    this.#body = body;
    this.#original = original;
    this.#startRaw = startRaw;
  }

  abstract readonly isRequest: boolean;
  protected abstract formatStartLine(): string;

  get body(): Buffer {
    return this.#body;
  }

  set body(body: Buffer) {
    this.#body = body;
    this.setHeader('content-length', String(body.length));
  }

  /** First field value for a name (any spelling, compact or long). */
  header(name: string): string | undefined {
    const key = headerKey(name);
    for (const h of this.headers) if (h.key === key) return h.value;
    return undefined;
  }

  /** Every field value for a name, in order (each field whole, not split at commas). */
  headerValues(name: string): string[] {
    const key = headerKey(name);
    const out: string[] = [];
    for (const h of this.headers) if (h.key === key) out.push(h.value);
    return out;
  }

  /** Values of a comma-list header split into elements across all its fields (e.g. Allow, Supported). */
  headerList(name: string): string[] {
    return this.headerValues(name).flatMap((v) =>
      splitTopLevel(v, ',', name)
        .map((s) => trimWs(s))
        .filter((s) => s !== ''),
    );
  }

  has(name: string): boolean {
    return this.header(name) !== undefined;
  }

  vias(): Via[] {
    if (this.#p.via !== undefined) return this.#p.via;
    // A loop rather than headerValues().flatMap(): Vias are parsed for every message at every hop.
    const out: Via[] = [];
    for (const h of this.headers) if (h.key === 'via') for (const v of parseViaList(h.value)) out.push(v);
    return (this.#p.via = out);
  }

  /** The top Via if it was parsed already (no parse here): lets removeTopVia hand it back for free. */
  parsedTopVia(): Via | undefined {
    return this.#p.via?.[0] ?? this.#p.topVia;
  }

  topVia(): Via {
    const all = this.#p.via;
    if (all !== undefined) {
      if (!all[0]) throw badRequest('Missing Via');
      return all[0];
    }
    if (this.#p.topVia) return this.#p.topVia;
    const field = this.headers.find((h) => h.key === 'via');
    if (!field) throw badRequest('Missing Via');
    return (this.#p.topVia = parseTopVia(field.value));
  }

  from(): NameAddr {
    return (this.#p.from ??= parseNameAddr(this.#required('from', 'From'), 'From'));
  }

  to(): NameAddr {
    return (this.#p.to ??= parseNameAddr(this.#required('to', 'To'), 'To'));
  }

  callId(): string {
    if (this.#p.callId !== undefined) return this.#p.callId;
    const v = this.#required('call-id', 'Call-ID');
    if (!/^[\x21-\x7e]+$/.test(v)) throw badRequest('Malformed Call-ID');
    return (this.#p.callId = v);
  }

  cseq(): CSeq {
    if (this.#p.cseq !== undefined) return this.#p.cseq;
    // "<number> LWS <method>", each part free of whitespace: read by index, as on every message at every hop.
    const v = this.#required('cseq', 'CSeq');
    let i = 0;
    while (i < v.length && !isWsCode(v.charCodeAt(i))) i++;
    const j = skipWs(v, i);
    const seq = v.slice(0, i);
    const method = v.slice(j);
    if (i === 0 || j === i || method === '' || /\s/.test(method) || /\s/.test(seq)) throw badRequest('Malformed CSeq');
    // RFC 3261 §8.1.1.5: the sequence number must be below 2**31.
    return (this.#p.cseq = { seq: parseScalar(seq, 'CSeq number', 0x7fffffff), method });
  }

  maxForwards(): number | null {
    if (this.#p.maxForwards !== undefined) return this.#p.maxForwards;
    const v = this.header('max-forwards');
    return (this.#p.maxForwards = v === undefined ? null : parseScalar(v, 'Max-Forwards', 255));
  }

  contentLength(): number | null {
    if (this.#p.contentLength !== undefined) return this.#p.contentLength;
    const v = this.header('content-length');
    return (this.#p.contentLength = v === undefined ? null : parseScalar(v, 'Content-Length'));
  }

  contacts(): ContactList {
    if (this.#p.contact !== undefined) return this.#p.contact;
    const values = this.headerValues('contact');
    if (values.length === 1 && trimWs(values[0]!) === '*') return (this.#p.contact = '*');
    const list: NameAddr[] = [];
    for (const v of values) {
      const c = parseContactList(v);
      if (c === '*') throw badRequest('Contact "*" mixed with other contacts');
      for (const n of c) list.push(n);
    }
    return (this.#p.contact = list);
  }

  routes(): NameAddr[] {
    return (this.#p.route ??= this.#nameAddrs('route', 'Route'));
  }

  recordRoutes(): NameAddr[] {
    return (this.#p.recordRoute ??= this.#nameAddrs('record-route', 'Record-Route'));
  }

  paths(): NameAddr[] {
    return (this.#p.path ??= this.#nameAddrs('path', 'Path'));
  }

  /**
   * Parses every header this layer understands, throwing the first fault: what a UAS or a proxy that
   * inspects Contact/Route runs before acting. Parsing stays cached, so this costs nothing later.
   */
  validate(): void {
    this.vias();
    this.from();
    this.to();
    this.callId();
    this.cseq();
    this.maxForwards();
    this.contentLength();
    if (this.has('contact')) this.contacts();
    this.routes();
    this.recordRoutes();
    this.paths();
  }

  // ---- edits: each one drops the original bytes of the fields it touches, nothing else ----

  /** Replaces every field of this name with one field holding value (in place of the first). */
  setHeader(name: string, value: string): void {
    const key = headerKey(name);
    const at = this.headers.findIndex((h) => h.key === key);
    const field = { name: displayName(key), key, value };
    // The usual case (Max-Forwards at every hop) is one field: it is replaced where it stands, no splicing.
    if (at >= 0 && this.headers.findIndex((h, i) => i > at && h.key === key) < 0) this.headers[at] = field;
    else {
      this.removeHeader(name);
      if (at >= 0) this.headers.splice(at, 0, field);
      else this.headers.push(field);
    }
    this.#touched(key);
  }

  /** Adds a field; 'top' puts it before the first field of the same name (Via, Record-Route, Path order). */
  addHeader(name: string, value: string, where: 'top' | 'bottom' = 'bottom'): void {
    const key = headerKey(name);
    const field = { name: displayName(key), key, value };
    const first = this.headers.findIndex((h) => h.key === key);
    if (where === 'top') this.headers.splice(Math.max(first, 0), 0, field);
    else this.headers.push(field);
    this.#touched(key);
  }

  removeHeader(name: string): void {
    const key = headerKey(name);
    for (let i = this.headers.length - 1; i >= 0; i--) if (this.headers[i]!.key === key) this.headers.splice(i, 1);
    this.#touched(key);
  }

  /** Removes the first comma element of the first field (the top Via or Route); returns it, or undefined. */
  removeFirstValue(name: string): string | undefined {
    const key = headerKey(name);
    const at = this.headers.findIndex((h) => h.key === key);
    if (at < 0) return undefined;
    const field = this.headers[at]!;
    const [first, ...rest] = splitTopLevel(field.value, ',', field.name);
    if (rest.length === 0) this.headers.splice(at, 1);
    else this.headers[at] = { name: field.name, key, value: trimWs(rest.join(',')) };
    // What was parsed of the list loses its first entry (ParsedFields.popFirst).
    this.#p.popFirst(key);
    this.#original = null;
    return first === undefined ? undefined : trimWs(first);
  }

  protected touchStartLine(): void {
    this.#startRaw = null;
    this.#original = null;
  }

  /** Wire bytes: the received buffer itself when nothing was edited. */
  serialize(): Buffer {
    if (this.#original) return this.#original;
    // Sized first, then written into one buffer: a Buffer (subarray or from()) per field and a concat cost
    // more than the bytes. Untouched fields lying back to back in the received bytes go as one copy.
    const startRaw = this.#startRaw;
    const startLine = startRaw ? '' : `${this.formatStartLine()}\r\n`;
    let size = (startRaw ? startRaw.length : Buffer.byteLength(startLine)) + 2 + this.#body.length;
    for (const h of this.headers)
      size += h.src ? h.end! - h.start! : Buffer.byteLength(h.name) + Buffer.byteLength(h.value) + 4;
    const out = Buffer.allocUnsafe(size);
    let at = startRaw ? startRaw.copy(out, 0) : out.write(startLine, 0, 'utf8');
    let runSrc: Buffer | undefined;
    let runStart = 0;
    let runEnd = 0;
    for (const h of this.headers) {
      if (h.src) {
        if (h.src === runSrc && h.start === runEnd) {
          runEnd = h.end!;
          continue;
        }
        if (runSrc) at += runSrc.copy(out, at, runStart, runEnd);
        runSrc = h.src;
        runStart = h.start!;
        runEnd = h.end!;
        continue;
      }
      if (runSrc) at += runSrc.copy(out, at, runStart, runEnd);
      runSrc = undefined;
      at += out.write(h.name, at, 'utf8');
      at = out.writeUInt16BE(0x3a20, at); // ': '
      at += out.write(h.value, at, 'utf8');
      at = out.writeUInt16BE(0x0d0a, at); // CRLF
    }
    if (runSrc) at += runSrc.copy(out, at, runStart, runEnd);
    at = out.writeUInt16BE(0x0d0a, at);
    this.#body.copy(out, at);
    return out;
  }

  toString(): string {
    return this.serialize().toString('utf8');
  }

  #required(key: string, what: string): string {
    const v = this.header(key);
    if (v === undefined) throw badRequest(`Missing ${what}`);
    return v;
  }

  #nameAddrs(key: string, what: string): NameAddr[] {
    const out: NameAddr[] = [];
    for (const h of this.headers) if (h.key === key) for (const n of parseNameAddrList(h.value, what)) out.push(n);
    return out;
  }

  #touched(key: string): void {
    this.#p.forget(key);
    this.#original = null;
  }
}

export class SipRequest extends SipMessageBase {
  readonly isRequest = true;
  readonly method: string;
  #uriText: string;
  #uri: Uri | undefined;

  constructor(
    method: string,
    uri: string | Uri,
    headers: HeaderField[],
    body: Buffer,
    original: Buffer | null = null,
    startRaw: Buffer | null = null,
  ) {
    super(headers, body, original, startRaw);
    this.method = method;
    this.#uriText = typeof uri === 'string' ? uri : formatUri(uri);
    this.#uri = typeof uri === 'string' ? undefined : uri;
  }

  get uri(): Uri {
    this.#uri ??= parseUri(this.#uriText, 'Request-URI');
    return this.#uri;
  }

  set uri(uri: Uri) {
    this.#uri = uri;
    this.#uriText = formatUri(uri);
    this.touchStartLine();
  }

  get uriText(): string {
    return this.#uriText;
  }

  protected formatStartLine(): string {
    return `${this.method} ${this.#uriText} SIP/2.0`;
  }
}

export class SipResponse extends SipMessageBase {
  readonly isRequest = false;
  readonly status: number;
  readonly reason: string;

  constructor(
    status: number,
    reason: string,
    headers: HeaderField[],
    body: Buffer,
    original: Buffer | null = null,
    startRaw: Buffer | null = null,
  ) {
    super(headers, body, original, startRaw);
    this.status = status;
    this.reason = reason;
  }

  protected formatStartLine(): string {
    return `SIP/2.0 ${this.status} ${this.reason}`;
  }
}

export type SipMessage = SipRequest | SipResponse;

/** A new field list from [name, value] pairs, for building messages in code. */
export function fields(pairs: ReadonlyArray<readonly [string, string]>): HeaderField[] {
  return pairs.map(([name, value]) => ({ name, key: headerKey(name), value }));
}
