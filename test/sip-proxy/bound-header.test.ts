// X-MRA-Bound is core's word to the edge (how long it counted a registration for). Call control writing it
// must not steer the edge's count, and the client never sees it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPairWithCallControlRelay, type Pair } from './pair.js';
import { waitFor } from '../support/log-capture.js';

let pair: Pair;
let setup: Awaited<ReturnType<typeof startPairWithCallControlRelay>> | undefined;
before(async () => {
  // Call control's answers arrive with `X-MRA-Bound: 0` added after their status line.
  setup = await startPairWithCallControlRelay({
    rewriteAnswer: (text) => text.replace(/^(SIP\/2\.0 [^\r]*\r\n)/gm, '$1X-MRA-Bound: 0\r\n'),
  });
  pair = setup.pair;
});
after(() => setup?.close());

test("call control's X-MRA-Bound neither reaches the client nor changes the edge's count", async () => {
  const alice = await pair.client('alice');
  const r = await alice.register(600);
  assert.equal(r.status, 200, `registered: ${r.status} ${r.reason}`);
  assert.equal(r.response?.header('x-mra-bound'), undefined, 'the header never reaches the client');
  // Had the forged 0 been believed, the edge would have counted the registration as removed.
  await waitFor('the edge to count alice', () => pair.edgeStatus().registrations === 1);
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(pair.edgeStatus().registrations, 1, 'still counted');
});

test("call control's X-MRA-Bound on an answer to another request does not reach the client either", async () => {
  const bob = await pair.client('bob');
  assert.equal((await bob.register(600)).status, 200);
  const alice = await pair.client('alice');
  const r = await alice.request('MESSAGE', 'sip:bob@example.com', 'hello');
  assert.ok(r.status >= 200, `answered: ${r.status} ${r.reason}`);
  assert.equal(r.response?.header('x-mra-bound'), undefined, 'the header never reaches the client');
});
