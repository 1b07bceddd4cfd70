import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { x509 } from '../../src/certs/x509-lib.js';
import { CLI } from '../support/node-files.js';

const cli = (args: string[]) => spawnSync(process.execPath, [CLI, 'csr', ...args], { encoding: 'utf8' });

function opensslSans(csrFile: string): string[] {
  const text = execFileSync('openssl', ['req', '-in', csrFile, '-noout', '-text', '-verify'], {
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return /Subject Alternative Name:\s*\n\s*(.+)/
    .exec(text)![1]!
    .split(', ')
    .map((s) => s.trim());
}

test('mra-edge csr writes a key (0600) and a CSR whose SANs follow the role, read back by openssl and x509', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mra-csr-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The edge's registration and federation domains come from core's configuration, so the two cannot drift apart.
  writeFileSync(join(dir, 'p.pem'), 'x');
  const coreYaml = join(dir, 'core.yaml');
  writeFileSync(
    coreYaml,
    stringify({
      role: 'core',
      tls: { cert_file: 'p.pem', key_file: 'p.pem', ca_file: 'p.pem' },
      traversal: { peers: [{ address: 'edge.example.com' }], username: 't', password: 'p' },
      domains: [
        { name: 'example.com', sip_registrations: true },
        { name: 'corp.local', sip_registrations: true },
        { name: 'chat.example.com', xmpp_federation: true },
      ],
    }),
  );
  const r = cli([
    '--role',
    'edge',
    '--fqdn',
    'edge1.example.com',
    '--alias',
    'edge.example.com',
    '--domains-from',
    coreYaml,
    '--collab-edge',
    '--key-type',
    'rsa-2048',
    '--hash',
    'SHA-384',
    '-o',
    dir,
  ]);
  assert.equal(r.status, 0, r.stderr);
  const csrFile = join(dir, 'edge1.example.com.csr');
  assert.equal(statSync(join(dir, 'edge1.example.com.key')).mode & 0o777, 0o600);
  assert.deepEqual(opensslSans(csrFile), [
    'DNS:edge1.example.com',
    'DNS:edge.example.com',
    'DNS:collab-edge.example.com',
    'DNS:chat.example.com',
  ]);
  const csr = new x509.Pkcs10CertificateRequest(readFileSync(csrFile, 'utf8'));
  assert.equal(csr.subject, 'CN=edge1.example.com');
  assert.match(JSON.stringify(csr.signatureAlgorithm), /SHA-384/);

  const core = cli([
    '--role',
    'core',
    '--fqdn',
    'core1.example.com',
    '--cluster-name',
    'core.example.com',
    '--phone-profile',
    'secure-profile.example.com',
    '-o',
    dir,
  ]);
  assert.equal(core.status, 0, core.stderr);
  assert.deepEqual(opensslSans(join(dir, 'core1.example.com.csr')), [
    'DNS:core1.example.com',
    'DNS:core.example.com',
    'DNS:secure-profile.example.com',
  ]);
});

test('mra-edge csr refuses bad input with exit 2 and a message naming the option, and never overwrites a key', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mra-csr-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cases: Array<[string[], RegExp]> = [
    [['--role', 'dmz', '--fqdn', 'a.example.com'], /--role must be "edge" or "core"/],
    [['--role', 'edge', '--fqdn', 'edge1'], /fqdn: "edge1" must be an FQDN/],
    [
      ['--role', 'core', '--fqdn', 'c.example.com', '--phone-profile', 'secure'],
      /phoneSecurityProfiles: "secure" must be an FQDN/,
    ],
    [['--role', 'edge', '--fqdn', 'a.example.com', '--key-type', 'dsa'], /--key-type must be one of/],
    [['--role', 'edge', '--fqdn', 'a.example.com', '--hash', 'MD5'], /--hash must be one of/],
    [['--role', 'edge', '--fqdn', 'a.example.com', '--domains-from', join(dir, 'missing.yaml')], /missing\.yaml/],
  ];
  for (const [args, want] of cases) {
    const r = cli([...args, '-o', dir]);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, want);
  }
  assert.equal(cli(['--role', 'edge', '--fqdn', 'a.example.com', '-o', dir]).status, 0);
  const key = readFileSync(join(dir, 'a.example.com.key'), 'utf8');
  const again = cli(['--role', 'edge', '--fqdn', 'a.example.com', '-o', dir]);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /exists; a new CSR needs a new key/);
  assert.equal(readFileSync(join(dir, 'a.example.com.key'), 'utf8'), key);
});
