// Calls in the store (docs/cluster.md): fenced writes (a write carries its lease's holder and token and is refused once
// another holds it), and a core's calls written under a lease per call, with their legs, ports, keys and SRTP
// counters, renewed by their owner, let go when another node took the lease, and gone with their lease when the call
// ends. In memory and on a real redis-server (started here, on its own port and folder) alike.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MemoryStore, RedisStore, parseStoreUrl, type Store } from '../../src/store/index.js';
import {
  CALLS_NS,
  CALL_LEASES_NS,
  CallRegistry,
  StoredCalls,
  type StoredCall,
  type StreamEvents,
} from '../../src/calls/index.js';
import type { MediaEngine } from '../../src/media/index.js';
import { createLogger } from '../../src/log/index.js';
import { RedisServer, redisMissing } from '../support/redis.js';
import { startEngine } from '../media/helpers.js';

const log = createLogger({ level: 'silent' });
const missing = redisMissing();
let redis: RedisServer | undefined;
let engine: MediaEngine;
const opened: Store[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  engine = await startEngine(45500);
  if (!missing) redis = await RedisServer.start();
});
after(async () => {
  for (const s of opened) await s.close();
  await redis?.stop();
  await engine.close();
});

/** Two nodes' views of one store: the same MemoryStore, or two RedisStores on one redis-server. */
async function pair(kind: 'memory' | 'redis', cluster: string): Promise<[Store, Store]> {
  if (kind === 'memory') {
    const m = new MemoryStore();
    opened.push(m);
    return [m, m];
  }
  const connect = async () => {
    const target = parseStoreUrl(redis!.url);
    assert.ok(target.kind !== 'memory');
    const s = new RedisStore({ target, cluster, commandTimeoutMs: 1000, probeMs: 200, log });
    opened.push(s);
    await s.connect(5000);
    return s;
  };
  return [await connect(), await connect()];
}

const silent: StreamEvents = { authFailures() {}, timeout() {}, closed() {} };

for (const kind of ['memory', 'redis'] as const) {
  describe(`${kind} store`, () => {
    it('a fenced write lands only while its lease is held with that token', async (t) => {
      if (kind === 'redis' && !redis) return t.skip(missing);
      const [a, b] = await pair(kind, 'fenced');
      const la = (await a.acquire('leases', 'c1', 'core1', 200))!;
      const fa = { ns: 'leases', key: 'c1', lease: la };
      assert.equal(await a.setFenced('data', 'c1', { v: 1 }, fa), true);
      assert.deepEqual(await b.get('data', 'c1'), { v: 1 });
      assert.equal(
        await a.setFenced('data', 'c1', { v: 0 }, { ...fa, lease: { ...la, token: la.token + 1 } }),
        false,
        'another token is refused',
      );
      await sleep(300);
      const lb = (await b.acquire('leases', 'c1', 'core2', 5000))!;
      assert.ok(lb.token > la.token);
      assert.equal(await a.setFenced('data', 'c1', { v: 2 }, fa), false, 'the old holder is fenced off');
      assert.equal(await a.setFenced('data', 'c1', undefined, fa), false, 'even to delete');
      assert.deepEqual(await b.get('data', 'c1'), { v: 1 }, 'what the old holder wrote last is what is there');
      const fb = { ns: 'leases', key: 'c1', lease: lb };
      assert.equal(await b.setFenced('data', 'c1', { v: 3 }, fb), true);
      assert.equal(await b.setFenced('data', 'c1', undefined, fb), true, 'the holder deletes');
      assert.equal(await a.get('data', 'c1'), undefined);
      assert.equal(await a.count('data'), 0);
    });

    it("a core's call is written under its lease with legs, ports, keys and SRTP counters, and goes with its end", async (t) => {
      if (kind === 'redis' && !redis) return t.skip(missing);
      const [a, b] = await pair(kind, 'calls');
      const registry = new CallRegistry();
      t.after(() => registry.close());
      const lost: string[] = [];
      const stored = new StoredCalls({
        store: a,
        node: 'core1',
        registry,
        leaseMs: 300,
        mediaAddress: '127.0.0.1',
        onLost: (id) => lost.push(id),
        log,
      });
      t.after(() => stored.close());
      const leg = registry.open({
        callId: 'call-1',
        client: 'alice@example.com',
        peer: 'desk@example.com',
        direction: 'from client',
        flow: null,
      });
      const stream = leg.openStream(engine, { index: 0, media: 'audio' }, {}, { latch: false, rtcpMux: true }, silent);
      const key = randomBytes(30).toString('base64');
      stream.keys.edge = { suite: 'AES_CM_128_HMAC_SHA1_80', key, tag: 1 };
      stream.setKeys('b', {
        recv: { suite: 'AES_CM_128_HMAC_SHA1_80', key: randomBytes(30) },
        send: { suite: 'AES_CM_128_HMAC_SHA1_80', key },
      });
      leg.state = 'active';
      stored.touch('call-1');
      await stored.settled();
      const data = (await b.get<StoredCall>(CALLS_NS, 'call-1'))!;
      const lease = (await b.holder(CALL_LEASES_NS, 'call-1'))!;
      assert.equal(lease.owner, 'core1');
      assert.equal(data.owner, 'core1');
      assert.equal(data.token, lease.token, 'written under the lease it holds');
      assert.equal(data.mediaAddress, '127.0.0.1');
      assert.equal(data.legs.length, 1);
      const s = data.legs[0]!.streams[0]!;
      assert.deepEqual(s.ports, { a: stream.relay.ports.a, b: stream.relay.ports.b }, 'its ports');
      assert.equal(s.keys.edge!.key, key, "the policy's key");
      assert.equal(s.legs.b.send!.key, key, "the relay leg's key");
      assert.deepEqual(
        s.srtp,
        { a: { recv: [], send: [] }, b: { recv: [], send: [] } },
        'its SRTP counters (none yet)',
      );
      assert.equal(data.legs[0]!.state, 'active');

      // Renewed by its owner: still held well past the lease's time.
      await sleep(800);
      assert.deepEqual(await b.holder(CALL_LEASES_NS, 'call-1'), lease, 'renewed with the same token');
      assert.ok((await b.get<StoredCall>(CALLS_NS, 'call-1'))!.savedAt > data.savedAt, 'and written again');

      // The call ends: its data and its lease go.
      registry.end(leg.key, 'bye');
      stored.legEnded(leg.key);
      await stored.settled();
      assert.equal(await b.get(CALLS_NS, 'call-1'), undefined);
      assert.equal(await b.holder(CALL_LEASES_NS, 'call-1'), undefined);
      assert.equal(stored.held, 0);
      assert.deepEqual(lost, []);
    });

    it('a core whose call lease was taken over lets the call go and writes it no more', async (t) => {
      if (kind === 'redis' && !redis) return t.skip(missing);
      const [a, b] = await pair(kind, 'takeover');
      const registry = new CallRegistry();
      t.after(() => registry.close());
      const lost: string[] = [];
      const stored = new StoredCalls({
        store: a,
        node: 'core1',
        registry,
        leaseMs: 300,
        onLost: (id) => lost.push(id),
        log,
      });
      t.after(() => stored.close());
      registry.open({
        callId: 'call-2',
        client: 'bob@example.com',
        peer: 'x@example.com',
        direction: 'to client',
        flow: null,
      });
      stored.touch('call-2');
      await stored.settled();
      const mine = (await b.holder(CALL_LEASES_NS, 'call-2'))!;
      // Stalled past its lease (the store is told nothing), the call is adopted by core2 with a higher token.
      await b.release(CALL_LEASES_NS, 'call-2', mine);
      const theirs = (await b.acquire(CALL_LEASES_NS, 'call-2', 'core2', 5000))!;
      assert.ok(theirs.token > mine.token);
      await b.setFenced(
        CALLS_NS,
        'call-2',
        { adoptedBy: 'core2' },
        { ns: CALL_LEASES_NS, key: 'call-2', lease: theirs },
      );
      const end = Date.now() + 3000;
      while (lost.length === 0 && Date.now() < end) await sleep(20);
      assert.deepEqual(lost, ['call-2'], 'core1 learns at its next renewal that the call is not its own');
      stored.touch('call-2');
      await stored.settled();
      assert.deepEqual(await b.get(CALLS_NS, 'call-2'), { adoptedBy: 'core2' }, "core1 never writes over core2's call");
      assert.equal(stored.held, 0);
    });

    it('a call whose lease lapsed is adopted, with a higher token, by the node that may; the others leave it', async (t) => {
      if (kind === 'redis' && !redis) return t.skip(missing);
      const [a, b] = await pair(kind, 'adopt');
      const dead = new CallRegistry();
      t.after(() => dead.close());
      const owner = new StoredCalls({ store: a, node: 'core1', registry: dead, leaseMs: 300, onLost() {}, log });
      dead.open({
        callId: 'call-3',
        client: 'carol@example.com',
        peer: 'x@example.com',
        direction: 'to client',
        flow: null,
      });
      owner.touch('call-3');
      await owner.settled();
      const first = (await b.holder(CALL_LEASES_NS, 'call-3'))!;
      owner.close(); // core1 dies: nobody renews its lease
      const seen: Record<string, StoredCall[]> = { core2: [], core3: [] };
      const nodes = ['core2', 'core3'].map((node) => {
        const registry = new CallRegistry();
        t.after(() => registry.close());
        const n = new StoredCalls({
          store: b,
          node,
          registry,
          leaseMs: 300,
          onLost() {},
          // core3 holds core1's media address (keepalived moved it there): it adopts, core2 leaves the call.
          mayAdopt: () => node === 'core3',
          adopt: (call) => {
            seen[node]!.push(call);
            for (const leg of call.legs) registry.restore(leg);
            return true;
          },
          log,
        });
        t.after(() => n.close());
        return n;
      });
      const end = Date.now() + 5000;
      while (seen.core3!.length === 0 && Date.now() < end) await sleep(20);
      assert.equal(seen.core3!.length, 1, 'core3 adopted the call');
      assert.equal(seen.core2!.length, 0, 'core2 left it');
      assert.equal(seen.core3![0]!.owner, 'core1', 'as core1 left it');
      await nodes[1]!.settled();
      const now = (await b.holder(CALL_LEASES_NS, 'call-3'))!;
      assert.equal(now.owner, 'core3');
      assert.ok(now.token > first.token, 'under a higher token');
      assert.equal((await b.get<StoredCall>(CALLS_NS, 'call-3'))!.owner, 'core3', 'and written by its new owner');
      assert.equal(nodes[1]!.counters.adopted, 1);
    });
  });
}
