// A Unified CM cluster in mixed mode: core reaches call control over SIP TLS (sip_tls_port), verifying its
// certificate, and the whole flow (challenge, bindings, requests back to the client) rides that connection.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPair, type Pair } from './pair.js';

let pair: Pair;
before(async () => {
  pair = await startPair({ mixedMode: true });
});
after(async () => pair?.close());

test('core registers the client with a mixed-mode cluster over TLS and the inside reaches it back', async () => {
  assert.ok(pair.callControl.ports.tls > 0);
  const alice = await pair.client('alice');
  const r = await alice.register();
  assert.equal(r.status, 200, r.reason);
  assert.equal(alice.challenged, 1);
  assert.match(
    r.response!.header('path')!,
    /^<sip:mra-core1@127\.0\.0\.1:\d+;transport=tls;lr;ob>, /,
    "core's Path names its TLS connection",
  );
  const [binding] = pair.callControl.bindings.lookup('alice@example.com');
  assert.equal(binding?.conn.transport, 'tls', 'the REGISTER reached call control over TLS');
  assert.equal((await pair.callControl.request('alice@example.com', 'MESSAGE', 'over TLS')).status, 200);
  assert.equal(alice.received.get('MESSAGE'), 1);
});

test('tls_verify on: call control with a certificate core does not trust is refused, and the client hears 503 or 408', async () => {
  const strict = await startPair({ mixedMode: true, untrustedCallControl: { tlsVerify: true } });
  try {
    const r = await (await strict.client('alice')).register();
    assert.ok(r.status === 503 || r.status === 408, `${r.status} ${r.reason}`);
    assert.equal(strict.callControl.bindings.lookup('alice@example.com').length, 0, 'nothing reached call control');
  } finally {
    await strict.close();
  }
});

test("tls_verify off (the cluster's TLS verify mode): the same call control is reached over TLS", async () => {
  const lax = await startPair({ mixedMode: true, untrustedCallControl: { tlsVerify: false } });
  try {
    const r = await (await lax.client('alice')).register();
    assert.equal(r.status, 200, r.reason);
    assert.equal(lax.callControl.bindings.lookup('alice@example.com')[0]?.conn.transport, 'tls');
  } finally {
    await lax.close();
  }
});
