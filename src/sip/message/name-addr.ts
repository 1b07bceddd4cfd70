// name-addr / addr-spec values (To, From, Contact, Route, Record-Route, Path, Reply-To): RFC 3261 §20.10,
// §25.1. Parameters after an addr-spec belong to the header, never to the URI, which is why a URI with
// ';', ',' or '?' must be written inside angle brackets.
import { badRequest } from './errors.js';
import {
  formatParams,
  getParam,
  isToken,
  parseParams,
  quote,
  readQuoted,
  skipWs,
  splitTopLevel,
  trimWs,
  type Param,
} from './grammar.js';
import { formatUri, parseUri, type Uri } from './uri.js';

export interface NameAddr {
  displayName: string | null;
  /** the display name was a quoted-string (it may hold characters a token cannot). */
  displayQuoted: boolean;
  uri: Uri;
  params: Param[];
  /** written as <uri>; serialization keeps that choice. */
  angle: boolean;
}

export function parseNameAddr(value: string, what: string): NameAddr {
  const s = trimWs(value);
  let i = 0;
  let displayName: string | null = null;
  let displayQuoted = false;
  if (s[0] === '"') {
    [displayName, i] = readQuoted(s, 0, what);
    displayQuoted = true;
    i = skipWs(s, i);
    if (s[i] !== '<') throw badRequest(`Display name without <addr-spec> in ${what}`);
  } else {
    const lt = s.indexOf('<');
    if (lt >= 0) {
      const words = trimWs(s.slice(0, lt));
      if (words !== '') {
        for (const w of words.split(/[ \t]+/)) if (!isToken(w)) throw badRequest(`Malformed display name in ${what}`);
        displayName = words;
      }
      i = lt;
    }
  }
  if (s[i] === '<') {
    const gt = s.indexOf('>', i);
    if (gt < 0) throw badRequest(`Unterminated <addr-spec> in ${what}`);
    const uri = parseUri(s.slice(i + 1, gt), what);
    return { displayName, displayQuoted, uri, params: parseParams(s.slice(gt + 1), what), angle: true };
  }
  const semi = s.indexOf(';');
  const spec = trimWs(semi >= 0 ? s.slice(0, semi) : s);
  if (/[,?]/.test(spec) || /\s/.test(spec)) throw badRequest(`Malformed addr-spec in ${what}`);
  const uri = parseUri(spec, what);
  return { displayName, displayQuoted, uri, params: parseParams(semi >= 0 ? s.slice(semi) : '', what), angle: false };
}

export function formatNameAddr(n: NameAddr): string {
  let out = '';
  if (n.displayName !== null) out += `${n.displayQuoted ? quote(n.displayName) : n.displayName} `;
  const uri = formatUri(n.uri);
  // Without brackets a URI carrying ';' '?' or ',' would be misread, so those always get them.
  const angle = n.angle || n.displayName !== null || /[;?,]/.test(uri);
  out += angle ? `<${uri}>` : uri;
  return out + formatParams(n.params);
}

/** Comma-separated lists of name-addr (Contact, Route, Record-Route, Path). */
export function parseNameAddrList(value: string, what: string): NameAddr[] {
  const parts = splitTopLevel(value, ',', what);
  // Every element is checked for emptiness before any is parsed, so the fault reported stays the same.
  for (let i = 0; i < parts.length; i++)
    if ((parts[i] = trimWs(parts[i]!)) === '') throw badRequest(`Empty element in ${what}`);
  const out: NameAddr[] = [];
  for (const p of parts) out.push(parseNameAddr(p, what));
  return out;
}

export type ContactList = NameAddr[] | '*';

/** Contact allows the wildcard "*" alone (REGISTER removing all bindings, RFC 3261 §10.2.2). */
export function parseContactList(value: string): ContactList {
  if (trimWs(value) === '*') return '*';
  return parseNameAddrList(value, 'Contact');
}

export function tagOf(n: NameAddr): string | null {
  return getParam(n.params, 'tag') ?? null;
}

export function nameAddr(uri: Uri, params: Param[] = []): NameAddr {
  return { displayName: null, displayQuoted: false, uri, params, angle: true };
}
