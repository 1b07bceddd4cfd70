// "SIP Path headers: off": core adds no Path and takes the edge's off; it rewrites the client's Contact to
// one of its own, so the registrar sees core as the client. The client still gets its own Contact back, and
// requests from the inside reach it over its own TLS connection through core and the edge.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPair, type Pair } from './pair.js';

let pair: Pair;
before(async () => {
  pair = await startPair({ core: { sip: { path_headers: false } } });
});
after(async () => pair?.close());

test("with Path off the registrar holds core's Contact and no Path; the client sees its own Contact", async () => {
  const alice = await pair.client('alice');
  const r = await alice.register();
  assert.equal(r.status, 200, r.reason);
  const [binding] = pair.callControl.bindings.lookup('alice@example.com');
  assert.ok(binding, 'the registrar bound alice');
  assert.match(
    binding.contact,
    /^sip:mra-c-[A-Za-z0-9_-]+@127\.0\.0\.1:\d+;transport=tcp$/,
    "the registrar holds core's stand-in Contact",
  );
  assert.deepEqual(binding.path, [], 'no Path reached the registrar');
  assert.match(
    r.response!.header('contact')!,
    /^<sip:alice@127\.0\.0\.1:\d+;transport=tls;ob>;expires=\d+$/,
    'the client gets its own Contact back',
  );
  assert.equal(r.response!.header('path'), undefined);
  assert.equal((await alice.register()).status, 200, 'a refresh maps to the same stand-in');
  assert.equal(pair.callControl.bindings.lookup('alice@example.com').length, 1);
});

test("with Path off the inside reaches the client through core's stand-in Contact", async () => {
  const bob = await pair.client('bob');
  assert.equal((await bob.register()).status, 200);
  assert.equal((await pair.callControl.request('bob@example.com', 'OPTIONS')).status, 200);
  assert.equal((await pair.callControl.request('bob@example.com', 'MESSAGE', 'via the stand-in')).status, 200);
  assert.equal(bob.received.get('OPTIONS'), 1);
  assert.equal(bob.received.get('MESSAGE'), 1);
});
