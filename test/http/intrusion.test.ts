import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntrusionProtection } from '../../src/host/index.js';
import { capturedLogger } from '../support/log-capture.js';

const cat = { enabled: true, trigger: 3, windowMs: 1000, blockMs: 5000 };

test('N failures within the window block the address for the block time, then it is released', (t) => {
  const cap = capturedLogger('edge1');
  const ip = new IntrusionProtection({ http_auth: cat }, [], cap.log);
  t.after(() => ip.close());
  const t0 = 1_000_000;
  assert.equal(ip.fail('http_auth', '198.51.100.7', t0), false);
  assert.equal(ip.fail('http_auth', '198.51.100.7', t0 + 2000), false, 'the first failure left the window');
  assert.equal(ip.fail('http_auth', '198.51.100.7', t0 + 2100), false);
  assert.equal(ip.fail('http_auth', '::ffff:198.51.100.7', t0 + 2200), true, 'IPv4-mapped is the same client');
  assert.equal(ip.isBlocked('198.51.100.7', t0 + 2300), true);
  assert.equal(ip.isBlocked('198.51.100.8', t0 + 2300), false);
  assert.equal(ip.status().blocked[0]?.category, 'http_auth');
  assert.equal(ip.isBlocked('198.51.100.7', t0 + 7300), false, 'released after the block time');
  const logs = cap.lines().map((l) => l.msg);
  assert.ok(logs.includes('intrusion protection: address blocked'));
  assert.ok(logs.includes('intrusion protection: address released'));
});

test('exempted addresses and CIDR blocks are never blocked; a disabled category never blocks', (t) => {
  const ip = new IntrusionProtection(
    { http_auth: cat, allow_list: { ...cat, enabled: false } },
    ['203.0.113.0/24', '2001:db8::1'],
    capturedLogger().log,
  );
  t.after(() => ip.close());
  for (let i = 0; i < 50; i++) {
    assert.equal(ip.fail('http_auth', '203.0.113.99'), false);
    assert.equal(ip.fail('http_auth', '2001:db8::1'), false);
    assert.equal(ip.fail('allow_list', '192.0.2.1'), false);
  }
  assert.equal(ip.status().blocked.length, 0);
  assert.equal(ip.status().failures.http_auth, 100);
  assert.throws(() => new IntrusionProtection({}, ['10.0.0.0/33'], capturedLogger().log), /bad prefix length/);
  assert.throws(() => new IntrusionProtection({}, ['not-an-ip'], capturedLogger().log), /not an address/);
});
