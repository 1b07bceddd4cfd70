// Relay lifecycle under churn: ports and file descriptors come back, exhaustion is an error, never a crash.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MediaEngine, Relay } from '../../src/media/index.js';
import { Peer, openFds, rtp, startEngine } from './helpers.js';

const CYCLES = 100_000;
const BATCH = 100; // 200 port pairs: inside this file's 249-pair slice

describe('relay lifecycle', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine(42000);
  });
  after(() => engine.close());

  it(`${CYCLES} create/destroy cycles leak no port and no file descriptor`, async (t) => {
    const core = await Peer.open();
    t.after(() => core.close());
    const fdsBefore = openFds();
    for (let done = 0; done < CYCLES; done += BATCH) {
      const batch: Relay[] = [];
      for (let i = 0; i < BATCH; i++) batch.push(engine.createRelay({ a: {}, b: { remote: core.endpoint } }));
      // Some traffic on the way so closes race with packets in flight.
      if (done % 10_000 === 0) await core.send(rtp(1, 1), batch[0]!.ports.a.rtp);
      await Promise.all(batch.map((r) => r.close()));
    }
    assert.equal(engine.relayCount, 0);
    assert.deepEqual(engine.dump(), { relayIds: [], portPairsInUse: 0 });
    assert.equal(openFds(), fdsBefore);
  });

  it('port exhaustion is a clear error and the pool recovers', async () => {
    const capacity = (engine.info.externalLast - engine.info.externalFirst + 1) >> 1;
    const relays: Relay[] = [];
    assert.throws(() => {
      for (;;) relays.push(engine.createRelay({ a: {}, b: {} }));
    }, /port range exhausted/);
    assert.equal(relays.length, Math.floor(capacity / 2));
    assert.equal(engine.dump().portPairsInUse, relays.length * 2);
    await Promise.all(relays.map((r) => r.close()));
    assert.equal(engine.dump().portPairsInUse, 0);
    await engine.createRelay({ a: {}, b: {} }).close();
  });
});
