// Lexical pieces of RFC 3261 §25.1 shared by the header parsers. Everything works on unfolded header
// values (folding already turned into a single SP) and throws SipError with a reason naming the fault.
import { badRequest } from './errors.js';

const TOKEN_RE = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

export interface Param {
  name: string;
  /** null for a parameter without '=' (e.g. ";lr"). */
  value: string | null;
  /** the value was a quoted-string; kept so serialization quotes it again. */
  quoted?: boolean;
}

export function isToken(s: string): boolean {
  return TOKEN_RE.test(s);
}

export function isWs(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

export function skipWs(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  return i;
}

/** Strips SP and HT only: String.prototype.trim would also eat U+FEFF and other Unicode spaces. */
export function trimWs(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Folding (CRLF followed by whitespace) is equivalent to one SP (RFC 3261 §7.3.1). */
export function unfold(raw: string): string {
  return trimWs(raw.includes('\n') ? raw.replace(/\r?\n[ \t]+/g, ' ') : raw);
}

/** Reads a quoted-string starting at s[i] === '"'; returns the unescaped text and the index after it. */
export function readQuoted(s: string, i: number, what: string): [string, number] {
  let out = '';
  for (let j = i + 1; j < s.length; j++) {
    const c = s[j]!;
    if (c === '\\') {
      if (j + 1 >= s.length) break;
      out += s[++j];
    } else if (c === '"') {
      return [out, j + 1];
    } else {
      out += c;
    }
  }
  throw badRequest(`Unterminated quoted string in ${what}`);
}

export function quote(s: string): string {
  return `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/**
 * Splits at top-level separators: a separator inside a quoted string or inside <...> does not count,
 * because both may legally contain commas and semicolons (e.g. a display name "Bell, Alexander").
 */
export function splitTopLevel(s: string, sep: string, what: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let angle = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"' && !angle) {
      i = readQuoted(s, i, what)[1] - 1;
    } else if (c === '<') {
      angle = true;
    } else if (c === '>') {
      angle = false;
    } else if (c === sep && !angle) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  if (angle) throw badRequest(`Unbalanced angle brackets in ${what}`);
  parts.push(s.slice(start));
  return parts;
}

/** Parses ";name[=value]" pairs (header parameters, generic-param). Names are tokens; values token, host or quoted. */
export function parseParams(s: string, what: string): Param[] {
  const params: Param[] = [];
  let i = skipWs(s, 0);
  while (i < s.length) {
    if (s[i] !== ';') throw badRequest(`Unexpected character '${s[i]}' in ${what} parameters`);
    i = skipWs(s, i + 1);
    const nameStart = i;
    while (i < s.length && !isWs(s[i]) && s[i] !== '=' && s[i] !== ';') i++;
    const name = s.slice(nameStart, i);
    if (!isToken(name)) throw badRequest(`Malformed parameter name in ${what}`);
    i = skipWs(s, i);
    if (s[i] !== '=') {
      params.push({ name, value: null });
      continue;
    }
    i = skipWs(s, i + 1);
    if (s[i] === '"') {
      const [value, next] = readQuoted(s, i, what);
      params.push({ name, value, quoted: true });
      i = skipWs(s, next);
      continue;
    }
    const valueStart = i;
    while (i < s.length && !isWs(s[i]) && s[i] !== ';') i++;
    const value = s.slice(valueStart, i);
    // Besides tokens, a value may be an IPv6 address, bracketed (maddr) or bare (received, RFC 5118 §4.5).
    if (value === '' || !(isToken(value) || /^\[?[0-9A-Fa-f:.]+\]?$/.test(value))) {
      throw badRequest(`Malformed value of parameter '${name}' in ${what}`);
    }
    params.push({ name, value });
    i = skipWs(s, i);
  }
  return params;
}

export function formatParams(params: readonly Param[]): string {
  let out = '';
  for (const p of params) {
    out += `;${p.name}`;
    if (p.value !== null) out += `=${p.quoted ? quote(p.value) : p.value}`;
  }
  return out;
}

/** Parameter names are case-insensitive everywhere in SIP (RFC 3261 §7.3.1). */
export function getParam(params: readonly Param[], name: string): string | null | undefined {
  const lower = name.toLowerCase();
  for (const p of params) if (p.name.toLowerCase() === lower) return p.value;
  return undefined;
}

export function setParam(params: Param[], name: string, value: string | null): void {
  const lower = name.toLowerCase();
  const found = params.find((p) => p.name.toLowerCase() === lower);
  if (found) {
    found.value = value;
    delete found.quoted;
  } else {
    params.push({ name, value });
  }
}

/** Strict decimal for scalar fields: digits only, and small enough to be a 32-bit unsigned value. */
export function parseScalar(s: string, what: string, max = 0xffffffff): number {
  if (!/^\d{1,10}$/.test(s)) throw badRequest(`Malformed ${what}`);
  const n = Number(s);
  if (n > max) throw badRequest(`${what} out of range`);
  return n;
}
