import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/index.js';

// http.domain_certs[] are file fields like tls.*: relative paths follow the YAML file, not the working folder.
const dir = mkdtempSync(join(tmpdir(), 'mra-config-sni-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'sni'));
for (const f of ['edge.crt', 'edge.key', 'ca.crt', 'sni/a.pem', 'sni/a.key']) writeFileSync(join(dir, f), 'x');

const yaml = (certs: string) => `role: edge
name: edge1
tls: {cert_file: edge.crt, key_file: edge.key, ca_file: ca.crt}
traversal:
  tls_verify_subject_name: core.example.com
  accounts: [{username: traversal, password_hash: "scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g="}]
http:
  domain_certs:
${certs}`;

function load(text: string) {
  const file = join(dir, 'edge.yaml');
  writeFileSync(file, text);
  return loadConfig(file);
}

test('http.domain_certs paths resolve against the configuration folder; absolute ones stay', () => {
  const abs = join(dir, 'sni/a.pem');
  const cfg = load(
    yaml(`    - {cert_file: sni/a.pem, key_file: ./sni/a.key}\n    - {cert_file: ${abs}, key_file: sni/a.key}\n`),
  );
  assert.equal(cfg.role, 'edge');
  if (cfg.role !== 'edge') return;
  assert.deepEqual(cfg.http.domain_certs, [
    { cert_file: join(dir, 'sni/a.pem'), key_file: join(dir, 'sni/a.key') },
    { cert_file: abs, key_file: join(dir, 'sni/a.key') },
  ]);
});

test('a missing http.domain_certs file is named with its entry, field and line', () => {
  try {
    load(
      yaml('    - {cert_file: sni/a.pem, key_file: sni/a.key}\n    - {cert_file: sni/a.pem, key_file: sni/gone.key}\n'),
    );
    assert.fail('configuration was accepted');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.problems.length, 1);
    assert.equal(err.problems[0]!.field, 'http.domain_certs[1].key_file');
    assert.equal(err.problems[0]!.line, 10);
    assert.match(err.problems[0]!.message, /file not found: .*\/sni\/gone\.key/);
  }
});
