// HTTP Digest as SIP uses it (RFC 3261 §22.4 over RFC 2617: MD5, with or without qop=auth, as Unified CM
// and Kamailio challenge). Both sides live here so there is one implementation: a client answering a 401/407
// and signing later requests with nc counting up (the lab client, the load clients), and a registrar issuing
// nonces and checking answers (the lab call control). The proxies never hold a user's password.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm: string;
  qop?: string;
  stale: boolean;
}

/** What an answer is computed from (the Authorization header's fields, less the response itself). */
export interface DigestInput {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  qop?: string;
  nc?: string;
  cnonce?: string;
}

const PARAM = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;

/** The auth-params of a WWW-Authenticate / Authorization value ("Digest a=b, c="d""), names lower case. */
export function parseDigest(value: string): Record<string, string> | null {
  const m = /^\s*Digest\s+/i.exec(value);
  if (!m) return null;
  const out: Record<string, string> = {};
  for (const p of value.slice(m[0].length).matchAll(PARAM))
    out[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  return out;
}

/** A challenge a client can answer; null when it is not Digest, lacks realm or nonce, or is not MD5. */
export function parseChallenge(value: string): DigestChallenge | null {
  const p = parseDigest(value);
  if (!p || p.realm === undefined || p.nonce === undefined) return null;
  const algorithm = p.algorithm ?? 'MD5';
  if (algorithm.toUpperCase() !== 'MD5') return null;
  const qops = p.qop?.split(',').map((q) => q.trim().toLowerCase());
  return {
    realm: p.realm,
    nonce: p.nonce,
    opaque: p.opaque,
    algorithm,
    qop: qops?.includes('auth') ? 'auth' : undefined,
    stale: p.stale?.toLowerCase() === 'true',
  };
}

function answerWith(ha1: string, p: DigestInput, method: string): string {
  const ha2 = md5(`${method}:${p.uri}`);
  return p.qop ? md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`) : md5(`${ha1}:${p.nonce}:${ha2}`);
}

/** The response value for a request (RFC 2617 §3.2.2.1). */
export function digestResponse(p: DigestInput, password: string, method: string): string {
  return answerWith(md5(`${p.username}:${p.realm}:${password}`), p, method);
}

/** A credential cache for one user: answers a challenge, then signs later requests with nc counting up. */
export class DigestCredentials {
  #challenge: DigestChallenge | null = null;
  #nc = 0;
  #ha1 = '';

  constructor(
    readonly username: string,
    readonly password: string,
  ) {}

  get ready(): boolean {
    return this.#challenge !== null;
  }

  accept(challenge: DigestChallenge): void {
    this.#challenge = challenge;
    this.#nc = 0;
    // HA1 once per challenge: a load client signs thousands of refreshes with the same one.
    this.#ha1 = md5(`${this.username}:${challenge.realm}:${this.password}`);
  }

  forget(): void {
    this.#challenge = null;
  }

  /** The Authorization header value for `method uri`, or null before any challenge. */
  authorization(method: string, uri: string): string | null {
    const c = this.#challenge;
    if (!c) return null;
    const input: DigestInput = { username: this.username, realm: c.realm, nonce: c.nonce, uri };
    if (c.qop)
      Object.assign(input, {
        qop: 'auth',
        nc: (++this.#nc).toString(16).padStart(8, '0'),
        cnonce: randomBytes(8).toString('hex'),
      });
    const parts = [
      `Digest username="${this.username}"`,
      `realm="${c.realm}"`,
      `nonce="${c.nonce}"`,
      `uri="${uri}"`,
      `response="${answerWith(this.#ha1, input, method)}"`,
    ];
    if (input.qop) parts.push('qop=auth', `nc=${input.nc}`, `cnonce="${input.cnonce}"`);
    parts.push(`algorithm=${c.algorithm}`);
    if (c.opaque !== undefined) parts.push(`opaque="${c.opaque}"`);
    return parts.join(', ');
  }
}

/**
 * Nonces a registrar need not remember: a timestamp signed with its key, so any nonce it issued can be
 * checked for authenticity and age without a table (one per pending challenge would grow without bound).
 */
export class NonceIssuer {
  readonly #key = randomBytes(32);

  constructor(private readonly lifetimeMs = 300_000) {}

  issue(): string {
    const ts = Date.now().toString(36);
    return `${ts}.${this.#mac(ts)}`;
  }

  /** 'ok', 'stale' (ours but expired: RFC 2617 stale=true) or 'bad'. */
  check(nonce: string): 'ok' | 'stale' | 'bad' {
    const [ts, mac] = nonce.split('.');
    if (!ts || !mac) return 'bad';
    const want = Buffer.from(this.#mac(ts));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return 'bad';
    return Date.now() - parseInt(ts, 36) > this.lifetimeMs ? 'stale' : 'ok';
  }

  #mac(ts: string): string {
    return createHmac('sha256', this.#key).update(ts).digest('base64url').slice(0, 22);
  }
}
