// Header field names: compact forms (RFC 3261 §7.3.3 and the extensions that define one) map to one
// canonical lower-case key, so lookups never care how the sender spelled a name.
import { isToken } from './grammar.js';

const COMPACT: Record<string, string> = {
  a: 'accept-contact',
  b: 'referred-by',
  c: 'content-type',
  d: 'request-disposition',
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact',
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
};

// Names whose usual spelling is not plain Title-Case of their parts.
const DISPLAY: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  'rack': 'RAck',
  'rseq': 'RSeq',
};

/** Single-valued headers: a second occurrence makes a request malformed (RFC 4475 §3.1.2.17). */
export const SINGLE_VALUED = new Set(['to', 'from', 'call-id', 'cseq', 'max-forwards', 'content-length', 'content-type']);

// Senders use a handful of spellings, so the mapping is memoised; the bound keeps hostile input from
// growing it without limit.
const KEYS = new Map<string, string>();

export function headerKey(name: string): string {
  let key = KEYS.get(name);
  if (key === undefined) {
    const lower = name.toLowerCase();
    key = Object.hasOwn(COMPACT, lower) ? COMPACT[lower]! : lower;
    if (KEYS.size < 4096) KEYS.set(name, key);
  }
  return key;
}

// Field names as received that were found to be tokens (RFC 3261 §25.1), with their keys: the parser checks
// and maps every name of every message, and one Map hit does both. Same bound as above.
const TOKEN_KEYS = new Map<string, string>();

/** The key of a field name as received, or undefined when the name is not a token. */
export function fieldKey(name: string): string | undefined {
  let key = TOKEN_KEYS.get(name);
  if (key === undefined) {
    if (!isToken(name)) return undefined;
    key = headerKey(name);
    if (TOKEN_KEYS.size < 4096) TOKEN_KEYS.set(name, key);
  }
  return key;
}

// Proxies add the same few fields to every message they forward (Via, Path, X-MRA-Correlation...), so the
// capitalised spelling is memoised too, with the same bound.
const DISPLAY_NAMES = new Map<string, string>();

export function displayName(key: string): string {
  let name = DISPLAY_NAMES.get(key);
  if (name === undefined) {
    name = Object.hasOwn(DISPLAY, key) ? DISPLAY[key]! : key.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
    if (DISPLAY_NAMES.size < 4096) DISPLAY_NAMES.set(key, name);
  }
  return name;
}
