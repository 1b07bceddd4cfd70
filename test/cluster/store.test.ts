// The Redis store against a real redis-server (started here, on its own port and folder): the Store contract as the
// memory store keeps it, two nodes sharing state, leases with fencing, and the faults docs/cluster.md promises to
// survive: Redis unreachable at start, restarted (with and without persistence), and a partition (SIGSTOP).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisStore, StoreUnavailable, parseStoreUrl, type Store } from '../../src/store/index.js';
import { openStore } from '../../src/node/store.js';
import { parseConfig, ConfigError } from '../../src/config/index.js';
import { createLogger } from '../../src/log/index.js';
import { RedisServer, freePort, redisMissing } from '../support/redis.js';

const log = createLogger({ level: 'silent' });
const missing = redisMissing();
let redis: RedisServer | undefined;
const opened: Store[] = [];

async function node(url: string, cluster = 'test', timeoutMs = 300): Promise<RedisStore> {
  const target = parseStoreUrl(url);
  assert.ok(target.kind !== 'memory');
  const s = new RedisStore({ target, cluster, commandTimeoutMs: timeoutMs, probeMs: 100, log });
  opened.push(s);
  await s.connect(5000);
  return s;
}

const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

before(async () => {
  if (!missing) redis = await RedisServer.start();
});
after(async () => {
  for (const s of opened) await s.close();
  await redis?.stop();
});

test('values, expiry, counters, listing and set-if-absent behave as in memory, and two nodes share them', async (t) => {
  if (!redis) return t.skip(missing);
  const a = await node(redis.url, 'shared');
  const b = await node(redis.url, 'shared');
  await a.set('reg', 'alice', { aor: 'alice@example.com' });
  await a.set('reg', 'bob', { aor: 'bob@example.com' }, 150);
  assert.deepEqual(await b.get('reg', 'alice'), { aor: 'alice@example.com' }, 'another node reads it');
  assert.equal(await b.count('reg'), 2);
  assert.deepEqual((await b.entries<{ aor: string }>('reg')).map(([k]) => k).sort(), ['alice', 'bob']);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await b.get('reg', 'bob'), undefined, 'gone at its expiry');
  assert.equal(await b.count('reg'), 1, 'and not counted');
  assert.equal(await a.incr('rate', 'carol', 300), 1);
  assert.equal(await b.incr('rate', 'carol', 300), 2, 'one counter for the cluster');
  await new Promise((r) => setTimeout(r, 350));
  assert.equal(await b.incr('rate', 'carol', 300), 1, 'a new window');
  assert.equal(await a.setIfAbsent('secrets', 'flow', 'from-a'), true);
  assert.equal(await b.setIfAbsent('secrets', 'flow', 'from-b'), false, 'the first node made it');
  assert.equal(await b.get('secrets', 'flow'), 'from-a');
  assert.equal(await b.delete('reg', 'alice'), true);
  assert.equal(await a.delete('reg', 'alice'), false);
  const other = await node(redis.url, 'another-cluster');
  assert.equal(await other.get('secrets', 'flow'), undefined, 'clusters sharing a Redis are apart');
  const heard: string[] = [];
  b.subscribe('config', (m) => heard.push(m));
  await new Promise((r) => setTimeout(r, 100));
  await a.publish('config', 'domains changed');
  await until('b hears what a published', () => heard.includes('domains changed'));
  assert.equal(a.describe().state, 'up');
  assert.match(a.describe().kind, /^redis \(redis:\/\/127\.0\.0\.1:\d+\/0\)$/);
});

test('a lease is one holder at a time, taken over when it lapses with a higher fencing token', async (t) => {
  if (!redis) return t.skip(missing);
  const a = await node(redis.url, 'leases');
  const b = await node(redis.url, 'leases');
  const la = await a.acquire('calls', 'call-1', 'core1', 300);
  assert.ok(la);
  assert.equal(await b.acquire('calls', 'call-1', 'core2', 300), null, 'held by core1');
  assert.deepEqual(await a.acquire('calls', 'call-1', 'core1', 300), la, 'its holder renews with the same token');
  assert.equal(await a.renew('calls', 'call-1', la, 300), true);
  assert.deepEqual(await b.holder('calls', 'call-1'), la);
  await new Promise((r) => setTimeout(r, 400));
  const lb = await b.acquire('calls', 'call-1', 'core2', 300);
  assert.ok(lb && lb.token > la.token, 'taken over with a higher token');
  assert.equal(await a.renew('calls', 'call-1', la, 300), false, 'the old holder is fenced off');
  assert.equal(await a.release('calls', 'call-1', la), false, 'and cannot release it');
  assert.equal(await b.release('calls', 'call-1', lb), true);
  assert.equal(await b.holder('calls', 'call-1'), undefined);
});

test('a partition (Redis stops answering): the node serves what it holds, raises its state, and replays its writes after', async (t) => {
  if (!redis) return t.skip(missing);
  const a = await node(redis.url, 'partition');
  const b = await node(redis.url, 'partition');
  await a.set('reg', 'before', 1);
  const lease = (await a.acquire('calls', 'c', 'core1', 10_000))!;
  redis.pause();
  try {
    await a.set('reg', 'during', 2, 60_000);
    await until('a sees the store down', () => a.health().state === 'down');
    assert.equal(await a.get('reg', 'before'), 1, 'what it wrote is served from its mirror');
    assert.equal(await a.get('reg', 'during'), 2);
    await a.delete('reg', 'before');
    assert.equal(await a.renew('calls', 'c', lease, 10_000), true, 'its own lease is kept while partitioned');
    assert.equal(
      await a.acquire('calls', 'other', 'core1', 10_000),
      null,
      'no lease it did not hold is taken while partitioned',
    );
    assert.ok(a.health().pending >= 2, `pending ${a.health().pending}`);
    assert.equal(a.describe().state, 'down');
  } finally {
    redis.resume();
  }
  await until('a reconciles', () => a.health().state === 'up' && a.health().pending === 0);
  assert.ok(a.health().reconciles >= 1);
  assert.equal(await b.get('reg', 'during'), 2, 'the write made during the partition reached Redis');
  assert.equal(await b.get('reg', 'before'), undefined, 'and so did the delete');
  assert.ok(a.health().errors > 0);
});

test('Redis restarted with its append-only file keeps the state; without persistence each node republishes what it holds', async (t) => {
  if (!redis) return t.skip(missing);
  const a = await node(redis.url, 'restart');
  const b = await node(redis.url, 'restart');
  await a.set('reg', 'alice', 'a', 60_000);
  await b.set('reg', 'bob', 'b', 60_000);
  const lease = (await a.acquire('calls', 'c1', 'core1', 60_000))!;
  await new Promise((r) => setTimeout(r, 1200)); // appendfsync everysec
  await redis.restart();
  await until(
    'both reconnect',
    () => a.health().state === 'up' && b.health().state === 'up' && a.health().reconciles >= 1,
  );
  assert.equal(await a.get('reg', 'bob'), 'b', 'persisted');
  assert.equal(await a.count('reg'), 2);

  const empty = await RedisServer.start({ persistence: 'none' });
  try {
    const c = await node(empty.url, 'volatile');
    const d = await node(empty.url, 'volatile');
    await c.set('reg', 'carol', 'c', 60_000);
    await d.set('reg', 'dave', 'd');
    const held = (await c.acquire('calls', 'c1', 'core1', 60_000))!;
    await empty.restart();
    await until('both republish', () => c.health().reconciles >= 1 && d.health().reconciles >= 1, 15_000);
    assert.equal(await d.get('reg', 'carol'), 'c', "c's registration is back, published by c");
    assert.equal(await c.get('reg', 'dave'), 'd');
    assert.deepEqual(await d.holder('calls', 'c1'), held, 'the lease is back with its holder and token');
    const next = await d.acquire('calls', 'c2', 'core2', 60_000);
    assert.ok(next && next.token > held.token, 'fencing tokens stay above those republished');
    assert.ok(lease.token >= 1);
  } finally {
    await empty.stop();
  }
});

test('Redis unreachable at start: a clear error, or a degraded start that comes up when Redis does', async (t) => {
  if (!redis) return t.skip(missing);
  const port = await freePort();
  const cluster = {
    name: 'late',
    store_timeout_ms: 300,
    store_connect_timeout_s: 0.5,
    on_store_unreachable: 'fail' as const,
  };
  await assert.rejects(openStore({ store: `redis://127.0.0.1:${port}/0`, cluster }, log), (err: Error) => {
    assert.ok(err instanceof StoreUnavailable);
    assert.match(
      err.message,
      new RegExp(
        `redis \\(redis://127\\.0\\.0\\.1:${port}/0\\) did not answer within 500 ms.*ECONNREFUSED.*on_store_unreachable: degraded`,
      ),
    );
    return true;
  });
  const degraded = await openStore(
    { store: `redis://127.0.0.1:${port}/0`, cluster: { ...cluster, on_store_unreachable: 'degraded' } },
    log,
  );
  opened.push(degraded);
  assert.equal(degraded.health().state, 'down');
  await degraded.set('reg', 'early', 1, 60_000);
  assert.equal(await degraded.get('reg', 'early'), 1, 'serves from itself meanwhile');
  const late = await RedisServer.start({ port });
  try {
    await until('the degraded node comes up', () => degraded.health().state === 'up', 15_000);
    const other = await node(late.url, 'late');
    await until('its early write replayed', async () => (await other.get('reg', 'early')) === 1);
  } finally {
    await late.stop();
  }
});

test('the store field is checked where it is written: bad URLs are refused by field, with the reason', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mra-store-cfg-'));
  for (const f of ['c.pem', 'k.pem', 'ca.pem']) writeFileSync(join(dir, f), 'x');
  const yaml = (store: string) =>
    `role: core\nstore: ${JSON.stringify(store)}\ntls: { cert_file: c.pem, key_file: k.pem, ca_file: ca.pem }\ntraversal: { peers: [{ address: 192.0.2.1 }], username: u, password: p }\n`;
  const problem = (store: string) => {
    try {
      parseConfig(yaml(store), join(dir, 'core.yaml'));
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.message;
    }
    return '';
  };
  assert.equal(problem('memory'), '');
  assert.equal(problem('redis://10.0.0.5:6379/2'), '');
  assert.equal(problem('redis-sentinel://10.0.0.5:26379,10.0.0.6:26379/mymaster'), '');
  assert.match(problem('mysql://x'), /core\.yaml:2: store: must be "memory", redis:\/\/host/);
  assert.match(problem('redis://10.0.0.5:99999'), /store: port 99999 must be from 1 to 65535/);
  assert.match(problem('redis://10.0.0.5/16'), /store: database "16" must be a number from 0 to 15/);
  assert.match(problem('redis-sentinel://10.0.0.5:26379'), /store: redis-sentinel:\/\/ needs the master name/);
  assert.match(problem('redis://a:1,b:2'), /store: redis:\/\/ names one server/);
});

test('two cores on one Redis share X-Auth sessions, the credentials cache and rate control', async (t) => {
  if (!redis) return t.skip(missing);
  const { Authorizer } = await import('../../src/http/authorize.js');
  const { TokenKeys } = await import('../../src/http/index.js');
  const asked: string[] = [];
  const core = async () =>
    new Authorizer(
      await node(redis!.url, 'auth'),
      { credentialsRefreshMs: 60_000, cleanupMs: 60_000, maxAuthorizationsPerPeriod: 3, rateControlPeriodMs: 60_000 },
      async (user, password) => {
        asked.push(user);
        return password === 'good';
      },
      new TokenKeys(async () => '{"keys":[]}'),
    );
  const [c1, c2] = [await core(), await core()];
  t.after(() => (c1.close(), c2.close()));
  const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
  const first = await c1.authorize(basic('ann', 'good'), { issueSession: true });
  assert.ok(first.ok && first.via === 'basic' && first.session);
  const viaSession = await c2.authorize({ cookie: `X-Auth=${first.ok ? first.session : ''}` }, { issueSession: false });
  assert.deepEqual(viaSession, { ok: true, user: 'ann', via: 'session' }, 'core2 honours the session core1 issued');
  const cached = await c2.authorize(basic('ann', 'good'), { issueSession: false });
  assert.ok(
    cached.ok && cached.via === 'cached',
    "core2 finds core1's credential check in the cache (the cluster's salt)",
  );
  assert.deepEqual(asked, ['ann'], 'call control was asked once for the cluster');
  const third = await c1.authorize(basic('ann', 'good'), { issueSession: false });
  assert.ok(third.ok);
  const fourth = await c2.authorize(basic('ann', 'good'), { issueSession: false });
  assert.equal(fourth.ok, false, 'the fourth authorization in the period is refused whichever core counts it');
  assert.equal(!fourth.ok && fourth.status, 429);
});
