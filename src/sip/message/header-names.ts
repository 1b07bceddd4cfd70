// Header field names: compact forms (RFC 3261 §7.3.3 and the extensions that define one) map to one
// canonical lower-case key, so lookups never care how the sender spelled a name.
import { isToken } from './grammar.js';
import { RecentStrings, flatCopy } from './recent-strings.js';

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
  rack: 'RAck',
  rseq: 'RSeq',
};

/** Single-valued headers: a second occurrence makes a request malformed (RFC 4475 §3.1.2.17). */
export const SINGLE_VALUED = new Set([
  'to',
  'from',
  'call-id',
  'cseq',
  'max-forwards',
  'content-length',
  'content-type',
]);

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

/** A field name as received, resolved once: its key, and its bit if the header is single-valued (else 0). */
export interface FieldName {
  readonly key: string;
  readonly single: number;
}

// One bit per single-valued header: the parser's duplicate check needs no Set, and the bit rides on the
// same lookup that maps the name.
const SINGLE_BITS = new Map([...SINGLE_VALUED].map((key, i) => [key, 1 << i] as const));

// Field names as received that were found to be tokens (RFC 3261 §25.1), resolved: the parser checks and maps
// every name of every message, and one Map hit does all of it. Same bound as above.
const FIELD_NAMES = new Map<string, FieldName>();

// In front of the Map, the names met last (RecentStrings): a name sliced from a message has no hash yet.
const RECENT = new RecentStrings<FieldName>();

/** What a field name as received stands for, or undefined when the name is not a token. */
export function fieldName(name: string): FieldName | undefined {
  const recent = RECENT.get(name);
  if (recent !== undefined) return recent;
  let found = FIELD_NAMES.get(name);
  if (found === undefined) {
    if (!isToken(name)) return undefined;
    const kept = flatCopy(name);
    const key = headerKey(kept);
    found = Object.freeze({ key, single: SINGLE_BITS.get(key) ?? 0 });
    if (FIELD_NAMES.size < 4096) FIELD_NAMES.set(kept, found);
  }
  RECENT.set(name, found);
  return found;
}

// Proxies add the same few fields to every message they forward (Via, Path, X-MRA-Correlation...), so the
// capitalised spelling is memoised too, with the same bound.
const DISPLAY_NAMES = new Map<string, string>();

export function displayName(key: string): string {
  let name = DISPLAY_NAMES.get(key);
  if (name === undefined) {
    name = Object.hasOwn(DISPLAY, key)
      ? DISPLAY[key]!
      : key.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
    if (DISPLAY_NAMES.size < 4096) DISPLAY_NAMES.set(key, name);
  }
  return name;
}
