// SIP and SIPS URIs (RFC 3261 §19.1, §25.1) with IPv6 references (RFC 5118). Other schemes are kept as
// opaque absolute URIs: they are legal in To/From/Contact and in a Request-URI (a UAS answers 416).
import { isIP } from 'node:net';
import { badRequest } from './errors.js';
import { formatParams, isHostname, type Param } from './grammar.js';

export interface SipUri {
  kind: 'sip';
  scheme: 'sip' | 'sips';
  /** user part as written, escapes kept (decode with unescapeUri) so re-serialization is exact. */
  user: string | null;
  password: string | null;
  /** hostname, IPv4 address or bracketed IPv6 reference, as written. */
  host: string;
  port: number | null;
  params: Param[];
  /** the "?hname=hvalue&..." part without the '?', escapes kept. */
  headers: string | null;
}

export interface AbsoluteUri {
  kind: 'absolute';
  scheme: string;
  opaque: string;
}

export type Uri = SipUri | AbsoluteUri;

const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+\-.]*$/;
const ESC = '%[0-9A-Fa-f]{2}';
const UNRESERVED = "A-Za-z0-9\\-_.!~*'()";
const PASSWORD_RE = new RegExp(`^(?:[${UNRESERVED}&=+$,]|${ESC})*$`);
const HEADERS_RE = new RegExp(`^(?:[${UNRESERVED}\\[\\]/?:+$=&]|${ESC})*$`);
const OPAQUE_RE = /^[\x21-\x7e]+$/;

// The user part and each URI parameter (several per URI, several URIs per message) are checked with a table
// by character code rather than a regex per piece: same sets as the grammar, escapes (%XX) allowed in both.
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const UNRESERVED_CHARS = `${ALNUM}-_.!~*'()`;
const USER_CHARS = charTable(`${UNRESERVED_CHARS}&=+$,;?/`);
const PARAM_CHARS = charTable(`${UNRESERVED_CHARS}[]/:&+$`);

function charTable(chars: string): Uint8Array {
  const t = new Uint8Array(128);
  for (const c of chars) t[c.charCodeAt(0)] = 1;
  return t;
}

const isHex = (c: number) => (c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 102);

/** One or more characters of the set or %XX escapes. */
function escapedOf(s: string, set: Uint8Array): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (set[c] === 1) continue;
    if (c !== 37 || !isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) return false;
    i += 2;
  }
  return true;
}

export function parseUri(s: string, what = 'URI'): Uri {
  // The scheme nearly every URI has, recognised without a regex and a lower-casing.
  if (s.startsWith('sip:')) return parseSipUri('sip', s.slice(4), what);
  if (s.startsWith('sips:')) return parseSipUri('sips', s.slice(5), what);
  const colon = s.indexOf(':');
  const scheme = colon > 0 ? s.slice(0, colon) : '';
  if (!SCHEME_RE.test(scheme)) throw badRequest(`Malformed URI scheme in ${what}`);
  const lower = scheme.toLowerCase();
  const rest = s.slice(colon + 1);
  if (lower !== 'sip' && lower !== 'sips') {
    if (!OPAQUE_RE.test(rest)) throw badRequest(`Malformed ${scheme} URI in ${what}`);
    return { kind: 'absolute', scheme, opaque: rest };
  }
  return parseSipUri(lower, rest, what);
}

/** ':' ';' '?' end a hostname or IPv4 address in a SIP URI. */
const endsHost = (c: number) => c === 58 || c === 59 || c === 63;

function parseSipUri(scheme: 'sip' | 'sips', rest: string, what: string): SipUri {
  // '@' cannot appear unescaped after the userinfo (not in host, params or headers), so the first one ends it.
  const at = rest.indexOf('@');
  let user: string | null = null;
  let password: string | null = null;
  let hostPart = rest;
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    hostPart = rest.slice(at + 1);
    const pw = userinfo.indexOf(':');
    user = pw >= 0 ? userinfo.slice(0, pw) : userinfo;
    password = pw >= 0 ? userinfo.slice(pw + 1) : null;
    if (!escapedOf(user, USER_CHARS)) throw badRequest(`Malformed user part of ${what}`);
    if (password !== null && !PASSWORD_RE.test(password)) throw badRequest(`Malformed password in ${what}`);
  }
  let i = 0;
  let host: string;
  if (hostPart[0] === '[') {
    const close = hostPart.indexOf(']');
    if (close < 0) throw badRequest(`Unterminated IPv6 reference in ${what}`);
    host = hostPart.slice(0, close + 1);
    if (isIP(host.slice(1, -1)) !== 6) throw badRequest(`Malformed IPv6 reference in ${what}`);
    i = close + 1;
  } else {
    while (i < hostPart.length && !endsHost(hostPart.charCodeAt(i))) i++;
    host = hostPart.slice(0, i);
    if (!isHostname(host)) throw badRequest(`Malformed host in ${what}`);
  }
  let port: number | null = null;
  if (hostPart[i] === ':') {
    const start = ++i;
    while (i < hostPart.length && hostPart[i] !== ';' && hostPart[i] !== '?') i++;
    port = parsePort(hostPart.slice(start, i), what);
  }
  const q = hostPart.indexOf('?', i);
  const paramText = hostPart.slice(i, q >= 0 ? q : undefined);
  const headers = q >= 0 ? hostPart.slice(q + 1) : null;
  if (headers !== null && !HEADERS_RE.test(headers)) throw badRequest(`Malformed headers in ${what}`);
  return { kind: 'sip', scheme, user, password, host, port, params: parseUriParams(paramText, what), headers };
}

export function parsePort(s: string, what: string): number {
  // Digits read by code, not /^\d{1,5}$/ and Number(): a Via and several URIs per message carry a port.
  if (s.length < 1 || s.length > 5) throw badRequest(`Malformed port in ${what}`);
  let port = 0;
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) throw badRequest(`Malformed port in ${what}`);
    port = port * 10 + d;
  }
  if (port < 1 || port > 65535) throw badRequest(`Port out of range in ${what}`);
  return port;
}

function parseUriParams(s: string, what: string): Param[] {
  if (s === '') return [];
  if (s[0] !== ';') throw badRequest(`Malformed ${what}`);
  // Walked in place rather than slice/split/map: several URIs with a few parameters each, per message.
  const params: Param[] = [];
  for (let from = 1; ; ) {
    let end = s.indexOf(';', from);
    if (end < 0) end = s.length;
    const eq = s.indexOf('=', from);
    const name = s.slice(from, eq >= 0 && eq < end ? eq : end);
    const value = eq >= 0 && eq < end ? s.slice(eq + 1, end) : null;
    if (!escapedOf(name, PARAM_CHARS) || (value !== null && !escapedOf(value, PARAM_CHARS))) {
      throw badRequest(`Malformed URI parameter in ${what}`);
    }
    params.push({ name, value });
    if (end === s.length) return params;
    from = end + 1;
  }
}

export function formatUri(u: Uri): string {
  if (u.kind === 'absolute') return `${u.scheme}:${u.opaque}`;
  let out = `${u.scheme}:`;
  if (u.user !== null) out += `${u.user}${u.password !== null ? `:${u.password}` : ''}@`;
  out += u.host;
  if (u.port !== null) out += `:${u.port}`;
  out += formatParams(u.params);
  if (u.headers !== null) out += `?${u.headers}`;
  return out;
}

/** Decodes %XX escapes into UTF-8 text (a %00 stays a NUL character, RFC 4475 §3.1.1.4). */
export function unescapeUri(s: string): string {
  if (!s.includes('%')) return s;
  // Escapes are octets, and several of them may form one UTF-8 character, so decode to bytes first.
  const parts = s.split(/(%[0-9A-Fa-f]{2})/);
  const bytes = parts.map((p, i) => (i % 2 === 1 ? Buffer.from([parseInt(p.slice(1), 16)]) : Buffer.from(p, 'utf8')));
  return Buffer.concat(bytes).toString('utf8');
}

/** Host without IPv6 brackets, lower-cased: the form to compare or to hand to a socket. */
export function hostKey(host: string): string {
  return (host.startsWith('[') ? host.slice(1, -1) : host).toLowerCase();
}
