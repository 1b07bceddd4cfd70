// The relay role's configuration: defaults, and errors that name the field and the line; `mra-edge relay` starts it
// and `check-config` reads it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfig } from '../../src/config/index.js';
import { CLI } from '../support/node-files.js';

const minimal = 'role: relay\ninterfaces:\n  - name: internal\n    address: 10.0.0.5\n';

test("a minimal relay configuration takes rtpengine's defaults", () => {
  const cfg = parseConfig(minimal, 'relay.yaml');
  assert.equal(cfg.role, 'relay');
  if (cfg.role !== 'relay') return;
  assert.deepEqual(cfg.ng.udp, { address: '127.0.0.1', port: 2223 });
  assert.deepEqual(cfg.ng.allow, ['127.0.0.1']);
  assert.equal(cfg.ng.delete_delay_s, 30);
  assert.equal(cfg.ng.tcp, undefined);
  assert.deepEqual([cfg.media.port_min, cfg.media.port_max], [36000, 59999]);
});

test('a wrong relay configuration names each field and its line', () => {
  const text = `${minimal}  - name: internal\n    address: 10.0.0.6\nng:\n  allow: [10.0.0.0/33, bogus]\n  max_offers_per_s: 0\n  tls: { port: 2224 }\n  bogus: 1\n`;
  assert.throws(
    () => parseConfig(text, 'relay.yaml'),
    (err: ConfigError) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /relay\.yaml:\d+: ng\.max_offers_per_s: /);
      assert.match(err.message, /ng\.tls\.cert_file: is required/);
      assert.match(err.message, /relay\.yaml:11: ng\.bogus: unknown field/);
      return true;
    },
  );
  assert.throws(
    () =>
      parseConfig(
        `${minimal}  - name: internal\n    address: 10.0.0.6\nng:\n  allow: [10.0.0.0/33, bogus]\n`,
        'relay.yaml',
      ),
    (err: ConfigError) => {
      assert.match(err.message, /relay\.yaml:5: interfaces\[1\]\.name: "internal" is named twice/);
      assert.match(err.message, /ng\.allow\[0\]: not an address or CIDR block: "10\.0\.0\.0\/33"/);
      assert.match(err.message, /ng\.allow\[1\]: not an address or CIDR block: "bogus"/);
      return true;
    },
  );
  assert.throws(() => parseConfig('role: relay\n', 'relay.yaml'), /interfaces: is required/);
});

test('mra-edge relay refuses an edge configuration, and check-config accepts a relay one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mra-relay-cfg-'));
  try {
    writeFileSync(join(dir, 'relay.yaml'), minimal);
    writeFileSync(join(dir, 'bad.yaml'), `${minimal}ng:\n  udp: { port: 99999 }\n`);
    const ok = spawnSync(process.execPath, [CLI, 'check-config', join(dir, 'relay.yaml')], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /ok \(relay node1\)/);
    const bad = spawnSync(process.execPath, [CLI, 'relay', '-c', join(dir, 'bad.yaml')], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /bad\.yaml:6: ng\.udp\.port: must be from 0 to 65535/);
    const wrongRole = spawnSync(process.execPath, [CLI, 'edge', '-c', join(dir, 'relay.yaml')], { encoding: 'utf8' });
    assert.equal(wrongRole.status, 2);
    assert.match(wrongRole.stderr, /role: is "relay", but this command starts a edge node/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
