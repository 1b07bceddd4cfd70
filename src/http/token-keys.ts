import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

/**
 * OAuth self-describing tokens (JWS compact, ES256 or RS256) issued by call control. Core verifies them with
 * the issuer's public keys, fetched at start and at every refresh, so a forged or expired token is refused
 * without a round trip inside. jose does the JWS and JWT checks: signature, `exp`, `nbf`, `iss`, `aud`.
 */
export interface TokenClaims {
  sub: string;
  exp: number;
  iss?: string;
  scope?: string;
}

export type TokenVerdict = { ok: true; claims: TokenClaims } | { ok: false; reason: string };

export interface TokenRules {
  /** Accepted `iss` values; none: any (the key set already names who may sign). */
  issuers?: readonly string[];
  /** When set, `aud` must hold it. */
  audience?: string;
  /** Leeway on `exp` and `nbf` for clocks that differ a little (the seeds: keep every node on NTP). */
  clockToleranceS?: number;
}

/** Expressway and call control are kept on NTP; this much skew is drift, more is a clock to fix. */
export const DEFAULT_CLOCK_TOLERANCE_S = 30;
const ALGORITHMS = ['ES256', 'RS256'];

export class TokenKeys {
  #keySet: JWTVerifyGetKey | undefined;
  #size = 0;
  #fetchedAt = 0;

  constructor(
    private readonly fetchJwks: () => Promise<string>,
    private readonly rules: TokenRules = {},
  ) {}

  get size(): number {
    return this.#size;
  }

  get fetchedAt(): number {
    return this.#fetchedAt;
  }

  /** Replaces the key set with what call control publishes now; keeps the old set if the fetch fails. */
  async refresh(): Promise<void> {
    const doc = JSON.parse(await this.fetchJwks()) as { keys?: Array<Record<string, unknown>> };
    // Only signing keys of the two algorithms call control uses, each named: a token must say which key it used.
    const keys = (doc.keys ?? []).filter((k) => typeof k.kid === 'string' && ALGORITHMS.includes(String(k.alg)));
    this.#keySet = createLocalJWKSet({ keys } as unknown as JSONWebKeySet);
    this.#size = keys.length;
    this.#fetchedAt = Date.now();
  }

  async verify(token: string, now: Date = new Date()): Promise<TokenVerdict> {
    if (!this.#keySet) return { ok: false, reason: 'no token signing keys from call control yet' };
    try {
      const { payload } = await jwtVerify(token, this.#keySet, {
        algorithms: ALGORITHMS,
        ...(this.rules.issuers?.length ? { issuer: [...this.rules.issuers] } : {}),
        ...(this.rules.audience ? { audience: this.rules.audience } : {}),
        clockTolerance: this.rules.clockToleranceS ?? DEFAULT_CLOCK_TOLERANCE_S,
        currentDate: now,
        requiredClaims: ['exp', 'sub'],
      });
      if (typeof payload.sub !== 'string' || !payload.sub) return { ok: false, reason: 'token names no user' };
      return { ok: true, claims: payload as unknown as TokenClaims };
    } catch (err) {
      return { ok: false, reason: refusal(err) };
    }
  }
}

/** jose's error, in the words the client (401 body) and the log get. */
function refusal(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'token has expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    const claim = err.claim;
    if (claim === 'nbf') return 'token is not valid yet (nbf)';
    if (claim === 'iss') return 'token issuer (iss) is not one this core trusts';
    if (claim === 'aud') return 'token audience (aud) is not this service';
    return `token claim ${claim} ${err.reason === 'missing' ? 'is missing' : 'is not acceptable'}`;
  }
  if (err instanceof errors.JWKSNoMatchingKey) return 'token signed with an unknown key';
  if (err instanceof errors.JWKSMultipleMatchingKeys) return 'token names no key that matches one alone';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'token signature does not verify';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'token algorithm is not ES256 or RS256';
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'token is not a JWS';
  return `token refused: ${(err as Error).message}`;
}
