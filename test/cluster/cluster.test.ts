// Two edges and two cores on Redis in the three-namespace topology (docs/testing.md), the edges' Redis in the DMZ and
// the cores' inside (docs/cluster.md): every core links to every edge, remote clients given both edges register
// through both and the inside reaches each of them; registrations are shared over both cores; kill -9 one edge and
// its clients register again through the other at once (well within one refresh), and the inside reaches all of
// them through it. The 1,000 clients are scaled to CLIENTS to keep npm test within CI's time.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CORES, EDGES, PORTS, TOOLS, startSite, type Process, type Site } from './site.js';
import type { LineReader } from '../sip-proxy/lines.js';

const CLIENTS = 100;

let site: Site | undefined;
let skip = '';
let nodes: Map<string, Process>;
let inside: Process | undefined;
let clients: Process | undefined;

const count = (r: LineReader, match: (o: Record<string, unknown>) => boolean) => r.all().filter(match).length;
async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  const made = await startSite('cluster', { users: CLIENTS });
  if ('skip' in made) {
    skip = made.skip;
    return;
  }
  site = made;
  nodes = made.nodes;
  inside = made.inside;
});

after(async () => {
  await site?.stop();
});

let reachId = 0;
async function reachAll(): Promise<{ id: number; ok: number; failed: string[] }> {
  const id = ++reachId;
  inside!.proc.stdin!.write(
    `${JSON.stringify({ id, reach: Array.from({ length: CLIENTS }, (_, i) => `u${i}@example.com`) })}\n`,
  );
  return (await inside!.lines.next(`reach #${id}`, (o) => o.id === id, 30_000)) as {
    id: number;
    ok: number;
    failed: string[];
  };
}

test('clients given both edges register through both, over both cores, and the inside reaches every one', {
  timeout: 120_000,
}, async (t) => {
  if (!site) return t.skip(skip);
  // Waited for, not read at once: a core's log reaches the test through its own pipe, after the edge's may.
  for (const c of CORES) {
    const core = nodes.get(c.name)!;
    for (const e of EDGES)
      await core.lines.next(
        `${c.name} links to ${e.name}`,
        (o) => o.msg === 'traversal link up' && o.edge === e.name,
        10_000,
      );
  }
  clients = site.start(site.topo.internet, 'clients', [
    join(TOOLS, 'clients.js'),
    join(site.dir, 'ca.pem'),
    String(CLIENTS),
    EDGES.map((e) => `${e.public}:${PORTS.sip}`).join(','),
  ]);
  await until(
    `${CLIENTS} registrations`,
    () => count(clients!.lines, (o) => o.event === 'registered' && o.status === 200) >= CLIENTS,
    60_000,
  );
  assert.equal(
    count(clients.lines, (o) => o.event === 'registered' && o.status !== 200),
    0,
    JSON.stringify(
      clients.lines
        .all()
        .filter((o) => o.status !== 200)
        .slice(0, 3),
    ),
  );
  for (const e of EDGES)
    assert.equal(
      count(clients.lines, (o) => o.event === 'registered' && o.edge === `${e.public}:${PORTS.sip}`),
      CLIENTS / 2,
      `half the clients on ${e.name}`,
    );
  // The load is shared: each core bound some of the registrations (the edges choose by Call-ID).
  const bound = CORES.map((c) => count(nodes.get(c.name)!.lines, (o) => o.msg === 'sip registration bound'));
  for (const [i, n] of bound.entries())
    assert.ok(n > 0, `${CORES[i]!.name} bound ${n} registrations (of ${CLIENTS}, ${bound.join(' + ')})`);
  const reached = await reachAll();
  assert.deepEqual(reached, { id: reached.id, ok: CLIENTS, failed: [] });
});

test('kill -9 one edge: its clients register again through the other edge at once, and the inside reaches them all', {
  timeout: 120_000,
}, async (t) => {
  if (!site || !clients) return t.skip(skip || 'no clients registered');
  const before = count(clients.lines, (o) => o.event === 'registered' && o.status === 200);
  const dead = nodes.get('edge1')!;
  const killedAt = Date.now();
  dead.proc.kill('SIGKILL');
  const other = `${EDGES[1]!.public}:${PORTS.sip}`;
  await until(
    "the dead edge's clients to register through the other",
    () => count(clients!.lines, (o) => o.event === 'registered' && o.status === 200) >= before + CLIENTS / 2,
    60_000,
  );
  const tookMs = Date.now() - killedAt;
  console.log(
    `# ${CLIENTS / 2} clients registered through ${other} ${tookMs} ms after edge1's death (their refresh is 600 s)`,
  );
  assert.equal(
    count(clients.lines, (o) => o.event === 'registered' && o.status !== 200),
    0,
  );
  const moved = clients.lines
    .all()
    .filter((o) => o.event === 'registered' && o.status === 200)
    .slice(before);
  assert.ok(
    moved.every((o) => o.edge === other),
    'every one through the edge that is left',
  );
  const reached = await reachAll();
  assert.deepEqual(reached.failed, [], 'the inside reaches every client, through the edge left');
  assert.equal(reached.ok, CLIENTS);
  for (const c of CORES)
    await nodes
      .get(c.name)!
      .lines.next(`${c.name} to see edge1 go`, (o) => o.msg === 'traversal link down' && o.edge === 'edge1', 10_000);
});
