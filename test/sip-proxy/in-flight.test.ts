// A client's request that core holds (its answer still at call control) when the traversal link goes: the edge
// answers it 503 at once. A client on TLS never retransmits, so without that it would wait out its 32 s timer;
// the bench saw one such REGISTER (408) now and then across a core restart.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPairWithCallControlRelay, type Pair } from './pair.js';
import { waitFor } from '../support/log-capture.js';

let pair: Pair;
let setup: Awaited<ReturnType<typeof startPairWithCallControlRelay>> | undefined;
before(async () => {
  // Call control's answers arrive 3 s late: the REGISTER below is surely still waiting when the link is cut.
  setup = await startPairWithCallControlRelay({ answerDelayMs: 3000 }, { relay: true });
  pair = setup.pair;
});
after(() => setup?.close());

test('a request in flight when the traversal link is cut is answered 503 by the edge at once', async () => {
  const alice = await pair.client('alice');
  const started = Date.now();
  const pending = alice.register();
  await new Promise((r) => setTimeout(r, 300));
  pair.link!.cut();
  const r = await Promise.race([pending, new Promise<'none'>((res) => setTimeout(() => res('none'), 2500))]);
  assert.notEqual(r, 'none', 'answered before call control could have (3 s), let alone the 32 s timer');
  if (r === 'none') return;
  assert.equal(r.status, 503, `${r.status} ${r.reason}`);
  assert.match(r.response?.header('reason') ?? '', /Traversal link to core lost/);
  assert.equal(r.response?.header('retry-after'), '5');
  assert.ok(Date.now() - started < 2800);
  await waitFor('the edge to log it', () =>
    pair.edgeLog
      .lines()
      .some((l) => l.msg === 'sip requests in flight answered 503: traversal channel closed' && l.answered === 1),
  );
});
