// Our TURN server on its own: what coturn does not show or does otherwise (SHA-256 credentials, deletion at once,
// reservations, lifetimes of permissions and channels, maintenance mode, a full port range, closing with live
// allocations), the counters, and bad options. After each test nothing is held and the pool is where it was.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MediaEngine } from '../../src/media/index.js';
import { TurnServer } from '../../src/turn/index.js';
import { sleep } from '../media/helpers.js';
import { waitFor } from '../support/log-capture.js';
import { mediaRange } from '../support/media-range.js';
import { ATTR, METHOD, TurnClient, attr, find, errorOf, integrityOk, readXorAddress } from '../support/turn-client.js';
import { basics, client, credentials, expectedBasics, Peer } from './scenarios.js';
import { LOOPBACK, REALM, SECRET, startOurs, type Ours, type TurnTestConfig } from './subjects.js';

describe('our TURN server', () => {
  let ours: Ours;
  const clients: TurnClient[] = [];
  const open = async (user = 'alice', opts: Parameters<typeof client>[2] = {}) => {
    const c = await client(ours.endpoint, user, opts);
    clients.push(c);
    return c;
  };
  const restart = async (cfg: TurnTestConfig) => {
    await ours.close();
    ours = await startOurs(cfg);
  };
  beforeEach(async () => {
    ours = await startOurs({ permissionLifetimeS: 2, channelLifetimeS: 3 });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await waitFor('nothing held', () => ours.held().allocations === 0 && ours.held().portPairs === 0, 3000).catch(
      () => undefined,
    );
    const held = ours.held();
    await ours.close();
    assert.deepEqual(held, { allocations: 0, permissions: 0, channels: 0, relayPorts: 0, portPairs: 0 });
  });

  it('SHA-256 credentials (RFC 8489 §9.2): PASSWORD-ALGORITHMS offered, MESSAGE-INTEGRITY-SHA256 both ways', async () => {
    const c = await open('alice', { sha256: true, fingerprint: true });
    const bare = await c.transact(c.build(METHOD.allocate, []));
    assert.deepEqual([...find(bare!, ATTR.passwordAlgorithms)!.value], [0, 1, 0, 0, 0, 2, 0, 0]);
    assert.match(find(bare!, ATTR.nonce)!.value.toString(), /^obMatJos2AAAB/);
    const a = await c.allocate();
    assert.equal(a.code, 0);
    assert.ok(find(a.msg, ATTR.messageIntegritySha256), 'answered with MESSAGE-INTEGRITY-SHA256');
    assert.ok(integrityOk(a.msg, c.key));
    assert.ok(find(a.msg, ATTR.fingerprint), 'a request with FINGERPRINT gets one back');
    // The algorithm list must come back as the server sent it (bid-down protection).
    const tampered = await open('alice');
    await tampered.transact(tampered.build(METHOD.binding, []));
    tampered.nonce = c.nonce;
    tampered.realm = REALM;
    const req = tampered.build(METHOD.allocate, [
      attr(ATTR.requestedTransport, Buffer.from([17, 0, 0, 0])),
      attr(ATTR.passwordAlgorithms, Buffer.from([0, 2, 0, 0])),
      attr(ATTR.passwordAlgorithm, Buffer.from([0, 2, 0, 0])),
    ]);
    const refused = await tampered.transact(req);
    assert.equal(errorOf(refused!)?.code, 400);
    assert.equal((await c.refresh(0)).code, 0);
  });

  it('a deleted allocation is gone at once: its 5-tuple can allocate again, its port is back', async () => {
    const c = await open();
    assert.equal((await c.allocate()).code, 0);
    assert.equal(ours.held().relayPorts, 1);
    assert.equal((await c.refresh(0)).code, 0);
    assert.equal((await c.refresh(600)).code, 437);
    await waitFor('the port back', () => ours.held().portPairs === 0);
    assert.equal((await c.allocate()).code, 0);
    assert.equal((await c.refresh(0)).code, 0);
  });

  it('EVEN-PORT with R reserves the next port for a RESERVATION-TOKEN; a bad token is 508', async () => {
    const rtp = await open();
    const a = await rtp.allocate([attr(ATTR.evenPort, Buffer.from([0x80]))]);
    assert.equal(a.code, 0);
    assert.equal(a.relayed!.port % 2, 0);
    const token = find(a.msg, ATTR.reservationToken)!.value;
    assert.equal(token.length, 8);
    const rtcp = await open();
    const b = await rtcp.allocate([attr(ATTR.reservationToken, token)]);
    assert.equal(b.code, 0);
    assert.equal(b.relayed!.port, a.relayed!.port + 1);
    const third = await open();
    const used = await third.allocate([attr(ATTR.reservationToken, token)]);
    assert.deepEqual(
      [used.code, used.reason],
      [508, 'Insufficient Capacity: the reservation token is unknown or expired'],
    );
    assert.equal(
      (await third.allocate([attr(ATTR.reservationToken, randomBytes(8)), attr(ATTR.evenPort, Buffer.from([0]))])).code,
      400,
    );
    for (const c of [rtp, rtcp]) assert.equal((await c.refresh(0)).code, 0);
  });

  it('permissions and channels end when not refreshed; the allocation stays', async () => {
    const peer = await Peer.open();
    const c = await open();
    const { relayed } = await c.allocate();
    assert.equal((await c.channelBind(0x4001, peer.endpoint)).code, 0);
    assert.deepEqual([ours.held().permissions, ours.held().channels], [1, 1]);
    await peer.send(Buffer.from('bound'), relayed!.port);
    await c.waitReceived(1);
    assert.equal(c.received[0]!.kind, 'channel');
    // Permission lifetime 2 s, channel 3 s (options of this test): after both, the peer is not heard.
    await waitFor(
      'permission and channel to expire',
      () => ours.held().permissions === 0 && ours.held().channels === 0,
      6000,
    );
    await peer.send(Buffer.from('expired'), relayed!.port);
    await sleep(300);
    assert.equal(c.received.length, 1);
    assert.ok(ours.turn.stats().noPermission >= 1);
    assert.equal((await c.refresh(0)).code, 0);
    peer.close();
  });

  it("a TCP client's allocation ends with its connection", async () => {
    const c = await open('alice', { transport: 'tcp' });
    assert.equal((await c.allocate()).code, 0);
    assert.equal(ours.held().allocations, 1);
    c.close();
    await waitFor('the allocation to end with the connection', () => ours.held().allocations === 0);
    assert.equal(ours.turn.stats().allocationsClosed, 1);
  });

  it('a dual-stack request gets its IPv4 relay and ADDRESS-ERROR-CODE 440 for IPv6; DONT-FRAGMENT is taken', async () => {
    const c = await open();
    const a = await c.allocate([attr(0x8000, Buffer.from([2, 0, 0, 0])), attr(ATTR.dontFragment, Buffer.alloc(0))]);
    assert.equal(a.code, 0);
    const e = find(a.msg, 0x8001)!.value;
    assert.deepEqual([e[0], e[2]! * 100 + e[3]!], [2, 440]);
    assert.equal((await c.refresh(0)).code, 0);
  });

  it('maintenance mode refuses new allocations (508) and keeps the ones there are', async () => {
    const peer = await Peer.open();
    const before = await open();
    const { relayed } = await before.allocate();
    ours.turn.setAccepting(false);
    const after = await open('bob');
    const refused = await after.allocate();
    assert.deepEqual(
      [refused.code, refused.reason],
      [508, 'Insufficient Capacity: the server is in maintenance mode and takes no new allocations'],
    );
    assert.equal((await before.createPermission(peer.endpoint)).code, 0);
    await peer.send(Buffer.from('still relayed'), relayed!.port);
    await before.waitReceived(1);
    ours.turn.setAccepting(true);
    assert.equal((await after.allocate()).code, 0);
    for (const c of [before, after]) assert.equal((await c.refresh(0)).code, 0);
    peer.close();
  });

  it('a full media range is 508, and the allocations that got ports work on', async () => {
    await ours.close();
    // A range of 4 ports (2 pairs): 4 allocations, the fifth refused.
    const range = mediaRange();
    const engine = await MediaEngine.create({
      workers: 1,
      bindAddress: LOOPBACK,
      portMin: range.port_min,
      portMax: range.port_min + 3,
      muxPairs: 0,
    });
    const turn = TurnServer.start(engine, {
      address: LOOPBACK,
      port: 0,
      relayAddress: LOOPBACK,
      realm: REALM,
      secrets: [SECRET],
    });
    ours = {
      ...ours,
      turn,
      engine,
      endpoint: { address: LOOPBACK, port: turn.ports.udp },
      held: () => ({
        allocations: turn.stats().allocations,
        permissions: turn.stats().permissions,
        channels: turn.stats().channels,
        relayPorts: turn.stats().relayPorts,
        portPairs: engine.dump().portPairsInUse,
      }),
      close: async () => {
        await turn.close();
        await engine.close();
      },
    };
    const got: TurnClient[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await open(`user${i}`);
      assert.equal((await c.allocate()).code, 0);
      got.push(c);
    }
    assert.equal(engine.dump().portPairsInUse, 2);
    const fifth = await open('user4');
    const refused = await fifth.allocate();
    assert.deepEqual(
      [refused.code, refused.reason],
      [508, 'Insufficient Capacity: no relay port is free in the media range'],
    );
    assert.throws(
      () => engine.createRelay({ a: {}, b: {} }),
      /port range exhausted/,
      'TURN and calls draw from the one pool',
    );
    for (const c of got) assert.equal((await c.refresh(0)).code, 0);
    await waitFor('the pool to empty', () => engine.dump().portPairsInUse === 0);
    assert.equal((await fifth.allocate()).code, 0);
    assert.equal((await fifth.refresh(0)).code, 0);
  });

  it('closing the server with live allocations gives every port back', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await (await open(`user${i}`)).allocate()).code, 0);
    assert.equal(ours.held().allocations, 5);
    await ours.turn.close();
    assert.equal(ours.engine.dump().portPairsInUse, 0);
    assert.throws(() => ours.turn.stats(), /closed/);
    await ours.engine.close();
    ours = await startOurs({});
  });

  it('counts what it relays and refuses, as the status page shows it', async () => {
    const peer = await Peer.open();
    const c = await open();
    const { relayed } = await c.allocate();
    await c.createPermission(peer.endpoint);
    c.sendIndication(peer.endpoint, Buffer.alloc(100));
    await peer.waitFor(1);
    await peer.send(Buffer.alloc(50), relayed!.port);
    await c.waitReceived(1);
    const wrong = await open(undefined);
    wrong.opts.credentials = { username: credentials('alice').username, password: 'wrong' };
    await wrong.allocate();
    const status = ours.turn.status();
    assert.equal(status.allocations, 1);
    assert.equal(status.permissions, 1);
    assert.deepEqual(status.capacity, { used: 1, limit: 1800 });
    assert.deepEqual(status.packets, { toPeers: 1, toClients: 1 });
    assert.deepEqual(status.bytes, { toPeers: 100, toClients: 50 });
    assert.equal(status.refused.authFailures, 1);
    assert.equal((await c.refresh(0)).code, 0);
    assert.equal(ours.turn.status().allocationsEnded.deleted, 1);
    peer.close();
  });

  it('refuses bad options by name, as TypeErrors, and opens nothing', async () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ realm: '' }, /realm must not be empty/],
      [{ secrets: [] }, /at least one secret/],
      [{ defaultLifetimeS: 600, maxLifetimeS: 60 }, /lifetimes/],
      [{ relayAddress: 'nowhere' }, /relayAddress must be an IPv4 address/],
      [{ relayAddress: '0.0.0.0', advertisedAddress: '0.0.0.0' }, /relayed address to advertise is unknown/],
      [{ denyPeers: ['10.0.0.0/40'] }, /not an IPv4 address block/],
      [{ maxAllocations: 0 }, /maxAllocations must be an integer/],
    ];
    for (const [opts, message] of bad) {
      assert.throws(
        () =>
          TurnServer.start(ours.engine, {
            address: LOOPBACK,
            port: 0,
            relayAddress: LOOPBACK,
            realm: REALM,
            secrets: [SECRET],
            ...opts,
          }),
        (err: Error) => {
          assert.ok(err instanceof TypeError, `${err.name}: ${err.message}`);
          assert.match(err.message, message);
          return true;
        },
      );
    }
    // A port another server holds: an Error naming it.
    assert.throws(
      () =>
        TurnServer.start(ours.engine, {
          address: LOOPBACK,
          port: ours.endpoint.port,
          relayAddress: LOOPBACK,
          realm: REALM,
          secrets: [SECRET],
        }),
      /cannot open the TURN port \d+\/udp/,
    );
    assert.equal(ours.engine.dump().portPairsInUse, 0);
  });

  it('relays the same without io_uring, a system call per datagram (what a kernel without it gets)', async () => {
    await restart({ ioUring: false, deniedPeers: ['127.0.0.99'] });
    assert.equal(ours.turn.io, 'system calls');
    assert.deepEqual(await basics(ours.endpoint, 'udp', '127.0.0.99'), expectedBasics('udp'));
  });

  it('several TURN threads share the port: each client stays on one, every one is relayed both ways', async () => {
    await restart({ threads: 2 });
    const peer = await Peer.open();
    const many: TurnClient[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await open(`user${i}`, { transport: i % 4 === 0 ? 'tcp' : 'udp' });
      const a = await c.allocate();
      assert.equal(a.code, 0);
      assert.equal((await c.channelBind(0x4001, peer.endpoint)).code, 0);
      c.channelData(0x4001, Buffer.from(`to peer ${i}`));
      await peer.send(Buffer.from(`to client ${i}`), a.relayed!.port);
      many.push(c);
    }
    await peer.waitFor(20);
    for (const [i, c] of many.entries()) {
      await c.waitReceived(1);
      assert.equal(c.received[0]!.data.toString(), `to client ${i}`);
    }
    assert.deepEqual(peer.received.map((r) => r.data.toString()).sort(), many.map((_, i) => `to peer ${i}`).sort());
    assert.equal(ours.held().allocations, 20);
    for (const c of many) assert.equal((await c.refresh(0)).code, 0);
    peer.close();
  });

  it("batches relay sockets' I/O through io_uring where the kernel allows it", () => {
    const allowed = readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim() === '0';
    assert.equal(ours.turn.io, allowed ? 'io_uring' : 'system calls');
    assert.equal(ours.turn.status().io, ours.turn.io);
  });

  it("the relayed address named is the advertised one (a NAT's public address)", async () => {
    await restart({});
    const turn = TurnServer.start(ours.engine, {
      address: LOOPBACK,
      port: 0,
      relayAddress: LOOPBACK,
      advertisedAddress: '198.51.100.7',
      realm: REALM,
      secrets: [SECRET],
    });
    try {
      const c = await TurnClient.open(
        { address: LOOPBACK, port: turn.ports.udp },
        { credentials: credentials('alice') },
      );
      clients.push(c);
      const a = await c.allocate();
      assert.equal(a.relayed!.address, '198.51.100.7');
      assert.deepEqual(readXorAddress(find(a.msg, ATTR.xorMappedAddress)), c.local);
      assert.equal((await c.refresh(0)).code, 0);
    } finally {
      await turn.close();
    }
  });
});
