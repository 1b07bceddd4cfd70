import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowTokens } from '../../src/sip/routing/flow-token.js';

test('a connection keeps one token while it lives; after forget() the token still checks the long way', () => {
  const tokens = new FlowTokens();
  const t = tokens.issue('c1');
  assert.equal(tokens.issue('c1'), t, 'the same token for every REGISTER on one connection');
  assert.notEqual(tokens.issue('c2'), t);
  assert.deepEqual(tokens.check(t), { connectionId: 'c1' });
  tokens.forget('c1');
  tokens.forget('c1'); // twice is harmless
  assert.deepEqual(
    tokens.check(t),
    { connectionId: 'c1' },
    "still this process's token: the caller finds the connection gone (430)",
  );
  assert.equal(tokens.verify(t), 'c1');
});

test('altered and foreign tokens are refused whether or not the genuine one is known', () => {
  const tokens = new FlowTokens();
  const t = tokens.issue('c7');
  const raw = Buffer.from(t, 'base64url');
  raw[8] = raw[8]! ^ 1; // a MAC byte
  assert.deepEqual(tokens.check(raw.toString('base64url')), { fault: 'forged' });
  assert.deepEqual(new FlowTokens().check(t), { fault: 'stale' }, 'another process (epoch) cannot check it');
  assert.deepEqual(tokens.check('not a token!'), { fault: 'forged' });
});

test("a token names its edge in clear (core routes by it); with the cluster's key a peer's token is stale, an altered one forged", () => {
  const key = Buffer.alloc(32, 7);
  const a = new FlowTokens({ node: 'edge1', key });
  const b = new FlowTokens({ node: 'edge2', key });
  const t = a.issue('c1');
  assert.equal(FlowTokens.edgeOf(t), 'edge1');
  assert.equal(FlowTokens.edgeOf(b.issue('c1')), 'edge2');
  assert.equal(FlowTokens.edgeOf(new FlowTokens().issue('c1')), undefined, 'a single edge names none');
  assert.equal(FlowTokens.edgeOf('not a token!'), undefined);
  assert.deepEqual(b.check(t), { fault: 'stale' }, "edge2 verifies edge1's token: genuine, but no flow of its own");
  const raw = Buffer.from(t, 'base64url');
  raw[raw.length - 1] = raw[raw.length - 1]! ^ 1; // the connection id
  assert.deepEqual(b.check(raw.toString('base64url')), { fault: 'forged' }, 'an altered token of a peer is forged');
  assert.deepEqual(a.check(raw.toString('base64url')), { fault: 'forged' });
  assert.deepEqual(
    new FlowTokens({ node: 'edge1' }).check(raw.toString('base64url')),
    { fault: 'stale' },
    'without the key it cannot tell',
  );
});
