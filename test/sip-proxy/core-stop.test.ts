// A core that is stopped (SIGTERM drains it) while a REGISTER waits at call control: the registrar's answer
// still reaches the client. Over TLS a client does not retransmit, so an answer dropped here would leave it
// waiting for its transaction timer (408 after 32 s): the bench saw that for a refresh or two on every core
// restart, because core closed its call-control connections before their answers had come back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPairWithCallControlRelay, type Pair } from './pair.js';
import { waitFor } from '../support/log-capture.js';

let pair: Pair;
let setup: Awaited<ReturnType<typeof startPairWithCallControlRelay>> | undefined;
before(async () => {
  // TCP between core and call control whose answers arrive late, in order.
  setup = await startPairWithCallControlRelay({ answerDelayMs: 400 });
  pair = setup.pair;
});
after(() => setup?.close());

test('a REGISTER at call control when core is stopped still gets its answer; the next ones get 503, not silence', async () => {
  const alice = await pair.client('alice');
  assert.equal((await alice.register()).status, 200, 'registered through the slow call-control link');
  const refresh = alice.register();
  await new Promise((r) => setTimeout(r, 150)); // the refresh now waits at call control (its answer is 400 ms away)
  const stopped = pair.core.close();
  const r = await refresh;
  assert.equal(r.status, 200, `the refresh in flight was answered: ${r.status} ${r.reason}`);
  await stopped;
  await waitFor('the edge to see the link go', () => pair.edgeStatus().coreChannels === 0);
  const after = await alice.register();
  assert.equal(after.status, 503, `with core gone the edge answers at once: ${after.status} ${after.reason}`);
});
