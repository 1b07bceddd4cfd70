// After an edge restart the registrar still holds Paths naming the old process's flows: those requests get
// 430 Flow Failed (RFC 5626 §5.3), so call control lets the binding go; a token altered in transit stays 403.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPair, type Pair } from './pair.js';

let pair: Pair;
before(async () => {
  pair = await startPair();
});
after(async () => pair?.close());

const flowFailures = () =>
  pair.edgeLog.lines().filter((l) => l.msg === 'sip flow failed: flow token from an earlier edge process').length;

/** Rewrites the edge's flow token in the registrar's stored Path for `aor` (the Route the inside will send). */
function editToken(aor: string, edit: (token: string) => string): void {
  const b = pair.callControl.bindings.lookup(aor)[0]!;
  const i = b.path.findIndex((p) => !p.includes('mra-core1@'));
  b.path[i] = b.path[i]!.replace(/sip:([A-Za-z0-9_-]+)@/, (_, t: string) => `sip:${edit(t)}@`);
}

/** Another base64url character in place of the one at `at`. */
const flip = (s: string, at: number) => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);

test('a request along a Path made by the previous edge process gets 430, a new registration works', async () => {
  const alice = await pair.client('alice');
  assert.equal((await alice.register()).status, 200);
  assert.equal((await pair.callControl.request('alice@example.com', 'OPTIONS')).status, 200);

  await pair.restartEdge();
  const before = flowFailures();
  const r = await pair.callControl.request('alice@example.com', 'MESSAGE', 'still there?');
  assert.equal(r.status, 430, `${r.status} ${r.reason}`);
  assert.equal(flowFailures(), before + 1, 'the edge logged why');
  assert.equal(alice.received.get('MESSAGE'), undefined);

  const again = await pair.client('alice');
  assert.equal((await again.register()).status, 200);
  assert.equal((await pair.callControl.request('alice@example.com', 'MESSAGE', 'welcome back')).status, 200);
  assert.equal(again.received.get('MESSAGE'), 1);
});

test('a token of this edge altered in its MAC gets 403; one naming another epoch gets 430', async () => {
  const bob = await pair.client('bob');
  assert.equal((await bob.register()).status, 200);
  // Token layout: 6 bytes of epoch (8 characters), then the 12-byte MAC (16), then the connection id.
  editToken('bob@example.com', (t) => flip(t, 12));
  const forged = await pair.callControl.request('bob@example.com', 'OPTIONS');
  assert.equal(forged.status, 403, `${forged.status} ${forged.reason}`);
  assert.ok(pair.edgeLog.lines().some((l) => l.msg === 'sip request from core without a valid flow token refused'));

  editToken('bob@example.com', (t) => flip(t, 2));
  const before = flowFailures();
  assert.equal((await pair.callControl.request('bob@example.com', 'OPTIONS')).status, 430);
  assert.equal(flowFailures(), before + 1);
  assert.equal(bob.received.get('OPTIONS'), undefined, 'neither reached the client');
});
