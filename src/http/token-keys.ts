import { createPublicKey, verify, type KeyObject, type JsonWebKey } from 'node:crypto';

/**
 * OAuth self-describing tokens (JWS compact, ES256 or RS256) issued by call control. Core verifies them with
 * the issuer's public keys, fetched at start and at every refresh, so a forged or expired token is refused
 * without a round trip inside.
 */
export interface TokenClaims {
  sub: string;
  exp: number;
  iss?: string;
  scope?: string;
}

export type TokenVerdict = { ok: true; claims: TokenClaims } | { ok: false; reason: string };

export class TokenKeys {
  #keys = new Map<string, { key: KeyObject; alg: string }>();
  #fetchedAt = 0;

  constructor(private readonly fetchJwks: () => Promise<string>) {}

  get size(): number {
    return this.#keys.size;
  }

  get fetchedAt(): number {
    return this.#fetchedAt;
  }

  /** Replaces the key set with what call control publishes now; keeps the old set if the fetch fails. */
  async refresh(): Promise<void> {
    const doc = JSON.parse(await this.fetchJwks()) as { keys?: Array<JsonWebKey & { kid?: string; alg?: string }> };
    const next = new Map<string, { key: KeyObject; alg: string }>();
    for (const jwk of doc.keys ?? []) {
      if (!jwk.kid || (jwk.alg !== 'ES256' && jwk.alg !== 'RS256')) continue;
      next.set(jwk.kid, { key: createPublicKey({ key: jwk, format: 'jwk' }), alg: jwk.alg });
    }
    this.#keys = next;
    this.#fetchedAt = Date.now();
  }

  verify(token: string, nowS = Date.now() / 1000): TokenVerdict {
    const parts = token.split('.');
    if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) return { ok: false, reason: 'token is not a JWS' };
    let header: { alg?: string; kid?: string };
    let claims: Partial<TokenClaims>;
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    } catch {
      return { ok: false, reason: 'token header or claims are not JSON' };
    }
    const entry = header.kid ? this.#keys.get(header.kid) : undefined;
    if (!entry) return { ok: false, reason: 'token signed with an unknown key' };
    if (header.alg !== entry.alg) return { ok: false, reason: 'token algorithm does not match its key' };
    const data = Buffer.from(`${parts[0]}.${parts[1]}`);
    const sig = Buffer.from(parts[2]!, 'base64url');
    const good = entry.alg === 'ES256' ? verify('sha256', data, { key: entry.key, dsaEncoding: 'ieee-p1363' }, sig) : verify('sha256', data, entry.key, sig);
    if (!good) return { ok: false, reason: 'token signature does not verify' };
    if (typeof claims.sub !== 'string' || !claims.sub) return { ok: false, reason: 'token names no user' };
    if (typeof claims.exp !== 'number' || claims.exp <= nowS) return { ok: false, reason: 'token has expired' };
    return { ok: true, claims: claims as TokenClaims };
  }
}
