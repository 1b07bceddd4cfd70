import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import {
  CertificateAuthority,
  checkPeerCertificate,
  validateNodeCertificate,
  type CertProblem,
} from '../../src/certs/index.js';

const DAY = 86_400_000;
const NAME = 'edge.example.com';
const codes = (ps: CertProblem[]) => ps.map((p) => p.code).sort();

const ca = await CertificateAuthority.create({ commonName: 'validate test CA' });
const good = await ca.issue({
  commonName: NAME,
  dnsNames: [NAME, 'collab-edge.example.com'],
  ipAddresses: ['192.0.2.10', '2001:db8::10'],
});

test('a well-made node certificate has no problems, and each message names the certificate', () => {
  assert.deepEqual(
    validateNodeCertificate({
      certPem: good.cert,
      keyPem: good.key,
      caPem: ca.cert,
      requiredNames: [NAME, '192.0.2.10'],
    }),
    [],
  );
});

test('unreadable: garbage certificate, garbage key, password-protected key, garbage CA file', () => {
  assert.deepEqual(codes(validateNodeCertificate({ certPem: 'not a cert', keyPem: good.key })), ['unreadable']);
  const broken = good.cert.replace(/^(-----BEGIN CERTIFICATE-----\n)(.{10})/, '$1AAAAAAAAAA');
  assert.deepEqual(codes(validateNodeCertificate({ certPem: broken, keyPem: good.key })), ['unreadable']);
  const badKey = validateNodeCertificate({
    certPem: good.cert,
    keyPem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
  });
  assert.deepEqual(codes(badKey), ['unreadable']);
  assert.match(badKey[0]!.message, /private key/);
  const locked = createPrivateKey(good.key).export({
    type: 'pkcs8',
    format: 'pem',
    cipher: 'aes-256-cbc',
    passphrase: 'secret',
  }) as string;
  const lockedProblems = validateNodeCertificate({ certPem: good.cert, keyPem: locked });
  assert.deepEqual(codes(lockedProblems), ['unreadable']);
  assert.match(lockedProblems[0]!.message, /password-protected/);
  assert.deepEqual(codes(validateNodeCertificate({ certPem: good.cert, keyPem: good.key, caPem: 'nothing here' })), [
    'unreadable',
  ]);
});

test("key-mismatch: a certificate with another certificate's key", async () => {
  const other = await ca.issue({ commonName: NAME, dnsNames: [NAME] });
  const ps = validateNodeCertificate({ certPem: good.cert, keyPem: other.key, caPem: ca.cert });
  assert.deepEqual(codes(ps), ['key-mismatch']);
  assert.match(ps[0]!.message, /CN=edge\.example\.com/);
});

test('expired and not-yet-valid: certificates dated in the past and in the future', async () => {
  const now = Date.now();
  const old = await ca.issue({
    commonName: NAME,
    dnsNames: [NAME],
    notBefore: new Date(now - 60 * DAY),
    notAfter: new Date(now - DAY),
  });
  const ps = validateNodeCertificate({ certPem: old.cert, keyPem: old.key, caPem: ca.cert });
  assert.deepEqual(codes(ps), ['expired']);
  assert.match(ps[0]!.message, /expired on \d{4}-\d\d-\d\d/);
  const early = await ca.issue({ commonName: NAME, dnsNames: [NAME], notBefore: new Date(now + DAY), days: 90 });
  assert.deepEqual(codes(validateNodeCertificate({ certPem: early.cert, keyPem: early.key, caPem: ca.cert })), [
    'not-yet-valid',
  ]);
  // The same certificate checked at a later "now" is fine: the check follows the clock it is given.
  assert.deepEqual(
    validateNodeCertificate({ certPem: early.cert, keyPem: early.key, caPem: ca.cert, now: new Date(now + 2 * DAY) }),
    [],
  );
});

test('near-expiry: within the window by default (30 days) and by the window asked for', async () => {
  const soon = await ca.issue({ commonName: NAME, dnsNames: [NAME], notAfter: new Date(Date.now() + 10 * DAY) });
  const ps = validateNodeCertificate({ certPem: soon.cert, keyPem: soon.key, caPem: ca.cert });
  assert.deepEqual(codes(ps), ['near-expiry']);
  assert.match(ps[0]!.message, /\b(9|10) days left/);
  assert.deepEqual(
    validateNodeCertificate({ certPem: soon.cert, keyPem: soon.key, caPem: ca.cert, nearExpiryDays: 5 }),
    [],
  );
});

test('missing-server-auth and missing-client-auth: certificates issued without each EKU', async () => {
  const serverOnly = await ca.issue({ commonName: NAME, dnsNames: [NAME], clientAuth: false });
  const ps = validateNodeCertificate({ certPem: serverOnly.cert, keyPem: serverOnly.key, caPem: ca.cert });
  assert.deepEqual(codes(ps), ['missing-client-auth']);
  assert.match(ps[0]!.message, /clientAuth/);
  const clientOnly = await ca.issue({ commonName: NAME, dnsNames: [NAME], serverAuth: false });
  assert.deepEqual(
    codes(validateNodeCertificate({ certPem: clientOnly.cert, keyPem: clientOnly.key, caPem: ca.cert })),
    ['missing-server-auth'],
  );
  // No EKU extension at all: TLS stacks would accept it, Expressway does not.
  const none = await ca.issue({ commonName: NAME, dnsNames: [NAME], serverAuth: false, clientAuth: false });
  assert.equal(new X509Certificate(none.cert).keyUsage, undefined);
  assert.deepEqual(codes(validateNodeCertificate({ certPem: none.cert, keyPem: none.key })), [
    'missing-client-auth',
    'missing-server-auth',
  ]);
});

test('san-missing: names the configuration needs and the certificate lacks, SAN only, no wildcards', async () => {
  const ps = validateNodeCertificate({
    certPem: good.cert,
    keyPem: good.key,
    requiredNames: ['EDGE.example.com.', '2001:DB8:0:0::10', 'xmpp.example.com', '192.0.2.11'],
  });
  assert.deepEqual(codes(ps), ['san-missing']);
  // Only the two absent names are listed: case, root dot and IPv6 spelling do not make a name missing.
  assert.match(ps[0]!.message, /no SAN entry for xmpp\.example\.com, 192\.0\.2\.11 \(SAN:/);
  // "SAN, not CN, is used for validation": a name only in the CN does not count (a CN that is a host
  // name is copied into the SAN at issue time, so this CN is deliberately not one).
  const cnOnly = await ca.issue({ commonName: 'Core Cluster', dnsNames: ['core1.example.com'] });
  assert.deepEqual(
    codes(validateNodeCertificate({ certPem: cnOnly.cert, keyPem: cnOnly.key, requiredNames: ['Core Cluster'] })),
    ['san-missing'],
  );
  const cnCopied = await ca.issue({ commonName: 'core-cluster', dnsNames: ['core1.example.com'] });
  assert.deepEqual(
    validateNodeCertificate({ certPem: cnCopied.cert, keyPem: cnCopied.key, requiredNames: ['core-cluster'] }),
    [],
  );
  const wild = await ca.issue({ commonName: 'wild', dnsNames: ['*.example.com'] }).catch((e: Error) => e);
  assert.ok(wild instanceof TypeError, 'a wildcard SAN is refused at issue time');
});

test("chain-untrusted: another CA's certificate, and a CA that has expired", async () => {
  const rogue = await CertificateAuthority.create({ commonName: 'rogue CA' });
  const foreign = await rogue.issue({ commonName: NAME, dnsNames: [NAME] });
  const ps = validateNodeCertificate({ certPem: foreign.cert, keyPem: foreign.key, caPem: ca.cert });
  assert.deepEqual(codes(ps), ['chain-untrusted']);
  assert.match(ps[0]!.message, /issuer CN=rogue CA/);
  // A bundle holding both CAs trusts it.
  assert.deepEqual(
    validateNodeCertificate({ certPem: foreign.cert, keyPem: foreign.key, caPem: ca.cert + rogue.cert }),
    [],
  );
  // Same subject, different key: the name alone must not make it trusted.
  const twin = await CertificateAuthority.create({ commonName: 'validate test CA' });
  assert.deepEqual(codes(validateNodeCertificate({ certPem: good.cert, keyPem: good.key, caPem: twin.cert })), [
    'chain-untrusted',
  ]);
  const later = new Date(Date.now() + 4000 * DAY);
  const longLeaf = await ca.issue({ commonName: NAME, dnsNames: [NAME], days: 5000 });
  const stale = validateNodeCertificate({ certPem: longLeaf.cert, keyPem: longLeaf.key, caPem: ca.cert, now: later });
  assert.deepEqual(codes(stale), ['chain-untrusted']);
  assert.match(stale[0]!.message, /expired/);
});

test('several problems at once are all reported', async () => {
  const rogue = await CertificateAuthority.create({ commonName: 'rogue CA' });
  const bad = await rogue.issue({
    commonName: 'x.example.com',
    clientAuth: false,
    notBefore: new Date(Date.now() - 9 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  const ps = validateNodeCertificate({ certPem: bad.cert, keyPem: good.key, caPem: ca.cert, requiredNames: [NAME] });
  assert.deepEqual(codes(ps), ['chain-untrusted', 'expired', 'key-mismatch', 'missing-client-auth', 'san-missing']);
});

test('checkPeerCertificate: the TLS verify subject name in SAN or CN, clientAuth, dates, PEM or DER', async () => {
  // The CN is not a host name, so it stays out of the SAN and only the CN path can match it.
  const core = await ca.issue({
    commonName: 'Core Cluster',
    dnsNames: ['core1.example.com', 'core-cluster.example.com'],
  });
  const der = new X509Certificate(core.cert).raw;
  for (const subjectName of ['core-cluster.example.com', 'CORE1.example.com', 'core cluster']) {
    assert.deepEqual(
      checkPeerCertificate({ certPem: core.cert, subjectName, requireClientAuth: true }),
      [],
      subjectName,
    );
    assert.deepEqual(
      checkPeerCertificate({ certPem: der, subjectName, requireClientAuth: true }),
      [],
      `${subjectName} (DER)`,
    );
  }
  const wrong = checkPeerCertificate({ certPem: core.cert, subjectName: 'other.example.com', requireClientAuth: true });
  assert.deepEqual(codes(wrong), ['san-missing']);
  assert.match(wrong[0]!.message, /"other\.example\.com"/);
  assert.deepEqual(codes(checkPeerCertificate({ certPem: core.cert, subjectName: '', requireClientAuth: true })), [
    'san-missing',
  ]);
  const serverOnly = await ca.issue({ commonName: 'core-cluster', clientAuth: false });
  assert.deepEqual(
    codes(checkPeerCertificate({ certPem: serverOnly.cert, subjectName: 'core-cluster', requireClientAuth: true })),
    ['missing-client-auth'],
  );
  assert.deepEqual(
    checkPeerCertificate({ certPem: serverOnly.cert, subjectName: 'core-cluster', requireClientAuth: false }),
    [],
  );
  const clientOnly = await ca.issue({ commonName: NAME, serverAuth: false });
  assert.deepEqual(
    codes(
      checkPeerCertificate({
        certPem: clientOnly.cert,
        subjectName: NAME,
        requireClientAuth: false,
        requireServerAuth: true,
      }),
    ),
    ['missing-server-auth'],
  );
  const old = await ca.issue({
    commonName: 'core-cluster',
    notBefore: new Date(Date.now() - 9 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  assert.deepEqual(
    codes(checkPeerCertificate({ certPem: old.cert, subjectName: 'core-cluster', requireClientAuth: true })),
    ['expired'],
  );
  const soon = await ca.issue({ commonName: 'core-cluster', notAfter: new Date(Date.now() + DAY) });
  assert.deepEqual(
    checkPeerCertificate({ certPem: soon.cert, subjectName: 'core-cluster', requireClientAuth: true }),
    [],
    'near expiry is not a refusal',
  );
  assert.deepEqual(
    codes(checkPeerCertificate({ certPem: Buffer.from('garbage'), subjectName: 'x', requireClientAuth: true })),
    ['unreadable'],
  );
  assert.deepEqual(codes(checkPeerCertificate({ certPem: 'garbage', subjectName: 'x', requireClientAuth: true })), [
    'unreadable',
  ]);
});

test('chains through an intermediate: the node file carries it, the CA file holds only the root', async () => {
  const sub = await ca.issueIntermediate({ commonName: 'validate issuing CA' });
  const leaf = await sub.issue({ commonName: NAME, dnsNames: [NAME] });
  assert.equal((leaf.cert.match(/BEGIN CERTIFICATE/g) ?? []).length, 2, 'leaf then intermediate');
  assert.deepEqual(
    validateNodeCertificate({ certPem: leaf.cert, keyPem: leaf.key, caPem: ca.cert, requiredNames: [NAME] }),
    [],
  );
  const leafOnly = leaf.cert.slice(0, leaf.cert.indexOf('-----END CERTIFICATE-----') + 25);
  assert.deepEqual(codes(validateNodeCertificate({ certPem: leafOnly, keyPem: leaf.key, caPem: ca.cert })), [
    'chain-untrusted',
  ]);
  // Two levels down, the chain still reaches the root, and a reloaded intermediate keeps its chain.
  const again = await CertificateAuthority.load({ cert: sub.cert, key: sub.key });
  const deeper = await (await again.issueIntermediate({ commonName: 'second level CA' })).issue({
    commonName: NAME,
    dnsNames: [NAME],
  });
  assert.equal((deeper.cert.match(/BEGIN CERTIFICATE/g) ?? []).length, 3);
  assert.deepEqual(validateNodeCertificate({ certPem: deeper.cert, keyPem: deeper.key, caPem: ca.cert }), []);
  const rogue = await CertificateAuthority.create({ commonName: 'rogue CA' });
  assert.deepEqual(codes(validateNodeCertificate({ certPem: deeper.cert, keyPem: deeper.key, caPem: rogue.cert })), [
    'chain-untrusted',
  ]);
});
