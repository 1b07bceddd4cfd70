// SRTP through the relay, checked against werift's SRTP (a TypeScript implementation, not libsrtp):
// what it protects we unprotect and the reverse, for every suite both have, across a sequence-number wrap; and the
// AES-CM suites werift lacks byte for byte against an RFC 3711 reference on node:crypto.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  ProtectionProfileAeadAes128Gcm,
  ProtectionProfileAes128CmHmacSha1_80,
  RtpPacket,
  SrtcpSession,
  SrtpSession,
} from 'werift-rtp';
import type { MediaEngine, SrtpSuite } from '../../src/media/index.js';
import { Peer, rtcpRr, rtp, startEngine, until } from './helpers.js';
import { ReferenceSrtp, type CmSuite } from './srtp-reference.js';

const SUITES: { suite: SrtpSuite; profile: number; keyLength: number; saltLength: number }[] = [
  { suite: 'AES_CM_128_HMAC_SHA1_80', profile: ProtectionProfileAes128CmHmacSha1_80, keyLength: 16, saltLength: 14 },
  { suite: 'AEAD_AES_128_GCM', profile: ProtectionProfileAeadAes128Gcm, keyLength: 16, saltLength: 12 },
];

/** werift endpoint: protects with `send`, unprotects with `recv` (each a key||salt). */
function wSession(s: (typeof SUITES)[number], send: Buffer, recv: Buffer) {
  const keys = {
    localMasterKey: send.subarray(0, s.keyLength),
    localMasterSalt: send.subarray(s.keyLength),
    remoteMasterKey: recv.subarray(0, s.keyLength),
    remoteMasterSalt: recv.subarray(s.keyLength),
  };
  return { rtp: new SrtpSession({ keys, profile: s.profile }), rtcp: new SrtcpSession({ keys, profile: s.profile }) };
}

// The AES-CM suites werift lacks, against a from-the-RFC implementation on node:crypto (srtp-reference.ts).
const CM_SUITES: { suite: SrtpSuite; cm: CmSuite }[] = [
  { suite: 'AES_CM_128_HMAC_SHA1_80', cm: { keyLength: 16, tagLength: 10 } },
  { suite: 'AES_CM_128_HMAC_SHA1_32', cm: { keyLength: 16, tagLength: 4 } },
  { suite: 'AES_256_CM_HMAC_SHA1_80', cm: { keyLength: 32, tagLength: 10 } },
  { suite: 'AES_256_CM_HMAC_SHA1_32', cm: { keyLength: 32, tagLength: 4 } },
];

const protect = (session: SrtpSession, packet: Buffer): Buffer => {
  const p = RtpPacket.deSerialize(packet);
  return session.encrypt(p.payload, p.header);
};

// 40 packets from 65510: the sequence number wraps and the rollover counter must follow on both sides.
const FIRST_SEQ = 65510;
const COUNT = 40;
const stream = (ssrc: number) =>
  Array.from({ length: COUNT }, (_, i) => rtp(FIRST_SEQ + i, ssrc, { ts: i * 160, fill: i }));

describe('SRTP transforms and interop with werift', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine(41000, { authReportIntervalMs: 100 });
  });
  after(() => engine.close());

  for (const { suite, cm } of CM_SUITES) {
    it(`${suite}: byte-exact with an RFC 3711 reference both ways, across a sequence wrap`, async (t) => {
      const client = await Peer.open();
      const core = await Peer.open();
      t.after(() => {
        client.close();
        core.close();
      });
      const kOut = randomBytes(cm.keyLength + 14);
      const kIn = randomBytes(cm.keyLength + 14);
      const relay = engine.createRelay({ a: {}, b: { remote: core.endpoint, latch: false } });
      t.after(() => relay.close());
      relay.setKeys('b', { send: { suite, key: kOut } });
      const sent = stream(0x5eed);
      for (const p of sent) await client.send(p, relay.ports.a.rtp);
      await core.waitFor(COUNT);
      const want = new ReferenceSrtp(cm, kOut);
      core.received.forEach((r, i) => assert.deepEqual(r.data, want.protect(sent[i]!), `protected packet ${i}`));

      // And the reverse: what the reference protects comes out of an SRTP->RTP relay as the original.
      const back = await Peer.open();
      t.after(() => back.close());
      const relay2 = engine.createRelay({ a: {}, b: { remote: back.endpoint, latch: false } });
      t.after(() => relay2.close());
      relay2.setKeys('a', { recv: { suite, key: kIn } });
      const ref = new ReferenceSrtp(cm, kIn);
      for (const p of sent) await client.send(ref.protect(p), relay2.ports.a.rtp);
      await back.waitFor(COUNT);
      assert.deepEqual(
        back.received.map((r) => r.data),
        sent,
      );
    });
  }

  it("a setKeys that repeats a leg's key keeps its SRTP session (the SRTCP index goes on); a new key starts a new one", async (t) => {
    const client = await Peer.open();
    const core = await Peer.open();
    t.after(() => {
      client.close();
      core.close();
    });
    const k = randomBytes(30);
    const relay = engine.createRelay({ a: {}, b: { remote: core.endpoint, remoteRtcp: core.endpoint, latch: false } });
    t.after(() => relay.close());
    const suite: SrtpSuite = 'AES_CM_128_HMAC_SHA1_80';
    relay.setKeys('b', { send: { suite, key: k } });
    // SRTCP (RFC 3711 §3.4): E flag and 31-bit index, then the 10-byte tag, at the end of each packet.
    const nextIndex = async () => {
      const before = core.received.length;
      await client.send(rtcpRr(0x77), relay.ports.a.rtcp);
      await core.waitFor(before + 1);
      const p = core.received[before]!.data;
      return p.readUInt32BE(p.length - 14) & 0x7fffffff;
    };
    const first = await nextIndex();
    assert.equal(await nextIndex(), first + 1);
    // A 200 retransmitted, or a re-INVITE that keeps the key, gives the same key again: the far end must not see
    // the index start over (it drops such packets as replayed).
    relay.setKeys('b', { send: { suite, key: Buffer.from(k) } });
    assert.equal(await nextIndex(), first + 2, 'the same key keeps the session');
    relay.setKeys('b', { send: { suite, key: randomBytes(30) } });
    assert.equal(await nextIndex(), first, 'a new key is a new session');
  });

  for (const s of SUITES) {
    const keyLen = s.keyLength + s.saltLength;

    it(`${s.suite}: RTP -> SRTP, werift unprotects what we protect`, async (t) => {
      const client = await Peer.open();
      const core = await Peer.open();
      t.after(() => {
        client.close();
        core.close();
      });
      const k = randomBytes(keyLen);
      const relay = engine.createRelay({
        a: {},
        b: { remote: core.endpoint, remoteRtcp: core.endpoint, latch: false },
      });
      t.after(() => relay.close());
      relay.setKeys('b', { send: { suite: s.suite, key: k.toString('base64') } });
      const w = wSession(s, randomBytes(keyLen), k);
      const sent = stream(0x1234);
      for (const p of sent) await client.send(p, relay.ports.a.rtp);
      await client.send(rtcpRr(0x1234), relay.ports.a.rtcp);
      await core.waitFor(COUNT + 1);
      const rtpIn = core.received.filter((r) => r.port === relay.ports.b.rtp);
      assert.equal(rtpIn.length, COUNT);
      rtpIn.forEach((r, i) => assert.deepEqual(w.rtp.decrypt(r.data), sent[i], `packet ${i}`));
      const rtcpIn = core.received.find((r) => r.port === relay.ports.b.rtcp)!;
      assert.deepEqual(w.rtcp.decrypt(rtcpIn.data), rtcpRr(0x1234));
    });

    it(`${s.suite}: SRTP -> RTP, we unprotect what werift protects`, async (t) => {
      const client = await Peer.open();
      const core = await Peer.open();
      t.after(() => {
        client.close();
        core.close();
      });
      const k = randomBytes(keyLen);
      const relay = engine.createRelay({
        a: {},
        b: { remote: core.endpoint, remoteRtcp: core.endpoint, latch: false },
      });
      t.after(() => relay.close());
      relay.setKeys('a', { recv: { suite: s.suite, key: k } });
      const w = wSession(s, k, randomBytes(keyLen));
      const sent = stream(0x4321);
      for (const p of sent) await client.send(protect(w.rtp, p), relay.ports.a.rtp);
      await client.send(w.rtcp.encrypt(rtcpRr(0x4321)), relay.ports.a.rtcp);
      await core.waitFor(COUNT + 1);
      const rtpIn = core.received.filter((r) => r.port === relay.ports.b.rtp).map((r) => r.data);
      assert.deepEqual(rtpIn, sent);
      assert.deepEqual(core.received.find((r) => r.port === relay.ports.b.rtcp)!.data, rtcpRr(0x4321));
    });

    it(`${s.suite}: SRTP -> SRTP with new keys, and bad-auth floods are counted and dropped`, async (t) => {
      const client = await Peer.open();
      const core = await Peer.open();
      const attacker = await Peer.open();
      t.after(() => {
        client.close();
        core.close();
        attacker.close();
      });
      const kA = randomBytes(keyLen);
      const kB = randomBytes(keyLen);
      const relay = engine.createRelay({
        a: {},
        b: { remote: core.endpoint, remoteRtcp: core.endpoint, latch: false },
      });
      t.after(() => relay.close());
      relay.setKeys('a', { recv: { suite: s.suite, key: kA } });
      relay.setKeys('b', { send: { suite: s.suite, key: kB } });
      const failures: number[] = [];
      relay.on('authFailures', (e) => failures.push(e.count));
      const wClient = wSession(s, kA, randomBytes(keyLen));
      const wCore = wSession(s, randomBytes(keyLen), kB);
      // Forged packets (random tags, garbage) arrive before and between the real ones; none may latch or pass.
      for (let i = 0; i < 200; i++) {
        const forged = protect(wSession(s, randomBytes(keyLen), kA).rtp, rtp(FIRST_SEQ + i, 0x99));
        await attacker.send(forged, relay.ports.a.rtp);
      }
      const sent = stream(0x99);
      for (const p of sent) await client.send(protect(wClient.rtp, p), relay.ports.a.rtp);
      await core.waitFor(COUNT);
      assert.deepEqual(
        core.received.map((r) => wCore.rtp.decrypt(r.data)),
        sent,
      );
      await until(() => failures.reduce((a, b) => a + b, 0) === 200);
      assert.equal(relay.stats().a.drops.auth, 200);
      assert.equal(attacker.received.length, 0);
      // A replayed genuine packet is dropped too.
      await client.send(protect(wSession(s, kA, kA).rtp, sent[0]!), relay.ports.a.rtp);
      await until(() => relay.stats().a.drops.replay === 1);
    });
  }
});
