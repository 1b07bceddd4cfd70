// CI-sized overload check: many calls offered far more than one worker can carry. The relay must keep
// forwarding, share its capacity across calls, and keep reading every port (rtpengine stops reading a busy
// one). The 1.5x/3x-of-capacity measurement belongs to bench/media.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MediaEngine, Relay } from '../../src/media/index.js';
import { Peer, rtp, sleep, startEngine } from './helpers.js';

const CALLS = 20;
const PER_CALL = 2000;

describe('overload', () => {
  let engine: MediaEngine;
  before(async () => { engine = await startEngine(43000, { workers: 1 }); });
  after(() => engine.close());

  it('keeps forwarding for every call when flooded', async (t) => {
    const sink = await Peer.open();
    const senders: Peer[] = [];
    const relays: Relay[] = [];
    t.after(async () => { sink.close(); for (const s of senders) s.close(); await Promise.all(relays.map((r) => r.close())); });
    for (let i = 0; i < CALLS; i++) {
      senders.push(await Peer.open());
      relays.push(engine.createRelay({ a: {}, b: { remote: sink.endpoint, latch: false } }));
    }
    // Blast without waiting for callbacks so the sockets overflow, interleaving calls.
    const pkt = (seq: number, call: number) => rtp(seq, 0x1000 + call);
    for (let seq = 0; seq < PER_CALL; seq++) {
      for (let c = 0; c < CALLS; c++) senders[c]!.socket.send(pkt(seq, c), relays[c]!.ports.a.rtp, '127.0.0.1');
      if (seq % 100 === 99) await sleep(1);
    }
    await sleep(500);
    const forwarded = relays.map((r) => r.stats().b.packetsOut);
    const total = forwarded.reduce((a, b) => a + b, 0);
    assert.ok(total > 0, 'forwarded something');
    // Fair share: no call is starved while others get through.
    const min = Math.min(...forwarded);
    assert.ok(min >= (total / CALLS) * 0.3, `call starved: ${forwarded.join(',')}`);
    // Every port is still read after the flood.
    const before = relays.map((r) => r.stats().a.packetsIn);
    for (let c = 0; c < CALLS; c++) await senders[c]!.send(pkt(PER_CALL, c), relays[c]!.ports.a.rtp);
    await sleep(200);
    relays.forEach((r, c) => assert.equal(r.stats().a.packetsIn, before[c]! + 1, `call ${c} still read`));
  });
});
