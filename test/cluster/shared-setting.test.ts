// A shared setting (src/host/shared-setting.ts) on a real redis-server started here: a copy whose notice was lost is
// applied by the version poll; changes made at once on two peers get distinct versions and both peers end on the
// newest; a copy a peer cannot read is refused with its version kept; in memory nothing is written to the store.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore, RedisStore, parseStoreUrl, type Store } from '../../src/store/index.js';
import { SharedSetting, SettingUnavailable, type SharedCopy } from '../../src/host/index.js';
import { BadInput } from '../../src/host/index.js';
import { createLogger } from '../../src/log/index.js';
import { RedisServer, freePort, redisMissing } from '../support/redis.js';
import { openStore } from '../../src/node/store.js';
import { waitFor } from '../support/log-capture.js';

const log = createLogger({ level: 'silent' });
const missing = redisMissing();
let redis: RedisServer | undefined;
const opened: Array<{ close(): unknown }> = [];

async function store(cluster: string): Promise<RedisStore> {
  return store2(redis!.url, cluster);
}

async function store2(url: string, cluster: string): Promise<RedisStore> {
  const target = parseStoreUrl(url);
  assert.ok(target.kind !== 'memory');
  const s = new RedisStore({ target, cluster, commandTimeoutMs: 1000, probeMs: 200, log });
  opened.push(s);
  await s.connect(5000);
  return s;
}

/** A setting holding a list of names: what a peer puts in force, and the alarms it would raise. */
function peer(s: Store, node: string, file: string[], pollMs = 100) {
  const held = {
    value: [] as string[],
    differs: undefined as string | undefined,
    rejected: undefined as string | undefined,
  };
  const setting = new SharedSetting<string[]>({
    store: s,
    name: 'names',
    node,
    parse: (raw) => {
      if (!Array.isArray(raw) || raw.some((x) => typeof x !== 'string' || x === ''))
        throw new BadInput('names: must be a list of names');
      return raw as string[];
    },
    apply: (v) => {
      held.value = v;
    },
    local: () => file,
    pollMs,
    log,
    onDiffers: (m) => {
      held.differs = m;
    },
    onRejected: (m) => {
      held.rejected = m;
    },
  });
  opened.push(setting);
  return { setting, held };
}

before(async () => {
  if (!missing) redis = await RedisServer.start();
});
after(async () => {
  for (const o of opened.reverse()) await o.close();
  await redis?.stop();
});

test('a copy whose notice was lost is applied by the poll', async (t) => {
  if (!redis) return t.skip(missing);
  const [sa, sb] = [await store('lost'), await store('lost')];
  const a = peer(sa, 'core1', ['x']);
  const b = peer(sb, 'core2', ['x']);
  await a.setting.start();
  await b.setting.start();
  // Written as a peer would, but no notice published (Redis restarted between the write and the publish).
  const copy: SharedCopy<string[]> = { version: 7, value: ['x', 'y'], by: 'core3', at: new Date().toISOString() };
  await sa.set('cluster-config', 'names', copy);
  await waitFor('core2 polls it', () => (b.setting.status().version === 7 ? true : undefined), 5000);
  assert.deepEqual(b.held.value, ['x', 'y']);
  assert.equal(b.setting.status().by, 'core3');
  assert.equal(b.held.differs, undefined, 'a change at run time is not a file in conflict');
});

test('changes made at once on two peers take distinct versions, and both peers end on the newest', async (t) => {
  if (!redis) return t.skip(missing);
  const [sa, sb] = [await store('race'), await store('race')];
  const a = peer(sa, 'core1', []);
  const b = peer(sb, 'core2', []);
  await a.setting.start();
  await b.setting.start();
  const changes = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? b : a).setting.change([`n${i}`])));
  const versions = changes.map((c) => c.version).sort((x, y) => x - y);
  assert.deepEqual(versions, [2, 3, 4, 5, 6, 7], 'versions 2 to 7, each taken once');
  const newest = changes.find((c) => c.version === 7)!;
  await waitFor('both on version 7', () =>
    a.setting.status().version === 7 && b.setting.status().version === 7 ? true : undefined,
  );
  assert.deepEqual(a.held.value, newest.value);
  assert.deepEqual(b.held.value, newest.value);
});

test('bad input changes nothing; a copy a peer cannot read is refused there and its version kept', async (t) => {
  if (!redis) return t.skip(missing);
  const [sa, sb] = [await store('bad'), await store('bad')];
  const a = peer(sa, 'core1', ['x']);
  const b = peer(sb, 'core2', ['x']);
  await a.setting.start();
  await b.setting.start();
  await assert.rejects(
    a.setting.change(['ok', '']),
    (err: Error) => err instanceof BadInput && /names: must be/.test(err.message),
  );
  assert.equal((await sa.get<SharedCopy<string[]>>('cluster-config', 'names'))?.version, 1, 'nothing written');
  await sa.set('cluster-config', 'names', {
    version: 2,
    value: 'not a list',
    by: 'by-hand',
    at: new Date().toISOString(),
  });
  await waitFor('core2 refuses it', () => b.held.rejected);
  assert.match(
    b.held.rejected!,
    /the cluster's names \(version 2, written by by-hand .*\) cannot be applied on this node: names: must be a list of names; it keeps version 1/,
  );
  assert.deepEqual(b.held.value, ['x']);
  assert.equal(b.setting.status().version, 1);
  await a.setting.change(['x', 'z']);
  await waitFor('a readable copy after it clears the refusal', () =>
    b.held.rejected === undefined ? true : undefined,
  );
  assert.deepEqual(b.held.value, ['x', 'z']);
});

test('started degraded: the file serves, a change is refused (503), and the cluster copy is taken when the store answers, the file never written over it', async (t) => {
  if (!redis) return t.skip(missing);
  const port = await freePort();
  const cluster = {
    name: 'degraded',
    store_timeout_ms: 300,
    store_connect_timeout_s: 0.3,
    on_store_unreachable: 'degraded' as const,
  };
  const late = await openStore({ store: `redis://127.0.0.1:${port}/0`, cluster }, log);
  opened.push(late);
  const p = peer(late, 'core9', ['mine']);
  await p.setting.start();
  assert.deepEqual(p.held.value, ['mine'], 'its file serves meanwhile');
  assert.equal(p.setting.status().source, 'file');
  await assert.rejects(
    p.setting.change(['x']),
    (err: Error) => err instanceof SettingUnavailable && (err as SettingUnavailable).status === 503,
  );
  const server = await RedisServer.start({ port });
  try {
    const other = await store2(server.url, 'degraded');
    const copy: SharedCopy<string[]> = { version: 3, value: ['theirs'], by: 'core1', at: new Date().toISOString() };
    await other.set('cluster-config', 'names', copy);
    await waitFor(
      'the late peer takes the cluster copy',
      () => (p.setting.status().version === 3 ? true : undefined),
      15_000,
    );
    assert.deepEqual(p.held.value, ['theirs']);
    assert.match(
      String(p.held.differs),
      /does not match the cluster's names \(version 3, written by core1/,
      'its file is reported',
    );
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(
      (await other.get<SharedCopy<string[]>>('cluster-config', 'names'))?.value,
      ['theirs'],
      'the file was not written over it',
    );
  } finally {
    await server.stop();
  }
});

test('in memory the file is in force, a change applies here alone, and nothing is written to the store', async () => {
  const s = new MemoryStore();
  opened.push(s);
  const a = peer(s, 'core1', ['x']);
  await a.setting.start();
  assert.deepEqual(a.held.value, ['x']);
  assert.equal((await a.setting.change(['x', 'y'])).version, 2);
  assert.deepEqual(a.held.value, ['x', 'y']);
  assert.deepEqual(s.describe().entries, {}, 'no namespace in the store');
  assert.equal(a.setting.status().source, 'file');
});
