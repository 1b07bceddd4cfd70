import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore, nodeScoped } from '../../src/store/index.js';
import { RegistrationCounter } from '../../src/sip/routing/registrations.js';

test('values live in their namespace until deleted', async () => {
  const s = new MemoryStore();
  await s.set('registrations', 'alice', { contact: 'sip:alice@1.2.3.4' });
  await s.set('flows', 'alice', 'other');
  assert.deepEqual(await s.get('registrations', 'alice'), { contact: 'sip:alice@1.2.3.4' });
  assert.equal(await s.get('flows', 'alice'), 'other');
  assert.equal(await s.count('registrations'), 1);
  assert.deepEqual(await s.entries('registrations'), [['alice', { contact: 'sip:alice@1.2.3.4' }]]);
  assert.equal(await s.delete('registrations', 'alice'), true);
  assert.equal(await s.delete('registrations', 'alice'), false);
  assert.equal(await s.get('registrations', 'alice'), undefined);
  await s.close();
});

test('entries expire after their TTL, on read and in listings', async () => {
  let now = 1_000;
  const s = new MemoryStore(60_000, () => now);
  await s.set('auth', 'bob', 'cached', 500);
  await s.set('auth', 'carol', 'kept');
  assert.equal(await s.get('auth', 'bob'), 'cached');
  now += 500;
  assert.equal(await s.get('auth', 'bob'), undefined, 'gone at its expiry');
  assert.equal(await s.count('auth'), 1);
  await s.close();
});

test('counters count within a window that starts with the first increment', async () => {
  let now = 0;
  const s = new MemoryStore(60_000, () => now);
  assert.equal(await s.incr('rate', 'dave', 1000), 1);
  now = 600;
  assert.equal(await s.incr('rate', 'dave', 1000), 2);
  now = 1000;
  assert.equal(await s.incr('rate', 'dave', 1000), 1, 'a new window');
  await s.close();
});

test('a closed store refuses use', async () => {
  const s = new MemoryStore();
  await s.close();
  await assert.rejects(s.get('x', 'y'), /closed/);
});

test('count follows expiry exactly: refreshed entries stay, replaced and deleted ones are not counted twice', async () => {
  let now = 0;
  const s = new MemoryStore(60_000, () => now);
  await s.set('reg', 'a', 1, 100);
  await s.set('reg', 'b', 1, 200);
  await s.set('reg', 'c', 1); // kept
  assert.equal(await s.count('reg'), 3);
  now = 90;
  await s.set('reg', 'a', 2, 100); // a refresh: now expires at 190
  await s.delete('reg', 'b');
  await s.set('reg', 'b', 3, 50); // b again, expires at 140
  now = 100;
  assert.equal(await s.count('reg'), 3, "a's old expiry passed, but a was refreshed");
  now = 140;
  assert.equal(await s.count('reg'), 2, 'b gone at its new expiry');
  now = 200;
  assert.equal(await s.count('reg'), 1, "a gone; b's first expiry finds nothing to drop");
  assert.deepEqual(await s.entries('reg'), [['c', 1]]);
  assert.equal(await s.count('nothing-here'), 0);
  await s.close();
});

test('count agrees with a plain model over a random sequence of sets, deletes, counters and time', async () => {
  let now = 0;
  const s = new MemoryStore(60_000, () => now);
  const model = new Map<string, number>(); // key -> expiry
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (let i = 0; i < 5000; i++) {
    const key = `k${rand(300)}`;
    const op = rand(10);
    if (op < 5) {
      const ttl = rand(4) === 0 ? undefined : 1 + rand(500);
      await s.set('ns', key, i, ttl);
      model.set(key, ttl === undefined ? Infinity : now + ttl);
    } else if (op < 7) {
      assert.equal(await s.delete('ns', key), (model.get(key) ?? -1) > now);
      model.delete(key);
    } else if (op < 8) {
      const ttl = 1 + rand(300);
      const live = (model.get(key) ?? -1) > now;
      const n = await s.incr('ns', key, ttl);
      if (!live) {
        assert.equal(n, 1, 'a counter starts again once its window is over');
        model.set(key, now + ttl);
      }
    } else {
      now += rand(40);
    }
    const expected = [...model.values()].filter((e) => e > now).length;
    if (i % 7 === 0) assert.equal(await s.count('ns'), expected, `step ${i}`);
  }
  await s.close();
});

test('a key refreshed far more often than its TTL does not grow the expiry queue without bound', async () => {
  let now = 0;
  const s = new MemoryStore(60_000, () => now);
  for (let i = 0; i < 50; i++) await s.set('reg', `other${i}`, i, 3_600_000);
  for (let i = 0; i < 20_000; i++) {
    now += 1;
    await s.set('reg', 'busy', i, 3_600_000);
  }
  assert.ok(s.expiryQueueLength('reg') <= 2 * 51 + 1025, `queue ${s.expiryQueueLength('reg')}`);
  assert.equal(await s.count('reg'), 51);
  assert.equal(await s.get('reg', 'busy'), 19_999);
  now += 3_600_000;
  assert.equal(await s.count('reg'), 0, 'all expire, the rebuilt queue included');
  await s.close();
});

test('the in-process face (local) reads and writes the same entries as the async one, also through a node-scoped view', async () => {
  let now = 1_000;
  const s = new MemoryStore(60_000, () => now);
  const l = s.local;
  l.set('sip', 'a', { n: 1 }, 500);
  assert.deepEqual(await s.get('sip', 'a'), { n: 1 });
  await s.set('sip', 'b', 'kept');
  assert.equal(l.get('sip', 'b'), 'kept');
  assert.equal(l.count('sip'), 2);
  now += 500;
  assert.equal(l.get('sip', 'a'), undefined, 'gone at its expiry');
  assert.equal(l.count('sip'), 1);
  assert.equal(l.delete('sip', 'a'), false, 'an expired entry counts as gone');
  assert.equal(l.delete('sip', 'b'), true);
  assert.equal(await s.count('sip'), 0);
  const scoped = nodeScoped(s, 'edge1', ['sip']);
  scoped.local!.set('sip', 'c', 1);
  assert.equal(await s.get('sip@edge1', 'c'), 1, 'the node-scoped view names its own namespace');
  assert.equal(await scoped.get('sip', 'c'), 1);
  assert.equal(scoped.local!.count('sip'), 1);
  await s.close();
  assert.throws(() => l.get('sip', 'c'), /closed/);
});

test('registrations are admitted and counted alike with and without the in-process face', async () => {
  for (const withLocal of [true, false]) {
    const s = new MemoryStore();
    // Without `local` the counter takes the async path a Redis store takes.
    const store = withLocal ? s : nodeScoped({ ...bindAll(s), local: undefined }, 'n', []);
    const c = new RegistrationCounter(store, 2);
    const admit = async (k: string, m = false) => await c.admit(k, m);
    assert.equal(await admit('r1'), 'ok');
    await c.bound('r1', 60, { aor: 'alice@example.com' });
    const since = (await c.list())[0]!.since;
    await c.bound('r2', 60);
    assert.equal(await admit('r3'), 'full', `${withLocal}: at capacity a new one is refused`);
    assert.equal(await admit('r1'), 'ok', 'a refresh always passes');
    assert.equal(await admit('r3', true), 'maintenance');
    await c.bound('r1', 120, { aor: 'alice@example.com' });
    assert.equal((await c.list()).find((r) => r.key === 'r1')!.since, since, 'a refresh keeps when it was first bound');
    await c.bound('r2', 0);
    assert.equal(await c.count(), 1);
    assert.equal(await admit('r3'), 'ok');
    await s.close();
  }
});

/** The store's methods bound to it, as a plain object (so `local` can be left out). */
function bindAll(s: MemoryStore): import('../../src/store/index.js').Store {
  const out: Record<string, unknown> = { shared: s.shared };
  for (const k of Object.getOwnPropertyNames(MemoryStore.prototype))
    if (k !== 'constructor') out[k] = (s as unknown as Record<string, (...a: unknown[]) => unknown>)[k]!.bind(s);
  return out as unknown as import('../../src/store/index.js').Store;
}
