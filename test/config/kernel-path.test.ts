// media.kernel_path: the switch for the media engine's kernel path (docs/configuration.md, docs/media.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfig } from '../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'mra-config-kernel-'));
for (const f of ['core.crt', 'core.key', 'ca.crt']) writeFileSync(join(dir, f), 'x');
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const coreYaml = (media: string) => `role: core
tls: {cert_file: core.crt, key_file: core.key, ca_file: ca.crt}
traversal:
  peers: [{address: 198.18.2.1}]
  username: traversal
  password_file: core.crt
${media}`;

test('media.kernel_path is auto unless turned off', () => {
  assert.equal(parseConfig(coreYaml(''), join(dir, 'core.yaml')).media.kernel_path, 'auto');
  assert.equal(parseConfig(coreYaml('media:\n  kernel_path: off\n'), join(dir, 'core.yaml')).media.kernel_path, 'off');
});

test('a bad media.kernel_path is refused by name, with the allowed values and its line', () => {
  let err: unknown;
  try {
    parseConfig(coreYaml('media:\n  kernel_path: on\n'), join(dir, 'core.yaml'));
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
  const p = err.problems.find((x) => x.field === 'media.kernel_path');
  assert.ok(p, err.message);
  assert.match(p.message, /"auto", "off"/);
  assert.equal(p.line, 8);
  assert.match(err.message, /core\.yaml:8: media\.kernel_path: must be one of "auto", "off"/);
});
