// Header field names: compact forms (RFC 3261 §7.3.3 and the extensions that define one) map to one
// canonical lower-case key, so lookups never care how the sender spelled a name.

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

export function headerKey(name: string): string {
  const lower = name.toLowerCase();
  return COMPACT[lower] ?? lower;
}

export function displayName(key: string): string {
  return DISPLAY[key] ?? key.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}
