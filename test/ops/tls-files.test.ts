import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority } from '../../src/certs/index.js';
import { buildConfig, type EdgeConfig } from '../../src/config/index.js';
import { AlarmBoard } from '../../src/admin/index.js';
import { loadTls, raiseCertificateAlarms } from '../../src/node/tls-files.js';
import { capturedLogger } from '../support/log-capture.js';

const DAY = 86_400_000;

async function edgeWithDomainCerts(
  t: { after(fn: () => void): void },
  domainCerts: Array<{ cert: string; key: string }>,
) {
  const dir = mkdtempSync(join(tmpdir(), 'mra-tls-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = await CertificateAuthority.create({ commonName: 'mra-edge tls-files test CA' });
  const edge = await ca.issue({ commonName: 'edge.example.com', dnsNames: ['edge.example.com'] });
  const write = (name: string, body: string) => {
    writeFileSync(join(dir, name), body, { mode: 0o600 });
    return join(dir, name);
  };
  const cfg = buildConfig(
    {
      role: 'edge',
      name: 'edge1',
      tls: {
        cert_file: write('edge.pem', edge.cert),
        key_file: write('edge.key', edge.key),
        ca_file: write('ca.pem', ca.cert),
      },
      public: { address: '127.0.0.1' },
      traversal: {
        address: '127.0.0.1',
        tls_verify_subject_name: 'core.example.com',
        accounts: [
          {
            username: 'traversal',
            password_hash: 'scrypt$16384$8$1$LxUYFumXEjObCbCHRB/r2Q==$mNmOOK73riU8O2O3WEOC7wOdrYtohBgnn981rQ4hjKs=',
          },
        ],
      },
      http: {
        domain_certs: domainCerts.map((d, i) => ({
          cert_file: write(`d${i}.pem`, d.cert),
          key_file: write(`d${i}.key`, d.key),
        })),
      },
    },
    'tls-files test edge',
  ) as EdgeConfig;
  return { ca, cfg, dir };
}

test('SNI domain certificates are checked at start-up: each problem is an alarm naming its http.domain_certs entry', async (t) => {
  const ca = await CertificateAuthority.create({ commonName: 'mra-edge tls-files test CA' });
  const other = await CertificateAuthority.create({ commonName: 'someone else' });
  const good = await ca.issue({ commonName: 'collab-edge.example.com', dnsNames: ['collab-edge.example.com'] });
  const near = await ca.issue({ commonName: 'near.example.com', dnsNames: ['near.example.com'], days: 10 });
  const expired = await ca.issue({
    commonName: 'old.example.com',
    dnsNames: ['old.example.com'],
    notBefore: new Date(Date.now() - 40 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  const foreign = await other.issue({ commonName: 'foreign.example.com', dnsNames: ['foreign.example.com'] });
  const fx = await edgeWithDomainCerts(t, [good, near, expired, foreign]);
  // The edge's own CA file must vouch for the domain certificates too: write this test CA there.
  writeFileSync(fx.cfg.tls.ca_file, `${fx.ca.cert}\n${ca.cert}`);
  const { log, lines } = capturedLogger('edge1');
  const tls = loadTls(fx.cfg, log);
  const board = new AlarmBoard();
  raiseCertificateAlarms({ alarm: (id, sev, msg) => board.raise(id, sev, msg) }, tls.problems);
  const alarms = new Map(board.list().map((a) => [a.id, a]));
  assert.deepEqual([...alarms.keys()].sort(), [
    'certificate.domain_certs.1.near-expiry',
    'certificate.domain_certs.2.expired',
    'certificate.domain_certs.3.chain-untrusted',
  ]);
  assert.equal(alarms.get('certificate.domain_certs.1.near-expiry')!.severity, 'warning');
  assert.match(
    alarms.get('certificate.domain_certs.2.expired')!.message,
    /^http\.domain_certs\[2\] \(.*d2\.pem\): certificate .*old\.example\.com.* expired on/,
  );
  assert.match(
    alarms.get('certificate.domain_certs.3.chain-untrusted')!.message,
    /does not chain to any CA in the trusted CA file/,
  );
  assert.ok(
    lines().some((l) => l.field === 'http.domain_certs[2]' && l.problem === 'expired'),
    'logged at start-up with the field',
  );
});

test('a domain certificate with the wrong key or a missing file stops start-up with the field named', async (t) => {
  const ca = await CertificateAuthority.create({ commonName: 'mra-edge tls-files test CA' });
  const a = await ca.issue({ commonName: 'a.example.com', dnsNames: ['a.example.com'] });
  const b = await ca.issue({ commonName: 'b.example.com', dnsNames: ['b.example.com'] });
  const fx = await edgeWithDomainCerts(t, [{ cert: a.cert, key: b.key }]);
  assert.throws(
    () => loadTls(fx.cfg, capturedLogger().log),
    /http\.domain_certs\[0\] .*private key does not belong to certificate/,
  );
  rmSync(fx.cfg.http.domain_certs[0]!.key_file);
  assert.throws(() => loadTls(fx.cfg, capturedLogger().log), /http\.domain_certs\[0\]: ENOENT/);
});
