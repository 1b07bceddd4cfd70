// Intrusion protection per cluster (docs/cluster.md), two edges on a real redis-server started here: an attacker
// spreading its failures over both edges reaches the trigger in the cluster's count and is blocked on both; another
// address is not; an edge started later refuses the address too.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { RedisServer, redisMissing } from '../support/redis.js';
import { waitFor } from '../support/log-capture.js';
import { EDGE_NAME, startPeers, type Peers, type StartedEdge } from './peers.js';

const ATTACKER = '127.0.0.7';
const OTHER = '127.0.0.8';
const TRIGGER = 4;
const missing = redisMissing();
let redis: RedisServer | undefined;
let peers: Peers | undefined;
const agents: Agent[] = [];
const http = { intrusion: { allow_list: { trigger: TRIGGER, window_s: 60, block_s: 600 } } };

type Intrusion = {
  intrusion: { blocked: Array<{ address: string; category: string; by?: string }>; shared?: boolean };
};
const blocked = (e: StartedEdge) => (e.status() as Intrusion).intrusion.blocked;

/** One request from `from` to an edge's HTTPS: its status, or 0 when the edge dropped the connection (blocked). */
async function hit(e: StartedEdge, from: string, path = '/!!!/cucm-uds/servers'): Promise<number> {
  const agent = new Agent({ connect: { ca: peers!.ca, servername: EDGE_NAME }, localAddress: from });
  agents.push(agent);
  try {
    const r = await request(`https://127.0.0.1:${e.ports.https}${path}`, { dispatcher: agent });
    await r.body.text();
    return r.statusCode;
  } catch {
    return 0;
  }
}

before(async () => {
  if (missing) return;
  redis = await RedisServer.start();
  peers = await startPeers(redis.url, 'intrusion');
});
after(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await peers?.close();
  await redis?.stop();
});

test('failures spread over two edges are counted once for the cluster: the address is blocked on both', async (t) => {
  if (!redis) return t.skip(missing);
  const edge1 = await peers!.edge('edge1', { http });
  const edge2 = await peers!.edge('edge2', { http });
  assert.equal((edge1.status() as Intrusion).intrusion.shared, true);
  // Alternating edges, TRIGGER - 1 failures in all: neither edge alone would have blocked at TRIGGER.
  for (let i = 0; i < TRIGGER - 1; i++) assert.equal(await hit(i % 2 ? edge2 : edge1, ATTACKER), 400);
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(blocked(edge1), [], 'below the trigger: not blocked');
  assert.equal(await hit(edge2, ATTACKER), 400, 'the failure that reaches the trigger is still answered');
  await waitFor('blocked on edge2, whose count reached the trigger', () =>
    blocked(edge2).some((b) => b.address === ATTACKER && b.category === 'allow_list' && !b.by) ? true : undefined,
  );
  const heard = await waitFor('blocked on edge1 too', () => blocked(edge1).find((b) => b.address === ATTACKER));
  assert.equal(heard.by, 'edge2', 'edge1 learnt it from edge2');
  for (const e of [edge1, edge2]) {
    const s = await hit(e, ATTACKER, '/');
    assert.ok(s === 0 || s === 403, `the attacker is refused by each edge (${s})`);
  }
  assert.notEqual(await hit(edge1, OTHER), 0, 'another address is served');
  assert.ok(!blocked(edge1).some((b) => b.address === OTHER));

  const edge3 = await peers!.edge('edge3', { http });
  await waitFor('an edge started later refuses the address too', () =>
    blocked(edge3).some((b) => b.address === ATTACKER) ? true : undefined,
  );
  const s = await hit(edge3, ATTACKER, '/');
  assert.ok(s === 0 || s === 403, `refused by the late edge (${s})`);
});
