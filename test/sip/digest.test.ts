// The one SIP digest module: RFC 2617's own worked example, a client's answer checked by the registrar's
// arithmetic, nc counting, and nonces that are the registrar's own and age.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DigestCredentials, NonceIssuer, digestResponse, parseChallenge, parseDigest } from '../../src/lab/digest.js';

test('RFC 2617 §3.5 example: the response value', () => {
  const p = {
    username: 'Mufasa',
    realm: 'testrealm@host.com',
    nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
    uri: '/dir/index.html',
    qop: 'auth',
    nc: '00000001',
    cnonce: '0a4f113b',
  };
  assert.equal(digestResponse(p, 'Circle Of Life', 'GET'), '6629fae49393a05397450978507c4ef1');
});

test('challenges: quoted and token values, qop lists, stale, and what cannot be answered', () => {
  const c = parseChallenge(
    'Digest realm="example.com", nonce="a\\"b", qop="auth-int,auth", algorithm=MD5, stale=TRUE, opaque="o"',
  );
  assert.deepEqual(c, { realm: 'example.com', nonce: 'a"b', opaque: 'o', algorithm: 'MD5', qop: 'auth', stale: true });
  assert.equal(parseChallenge('Digest realm="x", nonce="n"')?.qop, undefined);
  assert.equal(parseChallenge('Basic realm="x"'), null);
  assert.equal(parseChallenge('Digest realm="x"'), null, 'no nonce');
  assert.equal(parseChallenge('Digest realm="x", nonce="n", algorithm=SHA-256'), null, 'only MD5 is answered');
});

test('a client answer verifies with the registrar arithmetic, and nc counts up per request', () => {
  const creds = new DigestCredentials('alice', 'alice-pw');
  assert.equal(creds.authorization('REGISTER', 'sip:example.com'), null, 'nothing to sign before a challenge');
  creds.accept(parseChallenge('Digest realm="example.com", nonce="n1", qop="auth"')!);
  for (const nc of ['00000001', '00000002']) {
    const a = parseDigest(creds.authorization('REGISTER', 'sip:example.com')!)!;
    assert.equal(a.nc, nc);
    const want = digestResponse(
      { username: a.username!, realm: a.realm!, nonce: a.nonce!, uri: a.uri!, qop: a.qop, nc: a.nc, cnonce: a.cnonce },
      'alice-pw',
      'REGISTER',
    );
    assert.equal(a.response, want);
    assert.notEqual(
      a.response,
      digestResponse(
        {
          username: 'alice',
          realm: 'example.com',
          nonce: 'n1',
          uri: 'sip:example.com',
          qop: 'auth',
          nc,
          cnonce: a.cnonce,
        },
        'wrong',
        'REGISTER',
      ),
    );
  }
});

test("nonces: the issuer's own pass, forged ones do not, old ones are stale", async () => {
  const issuer = new NonceIssuer(50);
  const n = issuer.issue();
  assert.equal(issuer.check(n), 'ok');
  assert.equal(new NonceIssuer().check(n), 'bad', 'another key');
  assert.equal(issuer.check(`${n}x`), 'bad');
  assert.equal(issuer.check('garbage'), 'bad');
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(issuer.check(n), 'stale');
});
