// test: alone
// (Run by itself after the others: its leases of 600 ms and the 30 s set-up of seven processes in namespaces are
// what another test file's load upsets; beside test/cluster/cluster.test.ts on a loaded host it failed 3 runs in 9.)
// A core's death loses no call (docs/cluster.md, "A core dies mid-call"): clients given both edges call the inside's
// desk phone with SRTP both ways through two edges and two cores on Redis, each core's media on an address of its own
// (a VIP, as keepalived holds it). kill -9 one core: its call leases lapse, the other core adopts its calls (the same
// ports on the dead core's VIP, moved to it as keepalived would; the same keys and SRTP counters), every call's media
// resumes (the longest silence per call is printed), each call's BYE passes through the adopter and ends it on both
// sides, and ports, relays and leases are counted back to zero. The 20 calls and 1,000 registrations are 20
// calls here, their 20 clients registered (test/cluster/cluster.test.ts holds 100 registrations through a failover),
// to keep npm test within CI's time.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CORES, EDGES, PORTS, TOOLS, startSite, type Process, type Site } from './site.js';

const CALLS = 20;
/** The cores' media addresses: core1's moves to core2 when core1 dies. */
const VIPS = ['198.18.2.12', '198.18.2.14'];
const LEASE_MS = 600;

let site: Site | undefined;
let skip = '';

before(async () => {
  const made = await startSite('adopt', {
    users: CALLS,
    cores: VIPS.map((v) => ({ mediaAddress: v, config: { cluster: { call_lease_ms: LEASE_MS } } })),
  });
  if ('skip' in made) skip = made.skip;
  else site = made;
});
after(async () => {
  await site?.stop();
});

interface CallReport {
  user: string;
  callId: string;
  sent: number;
  received: number;
  failed: number;
  lastMs: number | null;
  maxGapMs: number;
}

let asked = 0;
async function ask<T>(p: Process, cmd: Record<string, unknown>, ms = 20_000): Promise<T> {
  const id = ++asked;
  p.proc.stdin!.write(`${JSON.stringify({ id, ...cmd })}\n`);
  return (await p.lines.next(`answer #${id}`, (o) => o.id === id, ms)) as T;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A Lua look at the cores' Redis: the owner of every call in the store, and the call leases held. */
async function inStore(s: Site): Promise<{ owners: string[]; leases: number }> {
  const script =
    "local o = {} for _, k in ipairs(redis.call('KEYS', 'mra:site:v:calls:*')) do o[#o + 1] = cjson.decode(redis.call('GET', k)).owner end " +
    "return {o, #redis.call('KEYS', 'mra:site:v:call-leases:*')}";
  const r = await s.topo.run(s.topo.inside, 'redis-cli', [
    '-p',
    String(s.coresRedis.port),
    '--json',
    'EVAL',
    script,
    '0',
  ]);
  const [owners, leases] = JSON.parse(r.stdout) as [string[] | Record<string, never>, number];
  return { owners: Array.isArray(owners) ? owners : [], leases };
}

test('kill -9 one core: the other adopts its calls, their SRTP media resumes both ways, and their BYE ends them', {
  timeout: 150_000,
}, async (t) => {
  if (!site) return t.skip(skip);
  const s = site;
  for (const c of CORES)
    for (const e of EDGES)
      await s.nodes
        .get(c.name)!
        .lines.next(`${c.name} links to ${e.name}`, (o) => o.msg === 'traversal link up' && o.edge === e.name, 10_000);
  const callers = s.start(s.topo.internet, 'callers', [
    join(TOOLS, 'callers.js'),
    join(s.dir, 'ca.pem'),
    String(CALLS),
    EDGES.map((e) => `${e.public}:${PORTS.sip}`).join(','),
    s.topo.internet.address,
  ]);
  const answered: Array<Record<string, unknown>> = [];
  for (let i = 0; i < CALLS; i++)
    answered.push(
      await callers.lines.next(`call of u${i}`, (o) => o.event === 'answered' && o.user === `u${i}`, 60_000),
    );
  assert.deepEqual(
    answered.filter((a) => a.status !== 200),
    [],
    'every call answered',
  );
  // Media both ways on every call before anything dies.
  const report = async () => (await ask<{ calls: CallReport[] }>(callers, { report: true })).calls;
  for (let tries = 0; ; tries++) {
    const r = await report();
    if (r.every((c) => c.received >= 10)) break;
    if (tries > 100) assert.fail(`media both ways on every call: ${JSON.stringify(r.filter((c) => c.received < 10))}`);
    await sleep(100);
  }
  // Both cores carry calls (the edges choose by Call-ID), each under its lease.
  const before = await inStore(s);
  const onCore1 = before.owners.filter((o) => o === 'core1').length;
  assert.equal(before.owners.length, CALLS, 'every call in the store');
  assert.equal(before.leases, CALLS, 'each under a lease');
  assert.ok(onCore1 > 0 && onCore1 < CALLS, `calls on core1: ${onCore1} of ${CALLS}`);

  await ask(callers, { mark: true });
  const killedAt = Date.now();
  s.nodes.get('core1')!.proc.kill('SIGKILL');
  // keepalived's part: core1's host (and its VIP) is gone, and core2's keepalived raises the VIP. Both cores live in
  // the inside namespace here, so the move is the address leaving and coming back on the same interface.
  await s.topo.run(s.topo.inside, 'ip', ['addr', 'del', `${VIPS[0]}/24`, 'dev', 'to-dmz']);
  await s.topo.run(s.topo.inside, 'ip', ['addr', 'add', `${VIPS[0]}/24`, 'dev', 'to-dmz']);
  const core2 = s.nodes.get('core2')!;
  const adopted = () => core2.lines.all().filter((o) => o.msg === 'call adopted from a core whose lease lapsed');
  for (let tries = 0; adopted().length < onCore1; tries++) {
    if (tries > 300) assert.fail(`core2 adopted ${adopted().length} of core1's ${onCore1} calls`);
    await sleep(100);
  }
  const adoptedMs = Date.now() - killedAt;
  assert.ok(
    adopted().every((o) => o.from === 'core1'),
    'adopted from core1',
  );
  // Media resumes on every call: each one receives again, after the adoption.
  const at = await report();
  await sleep(1000);
  const after = await report();
  const silent = after.filter((c) => c.received <= at.find((x) => x.user === c.user)!.received + 10);
  if (silent.length > 0) {
    // Where each silent call's packets stop: its legs on the nodes left, with their counters per side.
    const users = new Set(silent.map((c) => `${c.user}@example.com`));
    for (const n of ['edge1', 'edge2', 'core2']) {
      const legs = ((await s.status(n)).sip as { callList: Array<{ client: string }> }).callList;
      console.log(`# ${n}: ${JSON.stringify(legs.filter((l) => users.has(l.client)))}`);
    }
  }
  assert.deepEqual(
    silent.map((c) => `${c.user}: ${at.find((x) => x.user === c.user)!.received} → ${c.received} packets`),
    [],
    'media back on every call',
  );
  const adoptedIds = new Set(adopted().map((o) => o.callId as string));
  const gaps = after.map((c) => ({ c, adopted: adoptedIds.has(c.callId) }));
  console.log(
    `# core1 killed; core2 adopted ${adoptedIds.size} calls within ${adoptedMs} ms (lease ${LEASE_MS} ms); longest silence per call:`,
  );
  for (const { c, adopted: a } of gaps)
    console.log(`#   ${c.user} ${a ? 'adopted ' : 'on core2'} ${c.maxGapMs} ms (${c.failed} packets failed SRTP)`);
  const worst = Math.max(...gaps.filter((g) => g.adopted).map((g) => g.c.maxGapMs));
  console.log(`# adopted calls' media gap: max ${worst} ms`);

  // Each call's BYE goes through the edge to core2 (core1's dialogs' requests included) and ends it on both sides.
  const byes = await ask<{ byes: Array<{ user: string; status: number }> }>(callers, { bye: true });
  assert.deepEqual(
    byes.byes.filter((b) => b.status !== 200),
    [],
    'every BYE answered 200',
  );
  for (let tries = 0; s.inside.lines.all().filter((o) => o.event === 'bye').length < CALLS; tries++) {
    if (tries > 100) assert.fail('the desk phone saw every BYE');
    await sleep(100);
  }
  // Ports, relays and leases back to zero.
  for (let tries = 0; ; tries++) {
    const left = await inStore(s);
    const media = await Promise.all(
      ['core2', 'edge1', 'edge2'].map(async (n) => ({ n, m: (await s.status(n)).media as Record<string, number> })),
    );
    const busy = media.filter(({ m }) => m.calls !== 0 || m.relays !== 0 || m.portPairsInUse !== 0);
    if (left.owners.length === 0 && left.leases === 0 && busy.length === 0) break;
    if (tries > 50) assert.fail(`left: ${JSON.stringify({ left, busy })}`);
    await sleep(100);
  }
  const store = ((await s.status('core2')).sip as { callStore: Record<string, number> }).callStore;
  assert.equal(store.leases, 0, 'core2 holds no call lease');
  assert.equal(store.adopted, onCore1, "core2's status counts the calls it adopted");
  assert.equal(store.lost, 0);
});
