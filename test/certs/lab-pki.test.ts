import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority, validateNodeCertificate } from '../../src/certs/index.js';
import { labPki } from '../../src/lab/lab-pki.js';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mra-pki-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const read = (f: string) => readFile(f, 'utf8');

test('first use makes a CA and node certificates; the second call reuses every file', async (t) => {
  const dir = join(await tempDir(t), 'pki');
  const first = await labPki(dir);
  const edge = await first.node('edge', ['edge.lab.example'], ['127.0.0.2']);
  const core = await first.node('core', ['core.lab.example']);
  assert.equal(edge.reused, false);
  assert.equal(core.reused, false);
  const before = { ca: await read(first.caFile), edge: await read(edge.certFile), edgeKey: await read(edge.keyFile) };
  assert.deepEqual(
    validateNodeCertificate({
      certPem: before.edge,
      keyPem: before.edgeKey,
      caPem: before.ca,
      requiredNames: ['edge.lab.example', '127.0.0.2'],
    }),
    [],
  );
  assert.equal((await stat(edge.keyFile)).mode & 0o777, 0o600, 'keys are private to the owner');

  const second = await labPki(dir);
  assert.equal(second.ca.cert, first.ca.cert);
  const edge2 = await second.node('edge', ['edge.lab.example'], ['127.0.0.2']);
  assert.deepEqual(edge2, { ...edge, reused: true });
  assert.equal(await read(edge2.certFile), before.edge);
  assert.equal(await read(edge2.keyFile), before.edgeKey);
  assert.equal((await second.node('core', ['core.lab.example'])).reused, true);
});

test('a node certificate is reissued when it no longer fits: new names, wrong key, expired, foreign CA', async (t) => {
  const dir = await tempDir(t);
  const pki = await labPki(dir);
  const files = await pki.node('edge', ['edge.lab.example']);
  const renamed = await pki.node('edge', ['edge.lab.example', 'collab-edge.lab.example']);
  assert.equal(renamed.reused, false, 'a name the configuration added forces a new certificate');
  assert.deepEqual(
    validateNodeCertificate({
      certPem: await read(files.certFile),
      keyPem: await read(files.keyFile),
      requiredNames: ['collab-edge.lab.example'],
    }),
    [],
  );

  const other = await pki.ca.issue({ commonName: 'edge.lab.example' });
  await writeFile(files.keyFile, other.key);
  assert.equal((await pki.node('edge', ['edge.lab.example'])).reused, false, 'key mismatch');

  const old = await pki.ca.issue({
    commonName: 'edge.lab.example',
    notBefore: new Date(Date.now() - 20 * 86_400_000),
    notAfter: new Date(Date.now() - 86_400_000),
  });
  await writeFile(files.certFile, old.cert);
  await writeFile(files.keyFile, old.key);
  assert.equal((await pki.node('edge', ['edge.lab.example'])).reused, false, 'expired');

  const rogue = await CertificateAuthority.create({ commonName: 'rogue CA' });
  const foreign = await rogue.issue({ commonName: 'edge.lab.example' });
  await writeFile(files.certFile, foreign.cert);
  await writeFile(files.keyFile, foreign.key);
  assert.equal((await pki.node('edge', ['edge.lab.example'])).reused, false, 'foreign CA');
  assert.deepEqual(
    validateNodeCertificate({
      certPem: await read(files.certFile),
      keyPem: await read(files.keyFile),
      caPem: pki.ca.cert,
    }),
    [],
  );
});

test('a damaged CA is replaced, and the node certificates it signed follow', async (t) => {
  const dir = await tempDir(t);
  const first = await labPki(dir);
  await first.node('core', ['core.lab.example']);
  await writeFile(join(dir, 'ca-key.pem'), 'damaged');
  const second = await labPki(dir);
  assert.notEqual(second.ca.cert, first.ca.cert);
  const core = await second.node('core', ['core.lab.example']);
  assert.equal(core.reused, false);
  assert.deepEqual(
    validateNodeCertificate({
      certPem: await read(core.certFile),
      keyPem: await read(core.keyFile),
      caPem: await read(second.caFile),
    }),
    [],
  );
});

test('concurrent requests for one node issue it once; bad names are clear errors', async (t) => {
  const pki = await labPki(await tempDir(t));
  const [a, b] = await Promise.all([pki.node('edge', ['edge.lab.example']), pki.node('edge', ['edge.lab.example'])]);
  assert.deepEqual([a.reused, b.reused], [false, true]);
  await assert.rejects(pki.node('../etc/passwd', ['x.example.com']), /lab node name "\.\.\/etc\/passwd"/);
  await assert.rejects(
    pki.node('edge', ['not a name']),
    /dnsNames: "not a name" is neither a DNS host name nor an IP address/,
  );
  await assert.rejects(pki.node('edge', 'edge.lab.example' as unknown as string[]), /must be arrays/);
  await assert.rejects(labPki(''), /needs a directory/);
});

test('CertificateAuthority.load takes back a CA, and refuses what is not one', async () => {
  const ca = await CertificateAuthority.create({ commonName: 'load test CA', keyType: 'rsa-2048' });
  const again = await CertificateAuthority.load({ cert: ca.cert, key: ca.key });
  const leaf = await again.issue({ commonName: 'x.example.com', hash: 'SHA-512' });
  assert.deepEqual(validateNodeCertificate({ certPem: leaf.cert, keyPem: leaf.key, caPem: ca.cert }), []);
  const other = await CertificateAuthority.create({ commonName: 'other CA' });
  await assert.rejects(
    CertificateAuthority.load({ cert: ca.cert, key: other.key }),
    /does not belong to the CA certificate/,
  );
  await assert.rejects(CertificateAuthority.load({ cert: leaf.cert, key: leaf.key }), /is not a CA certificate/);
  await assert.rejects(CertificateAuthority.load({ cert: 'x', key: ca.key }), /not a readable PEM certificate/);
  await assert.rejects(CertificateAuthority.load({ cert: ca.cert, key: 'x' }), /not a readable unencrypted PEM key/);
  await assert.rejects(CertificateAuthority.create({ commonName: '' }), /commonName/);
  await assert.rejects(ca.issue({ commonName: 'x.example.com', days: -1 }), /days must be a positive number/);
  await assert.rejects(
    ca.issue({ commonName: 'x.example.com', notBefore: new Date(), notAfter: new Date(Date.now() - 1000) }),
    /must be after notBefore/,
  );
  await assert.rejects(ca.issue({ commonName: 'x.example.com', ipAddresses: ['1.2.3'] }), /ipAddresses: "1\.2\.3"/);
});
