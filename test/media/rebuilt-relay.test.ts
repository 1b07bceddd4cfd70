// What a relay rebuilt on another node needs (a call adopted by another core, docs/cluster.md): the SRTP counters out of
// one relay and into the next (with the same keys and the exported rollover counters and sequence numbers it goes on
// past a sequence wrap both ways, as werift at each end sees it; at ROC 0 it fails both ways), and the same ports.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ProtectionProfileAes128CmHmacSha1_80, RtpPacket, SrtpSession } from 'werift-rtp';
import type { MediaEngine, Relay, SrtpIndex, SrtpSuite } from '../../src/media/index.js';
import { Peer, rtp, sleep, startEngine, until } from './helpers.js';

const SUITE: SrtpSuite = 'AES_CM_128_HMAC_SHA1_80';
const SSRC = 0xada0_0001;

/** werift: protects with `send`, unprotects with `recv` (each key||salt), keeping its own rollover counter. */
const session = (send: Buffer, recv: Buffer) =>
  new SrtpSession({
    profile: ProtectionProfileAes128CmHmacSha1_80,
    keys: {
      localMasterKey: send.subarray(0, 16),
      localMasterSalt: send.subarray(16),
      remoteMasterKey: recv.subarray(0, 16),
      remoteMasterSalt: recv.subarray(16),
    },
  });
const protect = (s: SrtpSession, packet: Buffer) => {
  const p = RtpPacket.deSerialize(packet);
  return s.encrypt(p.payload, p.header);
};
/** `count` packets from sequence number `from` (mod 2^16). */
const packets = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => rtp((from + i) % 65536, SSRC, { ts: (from + i) * 160, fill: i & 0xff }));

let engine: MediaEngine;
before(async () => {
  engine = await startEngine(45000, { authReportIntervalMs: 100 });
});
after(() => engine.close());

test('a relay rebuilt with the exported SRTP counters goes on past a sequence wrap both ways; one at ROC 0 fails both ways', async (t) => {
  const client = await Peer.open();
  const core = await Peer.open();
  t.after(() => {
    client.close();
    core.close();
  });
  const kIn = randomBytes(30); // the client's key: the relay unprotects what arrives on leg a
  const kOut = randomBytes(30); // the relay's key towards core: it protects what leaves leg b
  const sender = session(kIn, randomBytes(30));
  const receiver = session(randomBytes(30), kOut);
  const open = (resume?: { recv?: SrtpIndex[]; send?: SrtpIndex[] }): Relay => {
    const relay = engine.createRelay({ a: {}, b: { remote: core.endpoint, latch: false } });
    t.after(() => relay.close());
    relay.setKeys('a', { recv: { suite: SUITE, key: kIn, ...(resume?.recv ? { resume: resume.recv } : {}) } });
    relay.setKeys('b', { send: { suite: SUITE, key: kOut, ...(resume?.send ? { resume: resume.send } : {}) } });
    return relay;
  };
  /** Sends `sent` through `relay` as the client; resolves with what core could decrypt (null: it could not). */
  const through = async (relay: Relay, sent: Buffer[], expect: number): Promise<Array<Buffer | null>> => {
    const before = core.received.length;
    for (const p of sent) await client.send(protect(sender, p), relay.ports.a.rtp);
    if (expect > 0) await core.waitFor(before + expect);
    else await sleep(300);
    return core.received.slice(before).map((r) => {
      try {
        return receiver.decrypt(r.data);
      } catch {
        return null;
      }
    });
  };

  // The call's first relay: 36 packets up to 65535 and 30 past the wrap (ROC 1 both ways).
  const first = open();
  const early = packets(65500, 66);
  assert.deepEqual(await through(first, early, 66), early);
  const exported = first.srtpIndices();
  assert.deepEqual(exported.a.recv, [{ ssrc: SSRC, roc: 1, seq: 29 }], 'what leg a unprotected');
  assert.deepEqual(exported.b.send, [{ ssrc: SSRC, roc: 1, seq: 29 }], 'what leg b protected');
  assert.deepEqual(exported.a.send, [], 'leg a sends nothing under a key');
  await first.close();

  // Rebuilt elsewhere with the same keys and the counters: the client and core notice nothing.
  const resumed = open({ recv: exported.a.recv, send: exported.b.send });
  assert.deepEqual(resumed.srtpIndices().a.recv, exported.a.recv, 'a rebuilt relay exports what it resumed');
  const next = packets(30, 10);
  assert.deepEqual(await through(resumed, next, 10), next);
  assert.deepEqual(resumed.srtpIndices().b.send, [{ ssrc: SSRC, roc: 1, seq: 39 }]);
  await resumed.close();

  // Rebuilt at ROC 0: what the client sends fails authentication and reaches nobody.
  const failures: number[] = [];
  const fresh = open();
  fresh.on('authFailures', (e) => failures.push(e.count));
  assert.deepEqual(await through(fresh, packets(40, 10), 0), [], 'nothing passes a relay at ROC 0');
  await until(() => failures.reduce((a, b) => a + b, 0) === 10);
  await fresh.close();

  // Resumed one way only: it unprotects the client's packets, but what it protects at ROC 0 core cannot authenticate.
  const half = open({ recv: [{ ssrc: SSRC, roc: 1, seq: 49 }] });
  const last = await through(half, packets(50, 10), 10);
  assert.equal(last.length, 10);
  assert.ok(
    last.every((p) => p === null),
    'core refuses every packet protected at ROC 0',
  );
});

test('an SRTP resume that is not a list of {ssrc, roc, seq} is refused with a TypeError', (t) => {
  const relay = engine.createRelay({ a: {}, b: {} });
  t.after(() => relay.close());
  const bad = (resume: unknown) => () =>
    relay.setKeys('a', { recv: { suite: SUITE, key: randomBytes(30), resume: resume as SrtpIndex[] } });
  assert.throws(bad([{ ssrc: 1, roc: -1, seq: 0 }]), TypeError);
  assert.throws(bad([{ ssrc: 1, roc: 0, seq: 70000 }]), TypeError);
  assert.throws(bad(['x']), TypeError);
});

test("a relay opened on given ports (an adopted call's) receives there, refuses a pair in use, and gives them back", async (t) => {
  const core = await Peer.open();
  const client = await Peer.open();
  t.after(() => {
    core.close();
    client.close();
  });
  const first = engine.createRelay({ a: {}, b: { remote: core.endpoint, latch: false } });
  const ports = { a: first.ports.a.rtp, b: first.ports.b.rtp };
  await first.close();
  // Outside the engine's range too: a dead peer's ports are where its own range was.
  const outside = 46_000;
  const again = engine.createRelay({
    a: { port: ports.a, bindAddress: '127.0.0.1' },
    b: { remote: core.endpoint, latch: false, port: outside },
  });
  t.after(() => again.close());
  assert.deepEqual([again.ports.a.rtp, again.ports.b.rtp], [ports.a, outside]);
  await client.send(rtp(1, 0x77, { fill: 1 }), ports.a);
  await core.waitFor(1);
  assert.equal(core.received[0]!.port, outside, 'it sends from the given port too');
  assert.throws(
    () => engine.createRelay({ a: { port: ports.a }, b: {} }),
    /media ports 127\.0\.0\.1:\d+\/\d+ are in use by another relay/,
  );
  assert.throws(() => engine.createRelay({ a: { port: outside }, b: {} }), /are in use by another relay/);
  assert.throws(() => engine.createRelay({ a: { port: 41_001 }, b: {} }), TypeError, 'an odd port');
  const before = engine.dump().portPairsInUse;
  await again.close();
  assert.equal(engine.dump().portPairsInUse, before - 1, 'the pair from the range is back in the pool');
  const third = engine.createRelay({ a: { port: ports.a }, b: { port: outside } });
  await third.close();
});
