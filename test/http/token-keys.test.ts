import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, exportJWK, generateKeyPair, type JWTPayload } from 'jose';
import { TokenKeys } from '../../src/http/index.js';

const ISSUER = 'https://cucm-pub.example.com/ssosp/oauth';

/** Call control's issuer: an ES256 key published as JWKS, and tokens signed with it. */
async function issuer(kid = 'cucm-1') {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const now = Math.floor(Date.now() / 1000);
  const sign = (claims: JWTPayload, header: Record<string, unknown> = {}) =>
    new SignJWT({ sub: 'mdude', iss: ISSUER, aud: 'mra-edge', iat: now, exp: now + 3600, ...claims })
      .setProtectedHeader({ alg: 'ES256', kid, ...header })
      .sign(privateKey);
  return { jwks: JSON.stringify({ keys: [jwk] }), sign, now };
}

async function keysFor(
  jwks: string,
  rules: ConstructorParameters<typeof TokenKeys>[1] = { issuers: [ISSUER], audience: 'mra-edge', clockToleranceS: 30 },
) {
  const keys = new TokenKeys(async () => jwks, rules);
  await keys.refresh();
  return keys;
}

test('a good token passes; bad iss, aud, nbf, exp, signature, key and algorithm are refused, each with its reason', async () => {
  const iss = await issuer();
  const keys = await keysFor(iss.jwks);
  const good = await keys.verify(await iss.sign({}));
  assert.ok(good.ok && good.claims.sub === 'mdude', JSON.stringify(good));

  const other = await issuer(); // the same kid, another key: a forgery
  const tampered = (await iss.sign({})).split('.');
  tampered[1] = Buffer.from(
    JSON.stringify({ sub: 'admin', iss: ISSUER, aud: 'mra-edge', exp: iss.now + 3600 }),
  ).toString('base64url');
  const cases: Array<[string, Promise<string> | string, RegExp]> = [
    ['another issuer', iss.sign({ iss: 'https://evil.example.net' }), /issuer \(iss\)/],
    ['no issuer', iss.sign({ iss: undefined }), /iss/],
    ['another audience', iss.sign({ aud: 'some-other-service' }), /audience \(aud\)/],
    ['not valid yet', iss.sign({ nbf: iss.now + 600 }), /not valid yet \(nbf\)/],
    ['expired', iss.sign({ exp: iss.now - 600 }), /expired/],
    ['no expiry', iss.sign({ exp: undefined }), /exp/],
    ['no user', iss.sign({ sub: undefined }), /sub/],
    ['signed by another key under the same kid', other.sign({}), /signature does not verify/],
    ['claims changed after signing', tampered.join('.'), /signature does not verify/],
    ['an unknown key', iss.sign({}, { kid: 'nobody' }), /unknown key/],
    [
      'alg none',
      `${Buffer.from('{"alg":"none","kid":"cucm-1"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'mdude', iss: ISSUER, aud: 'mra-edge', exp: iss.now + 60 })).toString('base64url')}.`,
      /algorithm|not a JWS/,
    ],
    ['garbage', 'not.a.token', /not a JWS|token/],
  ];
  for (const [name, token, reason] of cases) {
    const v = await keys.verify(await token);
    assert.equal(v.ok, false, name);
    assert.match((v as { reason: string }).reason, reason, name);
  }
});

test('a small clock skew is tolerated on exp and nbf, a larger one is not', async () => {
  const iss = await issuer();
  const keys = await keysFor(iss.jwks);
  assert.equal(
    (await keys.verify(await iss.sign({ exp: iss.now - 10 }))).ok,
    true,
    'expired 10 s ago: within 30 s of skew',
  );
  assert.equal((await keys.verify(await iss.sign({ nbf: iss.now + 10 }))).ok, true, 'valid in 10 s: within the skew');
  assert.equal((await keys.verify(await iss.sign({ exp: iss.now - 40 }))).ok, false);
  const strict = await keysFor(iss.jwks, { issuers: [ISSUER], audience: 'mra-edge', clockToleranceS: 0 });
  assert.equal((await strict.verify(await iss.sign({ exp: iss.now - 10 }))).ok, false, 'no skew configured: refused');
});

test('without configured issuers or audience any issuer whose key call control publishes passes; before the keys arrive every token is refused', async () => {
  const iss = await issuer();
  const open = await keysFor(iss.jwks, {});
  assert.equal((await open.verify(await iss.sign({ iss: 'https://cucm2.example.com', aud: undefined }))).ok, true);
  const empty = new TokenKeys(async () => iss.jwks);
  const v = await empty.verify(await iss.sign({}));
  assert.equal(v.ok, false);
  assert.match((v as { reason: string }).reason, /no token signing keys/);
});
