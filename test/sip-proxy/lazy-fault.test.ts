// A response a node only passes on is parsed as its rules read it (docs/sip.md, "How much a proxy hop checks").
// A fault found while reading (call control's 200 with a Contact that does not parse, read to count the
// registration) is reported and the message dropped, never thrown past the hop: the node keeps serving.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPairWithCallControlRelay, type Pair } from './pair.js';
import { waitFor } from '../support/log-capture.js';

let pair: Pair;
let setup: Awaited<ReturnType<typeof startPairWithCallControlRelay>> | undefined;
before(async () => {
  // Call control's 200s for alice carry a Contact whose URI has an unterminated angle bracket.
  setup = await startPairWithCallControlRelay({
    rewriteAnswer: (text) =>
      /^SIP\/2\.0 200[\s\S]*alice@/.test(text) ? text.replace(/\r\nContact: <([^>\r]*)>/i, '\r\nContact: <$1') : text,
  });
  pair = setup.pair;
});
after(() => setup?.close());

test('a malformed Contact in call control’s 200 is refused at core as it is read, and core keeps serving', async () => {
  const alice = await pair.client('alice');
  const r = await alice.register(600);
  // A stateless proxy cannot answer a response: it is dropped (RFC 3261 §16.7), and the client's timer ends it.
  assert.equal(r.status, 408, `the malformed answer was not passed on: ${r.status} ${r.reason}`);
  await waitFor('core to report the fault', () =>
    pair.coreLog
      .lines()
      .some((l) => l.msg === 'sip message from call control refused' && /Contact|angle/i.test(String(l.reason))),
  );
  const bob = await pair.client('bob');
  assert.equal((await bob.register(600)).status, 200, 'another client registers through the same core');
});
