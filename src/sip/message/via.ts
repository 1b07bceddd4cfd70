// Via (RFC 3261 §20.42, §18.2.1): the path a response retraces. Transactions key on the top Via's branch
// and sent-by (§17.2.3), so this is one of the headers parsed eagerly.
import { isIP } from 'node:net';
import { badRequest } from './errors.js';
import {
  formatParams,
  getParam,
  isHostname,
  isToken,
  parseParams,
  skipWs,
  splitTopLevel,
  trimWs,
  type Param,
} from './grammar.js';
import { parsePort } from './uri.js';

export const MAGIC_COOKIE = 'z9hG4bK';

export interface Via {
  protocolName: string;
  protocolVersion: string;
  transport: string;
  host: string;
  port: number | null;
  params: Param[];
}

/** SP, HT, ':' and ';' end a sent-by host. */
const endsHost = (c: number) => c === 32 || c === 9 || c === 58 || c === 59;
const isDigit = (c: number) => c >= 48 && c <= 57;

/** SP, HT and '/' end a sent-protocol part; ';' too ends the transport. */
const endsPart = (c: number, semi: boolean) => c === 32 || c === 9 || c === 47 || (semi && c === 59);

/** Reads "name / version / transport" and the whitespace after it; -1 if malformed. Index-walked, not a regex: every Via of every message. */
function sentProtocol(v: string, out: string[]): number {
  let i = 0;
  for (let part = 0; part < 3; part++) {
    const start = i;
    while (i < v.length && !endsPart(v.charCodeAt(i), part === 2)) i++;
    const text = v.slice(start, i);
    if (!isToken(text)) return -1;
    out[part] = text;
    const after = skipWs(v, i);
    if (part < 2) {
      if (v.charCodeAt(after) !== 47) return -1;
      i = skipWs(v, after + 1);
    } else {
      // The transport and the sent-by are parted by whitespace.
      if (after === i) return -1;
      i = after;
    }
  }
  return i;
}

export function parseVia(value: string): Via {
  const v = trimWs(value);
  const parts: string[] = [];
  const at = sentProtocol(v, parts);
  if (at < 0) throw badRequest('Malformed Via sent-protocol');
  const [protocolName, protocolVersion, transport] = parts as [string, string, string];
  const rest = v.slice(at);
  let i = 0;
  let host: string;
  if (rest[0] === '[') {
    const close = rest.indexOf(']');
    host = close > 0 ? rest.slice(0, close + 1) : '';
    if (isIP(host.slice(1, -1)) !== 6) throw badRequest('Malformed IPv6 reference in Via sent-by');
    i = close + 1;
  } else {
    // Character codes rather than a regex per character: every Via of every message passes here.
    while (i < rest.length && !endsHost(rest.charCodeAt(i))) i++;
    host = rest.slice(0, i);
    if (!isHostname(host)) throw badRequest('Malformed Via sent-by host');
  }
  while (rest[i] === ' ' || rest[i] === '\t') i++;
  let port: number | null = null;
  if (rest[i] === ':') {
    i++;
    while (rest[i] === ' ' || rest[i] === '\t') i++;
    const start = i;
    while (isDigit(rest.charCodeAt(i))) i++;
    port = parsePort(rest.slice(start, i), 'Via sent-by');
  }
  const params = parseParams(rest.slice(i), 'Via');
  const branch = getParam(params, 'branch');
  if (branch === null || branch === '') throw badRequest('Via branch without a value');
  return { protocolName, protocolVersion, transport, host, port, params };
}

export function parseViaList(value: string): Via[] {
  return viaElements(value).map(viaElement);
}

/** The first element of a Via field: the others are left unparsed (a proxy reads only its own Via). */
export function parseTopVia(value: string): Via {
  return viaElement(viaElements(value)[0]!);
}

function viaElements(value: string): string[] {
  // Most Via fields hold one value: no split when nothing in it could be a separator or make the split
  // fail (a quote or '<' is left to splitTopLevel, so its fault and reason stay the same).
  return !value.includes(',') && !value.includes('"') && !value.includes('<')
    ? [value]
    : splitTopLevel(value, ',', 'Via');
}

function viaElement(text: string): Via {
  if (trimWs(text) === '') throw badRequest('Empty element in Via');
  return parseVia(text);
}

export function formatVia(v: Via): string {
  const port = v.port !== null ? `:${v.port}` : '';
  return `${v.protocolName}/${v.protocolVersion}/${v.transport} ${v.host}${port}${formatParams(v.params)}`;
}

export function branchOf(v: Via): string | null {
  return getParam(v.params, 'branch') ?? null;
}

/** sent-by as the key RFC 3261 §17.2.3 compares: host lower-cased, default port made explicit. */
export function sentByKey(v: Via): string {
  const tls = v.transport.toUpperCase() === 'TLS';
  return `${v.host.toLowerCase()}:${v.port ?? (tls ? 5061 : 5060)}`;
}
