/**
 * HTTP/1.1 request heads and chunked bodies as the edge reads them off its client sockets (RFC 9112), strictly:
 * anything a lenient parser would guess about (bare CR or LF, folded lines, duplicate or conflicting framing
 * fields) is refused, because two parsers guessing differently is how requests get smuggled.
 */
import { HttpError } from './errors.js';

export class H1Error extends HttpError {
  constructor(
    readonly status: 400 | 413 | 417 | 431 | 501,
    message: string,
  ) {
    super(message);
  }
}

export type H1Headers = Record<string, string | string[]>;

export interface RequestHead {
  method: string;
  target: string;
  /** 0 or 1: the minor version of HTTP/1.x. */
  minor: number;
  headers: H1Headers;
  /** Bytes the head took, its blank line included. */
  length: number;
  /** The declared body: a length, or chunked framing. */
  body: { length: number } | 'chunked';
  keepAlive: boolean;
  expectContinue: boolean;
}

const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\/[\x21-\x7e]*) HTTP\/1\.([01])$/;
const FIELD = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/;
// Field values: visible characters, space, tab and obs-text; no CR, LF or NUL.
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
/** Fields a request may carry once only: a second copy is an attempt to make two parsers disagree. */
const SINGLE = new Set(['content-length', 'transfer-encoding', 'host']);
const CRLF2 = Buffer.from('\r\n\r\n');

/**
 * Parses the head at the start of `buf`: undefined while it is incomplete and still within `maxBytes`.
 * Throws H1Error for anything malformed or too large.
 */
export function parseRequestHead(buf: Buffer, maxBytes: number): RequestHead | undefined {
  const end = buf.indexOf(CRLF2);
  if (end < 0) {
    if (buf.length > maxBytes) throw new H1Error(431, 'request header fields too large');
    return undefined;
  }
  if (end + 4 > maxBytes) throw new H1Error(431, 'request header fields too large');
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const line = REQUEST_LINE.exec(lines[0]!);
  if (!line) throw new H1Error(400, 'malformed request line (an absolute path is required)');
  const headers = parseFields(lines);
  const minor = line[3] === '1' ? 1 : 0;
  if (minor === 1 && headers.host === undefined) throw new H1Error(400, 'Host is required');
  const te = headers['transfer-encoding'] as string | undefined;
  const cl = headers['content-length'] as string | undefined;
  if (te !== undefined && cl !== undefined)
    throw new H1Error(400, 'Content-Length together with Transfer-Encoding is not accepted');
  let body: RequestHead['body'] = { length: 0 };
  if (te !== undefined) {
    if (te.toLowerCase() !== 'chunked') throw new H1Error(501, 'only chunked transfer coding is accepted');
    body = 'chunked';
  } else if (cl !== undefined) body = contentLength(cl);
  const expect = headers.expect as string | undefined;
  if (expect !== undefined && expect.toLowerCase() !== '100-continue')
    throw new H1Error(417, 'only Expect: 100-continue is understood');
  return {
    method: line[1]!,
    target: line[2]!,
    minor,
    headers,
    length: end + 4,
    body,
    keepAlive: persistent(minor === 1, headers),
    expectContinue: expect !== undefined,
  };
}

function contentLength(cl: string): { length: number } {
  if (!/^\d{1,15}$/.test(cl)) throw new H1Error(400, 'malformed Content-Length');
  return { length: Number(cl) };
}

/** RFC 9112 §9.3: HTTP/1.1 connections persist unless `close` is said, HTTP/1.0 ones only if `keep-alive` is. */
function persistent(http11: boolean, headers: H1Headers): boolean {
  const connection = ((headers.connection as string | undefined) ?? '').toLowerCase();
  return http11 ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
}

/** The header fields of a head's lines (the first line is the request or status line). */
function parseFields(lines: string[]): H1Headers {
  const headers: H1Headers = {};
  for (let i = 1; i < lines.length; i++) {
    const f = FIELD.exec(lines[i]!);
    if (!f || BAD_VALUE.test(f[2]!)) throw new H1Error(400, 'malformed header field');
    const name = f[1]!.toLowerCase();
    const value = f[2]!;
    const had = headers[name];
    if (had === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
    else if (SINGLE.has(name)) throw new H1Error(400, `${name} given more than once`);
    else if (Array.isArray(had)) had.push(value);
    else headers[name] = `${had}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return headers;
}

export interface ResponseHead {
  status: number;
  headers: H1Headers;
  length: number;
  /** How the body is framed; 'none' for 1xx, 204, 304 and answers to HEAD. */
  body: { length: number } | 'chunked' | 'close' | 'none';
  keepAlive: boolean;
}

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: [\x09\x20-\x7e\x80-\xff]*)?$/;

/** An inside server's answer head, for core's client (inside-client.ts); same strictness as for requests. */
export function parseResponseHead(buf: Buffer, maxBytes: number, method: string): ResponseHead | undefined {
  const end = buf.indexOf(CRLF2);
  if (end < 0) {
    if (buf.length > maxBytes) throw new H1Error(431, 'answer head too large');
    return undefined;
  }
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const line = STATUS_LINE.exec(lines[0]!);
  if (!line) throw new H1Error(400, 'malformed status line');
  const headers = parseFields(lines);
  const status = Number(line[2]);
  const te = headers['transfer-encoding'] as string | undefined;
  const cl = headers['content-length'] as string | undefined;
  let body: ResponseHead['body'];
  if (status < 200 || status === 204 || status === 304 || method === 'HEAD') body = 'none';
  else if (te !== undefined) {
    if (cl !== undefined || te.toLowerCase() !== 'chunked') throw new H1Error(400, 'answer framing not understood');
    body = 'chunked';
  } else if (cl !== undefined) body = contentLength(cl);
  else body = 'close';
  const keepAlive = body !== 'close' && persistent(line[1] === '1', headers);
  return { status, headers, length: end + 4, body, keepAlive };
}

const HEX = /^([0-9a-fA-F]{1,8})(;[\x09\x20-\x7e]*)?$/;

/**
 * A chunked body read as it arrives, refused once it grows past `max` bytes. push() takes the next bytes and
 * returns what follows the body once the body is complete (the next pipelined request), else undefined.
 */
export class ChunkedBody {
  readonly chunks: Buffer[] = [];
  size = 0;
  #state: 'size' | 'data' | 'data-crlf' | 'trailer' = 'size';
  #left = 0;
  #line = '';

  constructor(private readonly max: number) {}

  push(buf: Buffer): Buffer | undefined {
    let at = 0;
    while (at < buf.length) {
      if (this.#state === 'data') {
        const take = Math.min(this.#left, buf.length - at);
        this.chunks.push(buf.subarray(at, at + take));
        at += take;
        if ((this.#left -= take) === 0) this.#state = 'data-crlf';
        continue;
      }
      const nl = buf.indexOf(10, at);
      const piece = buf.toString('latin1', at, nl < 0 ? buf.length : nl + 1);
      at = nl < 0 ? buf.length : nl + 1;
      this.#line += piece;
      if (this.#line.length > 1024) throw new H1Error(400, 'malformed chunked body');
      if (nl < 0) continue;
      const line = this.#line;
      this.#line = '';
      if (!line.endsWith('\r\n')) throw new H1Error(400, 'malformed chunked body');
      const text = line.slice(0, -2);
      if (this.#state === 'data-crlf') {
        if (text !== '') throw new H1Error(400, 'malformed chunked body');
        this.#state = 'size';
      } else if (this.#state === 'size') {
        const m = HEX.exec(text);
        if (!m) throw new H1Error(400, 'malformed chunk size');
        const n = parseInt(m[1]!, 16);
        if ((this.size += n) > this.max) throw new H1Error(413, `request body larger than ${this.max} bytes`);
        if (n === 0) this.#state = 'trailer';
        else [this.#state, this.#left] = ['data', n];
      } else {
        // Trailer fields are read and dropped; the blank line ends the body.
        if (text === '') return buf.subarray(at);
        if (!FIELD.test(text) || BAD_VALUE.test(text)) throw new H1Error(400, 'malformed trailer field');
      }
    }
    return undefined;
  }

  body(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
  }
}
