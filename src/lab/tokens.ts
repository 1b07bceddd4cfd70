import { createHash, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basicUser, findUser } from './lab-users.js';
import { readBody } from './lab-http.js';

/**
 * The lab's OAuth issuer (call control's role): self-describing ES256 access tokens with refresh tokens,
 * and the public keys (JWKS) that core fetches to verify them.
 */
export class LabTokenIssuer {
  readonly #key: KeyObject;
  readonly #public: KeyObject;
  readonly #jwk: Record<string, unknown>;
  readonly kid: string;
  readonly #refresh = new Map<string, { user: string; expires: number }>();

  constructor(
    readonly issuer: string,
    private readonly accessLifetimeS = 3600,
  ) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.#key = privateKey;
    this.#public = publicKey;
    const jwk = publicKey.export({ format: 'jwk' });
    this.kid = createHash('sha256').update(JSON.stringify(jwk)).digest('base64url').slice(0, 16);
    this.#jwk = { ...jwk, kid: this.kid, alg: 'ES256', use: 'sig' };
  }

  /** An access token for a user; `lifetimeS` may be negative to mint an expired one (tests). */
  accessToken(user: string, lifetimeS = this.accessLifetimeS): string {
    const now = Math.floor(Date.now() / 1000);
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const head = enc({ alg: 'ES256', kid: this.kid, typ: 'JWT' });
    const body = enc({
      sub: user,
      iss: this.issuer,
      iat: now,
      exp: now + lifetimeS,
      scope: 'UnifiedCommunications:readwrite',
      token_use: 'access',
    });
    const sig = sign('sha256', Buffer.from(`${head}.${body}`), { key: this.#key, dsaEncoding: 'ieee-p1363' });
    return `${head}.${body}.${sig.toString('base64url')}`;
  }

  /** The user an unexpired access token of this issuer names (IM and Presence checks XMPP sign-ins so). */
  verify(token: string): string | undefined {
    const [head = '', body = '', sig = ''] = token.split('.');
    const signed = verify(
      'sha256',
      Buffer.from(`${head}.${body}`),
      { key: this.#public, dsaEncoding: 'ieee-p1363' },
      Buffer.from(sig, 'base64url'),
    );
    if (!signed) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as {
        sub?: string;
        exp?: number;
        token_use?: string;
      };
      return claims.token_use === 'access' && typeof claims.exp === 'number' && claims.exp * 1000 > Date.now()
        ? claims.sub
        : undefined;
    } catch {
      return undefined;
    }
  }

  jwks(): string {
    return JSON.stringify({ keys: [this.#jwk] });
  }

  /** `POST /ssosp/oauth/token` (password or refresh_token grant) and `GET /ssosp/oauth/keys`; false when not ours. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    if (path === '/ssosp/oauth/keys' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(this.jwks());
      return true;
    }
    if (path !== '/ssosp/oauth/token') return false;
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' });
      res.end();
      return true;
    }
    void readBody(req, 16_384).then(
      (body) => {
        const form = new URLSearchParams(body.toString('utf8'));
        let user: string | undefined;
        if (form.get('grant_type') === 'password') {
          const basic = `Basic ${Buffer.from(`${form.get('username') ?? ''}:${form.get('password') ?? ''}`).toString('base64')}`;
          user = basicUser(basic)?.id;
        } else if (form.get('grant_type') === 'refresh_token') {
          const r = this.#refresh.get(form.get('refresh_token') ?? '');
          if (r && r.expires > Date.now() && findUser(r.user)) user = r.user;
        }
        if (!user) {
          res.writeHead(400, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ error: 'invalid_grant' }));
        }
        const refresh = randomBytes(24).toString('base64url');
        this.#refresh.set(refresh, { user, expires: Date.now() + 14 * 86_400_000 });
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(
          JSON.stringify({
            access_token: this.accessToken(user),
            token_type: 'Bearer',
            expires_in: this.accessLifetimeS,
            refresh_token: refresh,
          }),
        );
      },
      () => {
        res.writeHead(413);
        res.end();
      },
    );
    return true;
  }
}
