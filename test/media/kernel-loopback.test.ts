// The kernel path on loopback, in the test's own process: what must bring a kernel-forwarded stream back to user
// space (a key, a new remote), what never goes into the kernel (SRTP in or out), and that timeouts and keepalives
// see what the kernel forwarded. tcx on `lo` is a real attachment (loopback delivery re-enters its ingress);
// kernel-path.test.ts covers the redirect between hosts. Skipped, with the reason, where the machine refuses BPF.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { MediaEngine, Relay } from '../../src/media/index.js';
import { Peer, rtp, sleep, startEngine, until } from './helpers.js';

let engine: MediaEngine;
let skip = '';

async function stream(from: Peer, port: number, ssrc: number, first: number, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await from.send(rtp(first + i, ssrc), port);
    if (i % 20 === 19) await sleep(2);
  }
}

async function intoKernel(relay: Relay, leg: 'a' | 'b'): Promise<void> {
  await until(() => relay.stats()[leg].path === 'kernel', 3000);
}

describe('kernel path on loopback', () => {
  before(async () => {
    engine = await startEngine(44000, { workers: 1, muxPairs: 0, kernelAfterPackets: 10 });
    if (!engine.info.kernelPath.active) {
      skip = `this machine refuses the kernel path: ${engine.info.kernelPath.reason}`;
      console.log(`# skipped: ${skip}`);
    }
  });
  after(() => engine.close());

  test('new keys take a kernel-forwarded stream back: what follows leaves protected by user space', async (t) => {
    if (skip) return t.skip(skip);
    const [a, b] = [await Peer.open(), await Peer.open()];
    const relay = engine.createRelay({ a: {}, b: { remote: b.endpoint, latch: false } });
    await stream(a, relay.ports.a.rtp, 7, 0, 30);
    await b.waitFor(30);
    await intoKernel(relay, 'a');
    assert.ok(
      b.received.every((p) => p.data.length === 172),
      'forwarded unchanged',
    );
    // Keys said again unchanged (a re-INVITE's answer, the ng relay's repeated offer: still no key) change nothing,
    // so the stream stays in the kernel.
    relay.setKeys('a', { recv: null, send: null });
    relay.setKeys('b', {});
    const quietBefore = engine.workerStats()[0]!.packetsIn;
    await sleep(150);
    await stream(a, relay.ports.a.rtp, 7, 30, 20);
    await b.waitFor(50);
    assert.equal(engine.workerStats()[0]!.packetsIn - quietBefore, 0, 'user space read none of them');
    assert.equal(relay.stats().a.path, 'kernel');
    relay.setKeys('b', { send: { suite: 'AES_CM_128_HMAC_SHA1_80', key: randomBytes(30) } });
    await until(() => relay.stats().a.path === 'user');
    const userBefore = engine.workerStats()[0]!.packetsIn;
    await stream(a, relay.ports.a.rtp, 7, 50, 30);
    await b.waitFor(80);
    assert.ok(
      b.received.slice(50).every((p) => p.data.length === 182),
      'each now carries an SRTP tag',
    );
    assert.equal(engine.workerStats()[0]!.packetsIn - userBefore, 30, 'user space read every one');
    assert.equal(relay.stats().a.path, 'user', 'and the stream stays there: it needs a key');
    // The key taken away again: the stream needs nothing but addresses once more and goes back into the kernel.
    relay.setKeys('b', { send: null });
    await sleep(20);
    await stream(a, relay.ports.a.rtp, 7, 80, 20);
    await b.waitFor(100);
    assert.ok(
      b.received.slice(80).every((p) => p.data.length === 172),
      'unprotected again',
    );
    await intoKernel(relay, 'a');
    assert.equal(relay.stats().a.packetsIn, 100);
    await relay.close();
    a.close(), b.close();
  });

  test('SRTP in or out never goes into the kernel', async (t) => {
    if (skip) return t.skip(skip);
    const [a, b] = [await Peer.open(), await Peer.open()];
    const relay = engine.createRelay({ a: {}, b: { remote: b.endpoint, latch: false } });
    relay.setKeys('b', { send: { suite: 'AES_CM_128_HMAC_SHA1_80', key: randomBytes(30) } });
    await sleep(20);
    await stream(a, relay.ports.a.rtp, 8, 0, 50);
    await b.waitFor(50);
    await sleep(150);
    assert.equal(relay.stats().a.path, 'user');
    assert.equal(relay.stats().a.packetsIn, 50);
    await relay.close();
    a.close(), b.close();
  });

  test('a new remote takes the stream towards it back, and it returns to the kernel towards the new one', async (t) => {
    if (skip) return t.skip(skip);
    const [a, b, c] = [await Peer.open(), await Peer.open(), await Peer.open()];
    const relay = engine.createRelay({ a: {}, b: { remote: b.endpoint, latch: false } });
    await stream(a, relay.ports.a.rtp, 9, 0, 30);
    await b.waitFor(30);
    await intoKernel(relay, 'a');
    relay.setRemote('b', c.endpoint);
    await until(() => relay.stats().a.path === 'user');
    await stream(a, relay.ports.a.rtp, 9, 30, 40);
    await c.waitFor(40);
    assert.equal(b.received.length, 30, 'nothing more to the old remote');
    await intoKernel(relay, 'a');
    await stream(a, relay.ports.a.rtp, 9, 70, 20);
    await c.waitFor(60);
    assert.equal(relay.stats().a.packetsIn, 90);
    await relay.close();
    a.close(), b.close(), c.close();
  });

  test("the engine's totals for status count what the kernel forwarded, once, and its flows", async (t) => {
    if (skip) return t.skip(skip);
    const [a, b] = [await Peer.open(), await Peer.open()];
    const relay = engine.createRelay({ a: {}, b: { remote: b.endpoint, latch: false } });
    const before = engine.traffic();
    await stream(a, relay.ports.a.rtp, 11, 0, 20);
    await intoKernel(relay, 'a');
    await b.waitFor(20);
    // The first ten through user space, the rest through the kernel, folded in at the worker's next tick.
    await until(() => engine.traffic().packetsIn - before.packetsIn === 20, 2000);
    const mid = engine.traffic();
    assert.equal(mid.kernelPath.flows - before.kernelPath.flows, 1, 'one direction of one stream');
    const userMid = engine.workerStats()[0]!.packetsIn;
    await stream(a, relay.ports.a.rtp, 11, 20, 50);
    await b.waitFor(70);
    // Read at once, fold or not: loss figures as live as the packet count (70 sent, 70 expected, none lost).
    const live = relay.stats().a;
    assert.deepEqual([live.packetsIn, live.rtpExpected, live.rtpLost], [70, 70, 0]);
    await until(() => engine.traffic().packetsIn - mid.packetsIn >= 50, 2000);
    const after = engine.traffic();
    assert.equal(engine.workerStats()[0]!.packetsIn - userMid, 0, 'user space read none of these 50');
    assert.equal(after.kernelPath.packets - mid.kernelPath.packets, 50, 'the kernel forwarded them');
    assert.equal(after.packetsIn - mid.packetsIn, 50, 'each counted once in');
    assert.equal(after.packetsOut - mid.packetsOut, 50, 'and once out');
    assert.equal(after.kernelPath.bytes - mid.kernelPath.bytes, 50 * 172);
    assert.equal(after.kernelPath.active, true);
    await relay.close();
    await until(() => engine.traffic().kernelPath.flows === before.kernelPath.flows, 2000);
    a.close(), b.close();
  });

  test('a kernel-forwarded stream is not a media timeout, and keeps the peer leg from sending keepalives', async (t) => {
    if (skip) return t.skip(skip);
    const [a, b] = [await Peer.open(), await Peer.open()];
    const relay = engine.createRelay({
      a: {},
      b: { remote: b.endpoint, latch: false, keepaliveMs: 300 },
      timeoutMs: 400,
    });
    const timeouts: string[] = [];
    relay.on('timeout', (e) => timeouts.push(e.leg));
    await stream(a, relay.ports.a.rtp, 10, 0, 20);
    await intoKernel(relay, 'a');
    const keepalivesBefore = b.received.filter((p) => p.data.length === 0).length;
    // 1.2 s of audio at 20 ms, all forwarded by the kernel: longer than the timeout and four keepalive periods.
    for (let i = 0; i < 60; i++) {
      await a.send(rtp(20 + i, 10), relay.ports.a.rtp);
      await sleep(20);
    }
    assert.ok(!timeouts.includes('a'), 'leg a was not silent');
    assert.equal(
      b.received.filter((p) => p.data.length === 0).length,
      keepalivesBefore,
      'no keepalive while media flowed',
    );
    assert.equal(relay.stats().a.path, 'kernel');
    await until(() => timeouts.includes('a'), 2000); // and once it stops, the timeout comes
    await relay.close();
    a.close(), b.close();
  });
});
