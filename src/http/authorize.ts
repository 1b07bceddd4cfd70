import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http2';
import { sharedSecret, type Store } from '../store/index.js';
import type { TokenKeys } from './token-keys.js';

/** The authorization settings (Configuration > Unified Communications > Configuration > Advanced). */
export interface AuthorizationSettings {
  /** Lifetime of a cached credential check and of an X-Auth session: "credentials refresh interval". */
  credentialsRefreshMs: number;
  /** How often expired entries are swept: "credentials cleanup interval". */
  cleanupMs: number;
  /** "Maximum authorizations per period", per user; 0 turns rate control off. */
  maxAuthorizationsPerPeriod: number;
  /** "Rate control period". */
  rateControlPeriodMs: number;
}

export type Authorization =
  | { ok: true; user: string; via: 'session' | 'basic' | 'cached' | 'token'; session?: string }
  | { ok: false; status: 401 | 429 | 502; reason: string; staleSession?: true; noCredentials?: true };

/** Asks call control whether user and password are good: true, false, or throws when it cannot tell. */
export type CredentialCheck = (user: string, password: string) => Promise<boolean>;

interface Entry {
  user: string;
  expires: number;
}

const NS_CREDENTIALS = 'http:credentials';
const NS_SESSIONS = 'http:sessions';
const NS_RATE = 'http:authz-rate';

/**
 * Core's authorization of edge requests. The edge forwards whatever the client sent and keeps nothing; core
 * checks it here: an X-Auth session (bound to one user, expiring), Basic credentials (checked against call
 * control, then cached as a salted hash only), or a self-describing OAuth token (verified locally).
 */
export class Authorizer {
  // A salt a store dump does not hold, so a leaked dump names users but cannot be used to test passwords offline:
  // the process's own, or in a cluster the cluster's shared secret, so a check cached by one core serves them all.
  readonly #salt: Promise<Buffer>;
  readonly #timer: NodeJS.Timeout;
  readonly stats = { basic: 0, cached: 0, token: 0, session: 0, failed: 0, rateLimited: 0, challenged: 0 };

  constructor(
    private readonly store: Store,
    private readonly settings: AuthorizationSettings,
    private readonly checkCredentials: CredentialCheck,
    private readonly tokens: TokenKeys,
  ) {
    this.#salt = store.shared ? sharedSecret(store, 'credentials-salt') : Promise.resolve(randomBytes(16));
    this.#salt.catch(() => {}); // a store that fails here fails the first Basic check, which says so
    this.#timer = setInterval(() => void this.cleanup(), settings.cleanupMs);
    this.#timer.unref();
  }

  close(): void {
    clearInterval(this.#timer);
  }

  async authorize(headers: IncomingHttpHeaders, opts: { issueSession: boolean }): Promise<Authorization> {
    const auth = typeof headers.authorization === 'string' ? headers.authorization : undefined;
    const cookie = xAuthCookie(headers.cookie);
    if (cookie && !auth) {
      const s = await this.store.get<Entry>(NS_SESSIONS, cookie);
      if (s && s.expires > Date.now()) {
        this.stats.session++;
        return { ok: true, user: s.user, via: 'session' };
      }
      // Not a guess (a session id is 122 random bits): a client after a core restart or expiry, not an intruder.
      this.stats.failed++;
      return {
        ok: false,
        status: 401,
        reason: 'X-Auth session is unknown or has expired; sign in again',
        staleSession: true,
      };
    }
    if (!auth) {
      // The first request of an HTTP Basic exchange carries nothing and is answered with the challenge
      // (RFC 9110 11.6.1): not a failed attempt, so intrusion protection does not count it (as Expressway counts
      // only rejected credentials and tokens in "HTTP proxy authorization failure").
      this.stats.challenged++;
      return {
        ok: false,
        status: 401,
        reason: 'authorization required (Basic credentials, a bearer token, or an X-Auth session)',
        noCredentials: true,
      };
    }
    const [scheme, value = ''] = auth.trim().split(/\s+/, 2) as [string, string?];
    let result: Authorization;
    if (/^basic$/i.test(scheme)) result = await this.#basic(value);
    else if (/^bearer$/i.test(scheme)) result = await this.#bearer(value, opts.issueSession);
    else return this.#fail(401, `authorization scheme ${scheme.slice(0, 16)} is not supported`);
    if (result.ok && opts.issueSession) {
      result.session = randomUUID();
      await this.store.set<Entry>(NS_SESSIONS, result.session, {
        user: result.user,
        expires: Date.now() + this.settings.credentialsRefreshMs,
      });
    }
    return result;
  }

  /** The user of a live X-Auth session the request carries, if any (maintenance mode lets these through). */
  async sessionUser(headers: IncomingHttpHeaders): Promise<string | undefined> {
    const cookie = xAuthCookie(headers.cookie);
    const s = cookie ? await this.store.get<Entry>(NS_SESSIONS, cookie) : undefined;
    return s && s.expires > Date.now() ? s.user : undefined;
  }

  /** Removes expired cached credentials and sessions; until then an expired entry is refused, not used. */
  async cleanup(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const ns of [NS_CREDENTIALS, NS_SESSIONS]) {
      for (const [k, e] of await this.store.entries<Entry>(ns))
        if (e.expires <= now && (await this.store.delete(ns, k))) removed++;
    }
    return removed;
  }

  async counts(): Promise<{ cachedCredentials: number; sessions: number }> {
    return { cachedCredentials: await this.store.count(NS_CREDENTIALS), sessions: await this.store.count(NS_SESSIONS) };
  }

  async #rateLimited(user: string): Promise<boolean> {
    const { maxAuthorizationsPerPeriod: max, rateControlPeriodMs } = this.settings;
    if (max <= 0) return false;
    return (await this.store.incr(NS_RATE, user.toLowerCase(), rateControlPeriodMs)) > max;
  }

  async #basic(value: string): Promise<Authorization> {
    const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(value) ? Buffer.from(value, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (colon <= 0 || /[\x00-\x1f]/.test(decoded)) return this.#fail(401, 'Basic credentials are malformed');
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    if (await this.#rateLimited(user)) return this.#limit(user);
    const key = createHash('sha256')
      .update(await this.#salt)
      .update(user)
      .update('\0')
      .update(password)
      .digest('base64url');
    const cached = await this.store.get<Entry>(NS_CREDENTIALS, key);
    if (cached && cached.expires > Date.now()) {
      this.stats.cached++;
      return { ok: true, user, via: 'cached' };
    }
    let good: boolean;
    try {
      good = await this.checkCredentials(user, password);
    } catch (err) {
      return {
        ok: false,
        status: 502,
        reason: `call control could not check the credentials: ${(err as Error).message}`,
      };
    }
    if (!good) return this.#fail(401, 'user name or password not accepted by call control');
    await this.store.set<Entry>(NS_CREDENTIALS, key, {
      user,
      expires: Date.now() + this.settings.credentialsRefreshMs,
    });
    this.stats.basic++;
    return { ok: true, user, via: 'basic' };
  }

  /** A token is verified locally on every request; only a sign-in with it counts towards rate control. */
  async #bearer(token: string, signIn: boolean): Promise<Authorization> {
    const v = await this.tokens.verify(token);
    if (!v.ok) return this.#fail(401, v.reason);
    if (signIn && (await this.#rateLimited(v.claims.sub))) return this.#limit(v.claims.sub);
    this.stats.token++;
    return { ok: true, user: v.claims.sub, via: 'token' };
  }

  #fail(status: 401, reason: string): Authorization {
    this.stats.failed++;
    return { ok: false, status, reason };
  }

  #limit(user: string): Authorization {
    this.stats.rateLimited++;
    return { ok: false, status: 429, reason: `too many authorizations for ${user}; wait for the rate control period` };
  }
}

function xAuthCookie(cookie: string | string[] | undefined): string | undefined {
  if (!cookie) return undefined;
  for (const part of (Array.isArray(cookie) ? cookie.join('; ') : cookie).split(/;\s*/)) {
    const m = /^X-Auth=([0-9a-f-]{36})$/i.exec(part);
    if (m) return m[1]!.toLowerCase();
  }
  return undefined;
}
