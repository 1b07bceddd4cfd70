import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MediaEngine, LatchedEvent } from '../../src/media/index.js';
import { Peer, rtcpRr, rtp, sleep, startEngine, until } from './helpers.js';

describe('media relay over real UDP', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine(40000, { relatch: { packets: 5, silenceMs: 300 }, authReportIntervalMs: 100 });
  });
  after(() => engine.close());

  it('reports the SRTP backend and suites', () => {
    assert.match(engine.info.srtpBackend, /libsrtp2 2\.5\.0 \(openssl, static/);
    assert.ok(engine.info.srtpSuites.includes('AES_CM_128_HMAC_SHA1_80'));
    assert.ok(engine.info.srtpSuites.includes('AEAD_AES_128_GCM'));
    assert.deepEqual(engine.info.muxPorts, [40000]);
  });

  it('relays plain RTP both ways, latching the external side', async (t) => {
    const client = await Peer.open();
    const core = await Peer.open();
    t.after(() => {
      client.close();
      core.close();
    });
    const relay = engine.createRelay({ a: {}, b: { remote: core.endpoint, latch: false } });
    t.after(() => relay.close());
    assert.ok(relay.ports.a.rtp >= 40002 && relay.ports.a.rtp % 2 === 0);
    const latched: LatchedEvent[] = [];
    relay.on('latched', (e) => latched.push(e));

    for (let i = 0; i < 10; i++) await client.send(rtp(i, 0x1111), relay.ports.a.rtp);
    await core.waitFor(10);
    assert.deepEqual(core.received[3]!.data, rtp(3, 0x1111));
    assert.equal(core.received[0]!.port, relay.ports.b.rtp, 'sent from the B leg port');
    // The answer goes back to wherever the client's packets came from.
    for (let i = 0; i < 5; i++) await core.send(rtp(i, 0x2222), relay.ports.b.rtp);
    await client.waitFor(5);
    assert.equal(client.received[0]!.port, relay.ports.a.rtp);
    await until(() => latched.length === 1);
    assert.deepEqual(latched[0], { leg: 'a', rtcp: false, address: '127.0.0.1', port: client.port, relatch: false });
    const s = relay.stats();
    assert.equal(s.a.packetsIn, 10);
    assert.equal(s.b.packetsOut, 10);
    assert.equal(s.a.packetsOut, 5);
  });

  it('counts RTP loss per leg from sequence numbers, RTCP aside', async (t) => {
    const client = await Peer.open();
    const core = await Peer.open();
    t.after(() => {
      client.close();
      core.close();
    });
    const relay = engine.createRelay({
      a: { rtcpMux: true },
      b: { remote: core.endpoint, rtcpMux: true, latch: false },
    });
    t.after(() => relay.close());
    // 65530..65535, 0..9 across the wrap, with 65533, 2 and 3 missing and 7 late: 16 expected, 3 lost.
    const seqs = [65530, 65531, 65532, 65534, 65535, 0, 1, 4, 5, 6, 8, 7, 9];
    for (const seq of seqs) await client.send(rtp(seq, 0x3333), relay.ports.a.rtp);
    await client.send(rtcpRr(0x3333), relay.ports.a.rtp);
    await core.waitFor(seqs.length + 1);
    let s = relay.stats();
    assert.deepEqual([s.a.rtpExpected, s.a.rtpLost], [16, 3]);
    assert.deepEqual([s.b.rtpExpected, s.b.rtpLost], [0, 0], 'nothing received on the other leg');
    // A new source (a re-INVITE's new stream) starts its own count; the first one's loss stays in the total.
    for (const seq of [100, 101, 103]) await client.send(rtp(seq, 0x4444), relay.ports.a.rtp);
    await core.waitFor(seqs.length + 4);
    s = relay.stats();
    assert.deepEqual([s.a.rtpExpected, s.a.rtpLost], [20, 4]);
  });

  it("keeps a leg's path open with 0-byte keepalives when it sends nothing, and never forwards one", async (t) => {
    const client = await Peer.open();
    const core = await Peer.open();
    const later = await Peer.open();
    t.after(() => {
      client.close();
      core.close();
      later.close();
    });
    const relay = engine.createRelay({
      a: {},
      b: { remote: core.endpoint, rtcpMux: true, latch: false, keepaliveMs: 300 },
    });
    t.after(() => relay.close());
    // At once, before any media: what opens a firewall's flow from this side.
    await core.waitFor(1, 1000);
    assert.equal(core.received[0]!.data.length, 0);
    assert.equal(core.received[0]!.port, relay.ports.b.rtp);
    // Media going out is keepalive enough; once it stops, keepalives resume after keepaliveMs.
    for (let i = 0; i < 8; i++) {
      await client.send(rtp(i, 0x5555), relay.ports.a.rtp);
      await sleep(60);
    }
    await core.waitFor(9);
    assert.ok(
      core.received.slice(1, 9).every((r) => r.data.length > 0),
      'no keepalive while media flows',
    );
    await core.waitFor(10, 1500);
    assert.equal(core.received[9]!.data.length, 0);
    // A new remote gets one at the next tick; a keepalive that arrives is counted and goes no further.
    relay.setRemote('b', later.endpoint);
    await later.waitFor(1, 1000);
    assert.equal(later.received[0]!.data.length, 0);
    await client.send(Buffer.alloc(0), relay.ports.a.rtp);
    await until(() => relay.stats().a.keepalivesIn === 1);
    const s = relay.stats();
    assert.ok(s.b.keepalivesOut >= 3);
    assert.equal(s.a.drops.invalid, 0, 'a keepalive is not garbage');
    assert.equal(later.received.length, 1, 'and is not forwarded');
  });

  it('relays RTCP on RFC 3550 ports and with rtcp-mux', async (t) => {
    const client = await Peer.open();
    const core = await Peer.open();
    t.after(() => {
      client.close();
      core.close();
    });
    const relay = engine.createRelay({
      a: { rtcpMux: true },
      b: { remote: core.endpoint, remoteRtcp: core.endpoint, latch: false },
    });
    t.after(() => relay.close());
    await client.send(rtp(1, 7), relay.ports.a.rtp);
    await client.send(rtcpRr(7), relay.ports.a.rtp); // rtcp-mux: same port
    await core.waitFor(2);
    assert.deepEqual(core.received[1]!.data, rtcpRr(7));
    assert.equal(core.received[1]!.port, relay.ports.b.rtcp, 'RTCP leaves from the B leg RTCP port');
    await core.send(rtcpRr(9), relay.ports.b.rtcp);
    await client.waitFor(1);
    assert.deepEqual(client.received[0]!.data, rtcpRr(9));
    assert.equal(client.received[0]!.port, relay.ports.a.rtp, 'rtcp-mux leg sends RTCP from its RTP port');
    assert.equal(relay.stats().a.rtcpIn, 1);
  });

  it('drops garbage and does not let a spoofer steal a latched leg', async (t) => {
    const client = await Peer.open();
    const spoofer = await Peer.open();
    const core = await Peer.open();
    t.after(() => {
      client.close();
      spoofer.close();
      core.close();
    });
    const relay = engine.createRelay({ a: {}, b: { remote: core.endpoint, latch: false } });
    t.after(() => relay.close());
    await client.send(rtp(1, 0xaaaa), relay.ports.a.rtp);
    await core.waitFor(1);
    // Garbage of every shape: short, wrong version, truncated header extension.
    const garbage = [
      Buffer.from('hello'),
      Buffer.alloc(200, 0x41),
      Buffer.from([0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9]),
    ];
    for (const g of garbage) await spoofer.send(g, relay.ports.a.rtp);
    // A spoofer with the right SSRC while the client keeps talking: never latched.
    for (let i = 0; i < 20; i++) {
      await spoofer.send(rtp(100 + i, 0xaaaa, { fill: 0x66 }), relay.ports.a.rtp);
      await client.send(rtp(2 + i, 0xaaaa), relay.ports.a.rtp);
    }
    await core.send(rtp(1, 0xbbbb), relay.ports.b.rtp);
    await client.waitFor(1);
    await sleep(50);
    assert.equal(spoofer.received.length, 0, 'nothing reaches the spoofer');
    assert.ok(
      core.received.every((r) => r.data[20] !== 0x66),
      'no spoofed payload forwarded',
    );
    const s = relay.stats().a;
    assert.equal(s.drops.invalid, 3);
    assert.equal(s.drops.foreign, 20);
  });

  it('re-latches only on a sustained change after the old source went quiet', async (t) => {
    const before = await Peer.open();
    const afterNat = await Peer.open();
    const core = await Peer.open();
    t.after(() => {
      before.close();
      afterNat.close();
      core.close();
    });
    const relay = engine.createRelay({ a: {}, b: { remote: core.endpoint, latch: false } });
    t.after(() => relay.close());
    const latched: LatchedEvent[] = [];
    relay.on('latched', (e) => latched.push(e));
    await before.send(rtp(1, 0xcc), relay.ports.a.rtp);
    await core.waitFor(1);
    await sleep(350); // the old mapping is silent longer than silenceMs
    for (let i = 0; i < 6; i++) await afterNat.send(rtp(2 + i, 0xcc), relay.ports.a.rtp);
    await until(() => latched.some((e) => e.relatch));
    await core.send(rtp(1, 0xdd), relay.ports.b.rtp);
    await afterNat.waitFor(1);
    assert.equal(before.received.length, 0);
    assert.equal(latched.at(-1)!.port, afterNat.port);
  });

  it('demultiplexes traversal media on the shared mux port by source, then SSRC', async (t) => {
    const coreLegs = [await Peer.open(), await Peer.open(), await Peer.open()];
    const clients = [await Peer.open(), await Peer.open(), await Peer.open()];
    t.after(() => {
      for (const p of [...coreLegs, ...clients]) p.close();
    });
    const relays = coreLegs.map((c, i) =>
      engine.createRelay({
        a: { remote: clients[i]!.endpoint },
        b: { mux: true, remote: c.endpoint, ssrc: 0x5000 + i },
      }),
    );
    t.after(() => Promise.all(relays.map((r) => r.close())));
    for (const r of relays) assert.equal(r.ports.b.rtp, 40000);
    for (let i = 0; i < 3; i++) await coreLegs[i]!.send(rtp(1, 0x5000 + i, { fill: i }), 40000);
    for (let i = 0; i < 3; i++) {
      await clients[i]!.waitFor(1);
      assert.equal(clients[i]!.received[0]!.data[20], i, `call ${i} got its own media`);
    }
    // From an unknown source but with a known SSRC: found by SSRC; unknown both ways: dropped and counted.
    const stranger = await Peer.open();
    t.after(() => stranger.close());
    await stranger.send(rtp(2, 0x5001, { fill: 9 }), 40000);
    await clients[1]!.waitFor(2);
    const before = engine.workerStats().reduce((n, w) => n + w.unknownMux, 0);
    await stranger.send(rtp(3, 0x9999), 40000);
    await until(() => engine.workerStats().reduce((n, w) => n + w.unknownMux, 0) === before + 1);
    // Client -> core leaves from the mux port.
    await clients[2]!.send(rtp(1, 0x77), relays[2]!.ports.a.rtp);
    await coreLegs[2]!.waitFor(1);
    assert.equal(coreLegs[2]!.received[0]!.port, 40000);
    assert.throws(
      () => engine.createRelay({ a: {}, b: { mux: true, remote: coreLegs[0]!.endpoint } }),
      /already receives/,
    );
  });

  it('emits a media timeout when a leg goes silent', async (t) => {
    const core = await Peer.open();
    t.after(() => core.close());
    const relay = engine.createRelay({ a: {}, b: { remote: core.endpoint, latch: false }, timeoutMs: 200 });
    t.after(() => relay.close());
    const timeouts: string[] = [];
    relay.on('timeout', (e) => timeouts.push(e.leg));
    await until(() => timeouts.length === 2, 2000);
    assert.deepEqual(timeouts.sort(), ['a', 'b']);
  });

  it('rejects bad input with clear errors', async () => {
    assert.throws(() => engine.createRelay({ a: {}, b: { remote: { address: 'not-an-ip', port: 5 } } }), TypeError);
    assert.throws(() => engine.createRelay({ a: {}, b: { remote: { address: '127.0.0.1', port: 70000 } } }), TypeError);
    assert.throws(() => engine.createRelay({ a: { mux: true }, b: {} }), /needs the remote/);
    assert.throws(
      () => engine.createRelay({ a: { mux: { pair: 3 }, remote: { address: '127.0.0.1', port: 9 } }, b: {} }),
      /muxPair 3/,
    );
    const r = engine.createRelay({ id: 'dup', a: {}, b: {} });
    assert.throws(() => engine.createRelay({ id: 'dup', a: {}, b: {} }), /already exists/);
    assert.throws(
      () => r.setKeys('a', { recv: { suite: 'AES_CM_128_HMAC_SHA1_80', key: Buffer.alloc(3) } }),
      /30 bytes/,
    );
    assert.throws(() => r.setKeys('c' as 'a', {}), TypeError);
    await r.close();
    assert.throws(() => r.stats(), /closed/);
    await assert.rejects(
      () => import('../../src/media/index.js').then((m) => m.MediaEngine.create({ portMin: 40001 })),
      TypeError,
    );
  });
});
