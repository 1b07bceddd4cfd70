// Kill the traversal link while many clients are registered: requests to them fail at once (430 from core,
// 503 from the edge, never a hang), and once the link is back every client's next refresh succeeds.
// CLIENTS is 1,000 as the issue asks; it runs in about ten seconds here (MRA_SIP_LINK_KILL_CLIENTS overrides).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPair, USERS, type Pair } from './pair.js';
import { waitFor } from '../support/log-capture.js';
import type { SipClient } from '../../src/lab/sip-client.js';

const CLIENTS = Number(process.env.MRA_SIP_LINK_KILL_CLIENTS ?? 1000);
const users: Record<string, string> = {};
for (let i = 0; i < CLIENTS; i++) users[`u${i}`] = `pw${i}`;

let pair: Pair;
const clients: SipClient[] = [];
before(async () => {
  Object.assign(USERS, users);
  pair = await startPair({
    relay: true,
    edge: { capacity: { registrations: CLIENTS + 10 } },
    core: { capacity: { registrations: CLIENTS + 10 } },
  });
});
after(async () => pair?.close());

/** Runs fn over items, `width` at a time: a thousand TLS handshakes at once would only measure the queue. */
async function inBatches<T, R>(items: T[], width: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return out;
}

const statuses = (rs: Array<{ status: number }>) => [...new Set(rs.map((r) => r.status))].sort();

test(`${CLIENTS} registered clients survive a traversal link cut`, { timeout: 120_000 }, async () => {
  const names = Object.keys(users);
  clients.push(...(await inBatches(names, 100, (u) => pair.client(u))));
  assert.deepEqual(statuses(await inBatches(clients, 100, (c) => c.register())), [200], 'every client registered');
  await waitFor('the edge to count every registration', () => pair.edgeStatus().registrations === CLIENTS, 10_000);

  pair.link!.cut();
  await waitFor('core to see the link down', () => pair.core.traversal.sip() === undefined, 10_000);
  const sample = clients.filter((_, i) => i % Math.max(1, Math.floor(CLIENTS / 50)) === 0);
  // Core may be mid-reconnect at any moment; while the relay refuses, no link can come up.
  const toClients = await inBatches(sample, 50, (c) => pair.callControl.request(c.aor, 'OPTIONS'));
  assert.deepEqual(statuses(toClients), [430], 'requests toward clients fail at once with 430 Flow Failed');
  const refreshes = await inBatches(sample, 50, (c) => c.register());
  assert.deepEqual(statuses(refreshes), [503], 'refreshes meanwhile get 503 from the edge');
  assert.ok(
    refreshes.every((r) => r.response?.header('retry-after')),
    '503 carries Retry-After',
  );

  pair.link!.restore();
  await waitFor('the link to come back', () => pair.core.traversal.sip() !== undefined, 15_000);
  await waitFor(
    'core to send the domain table again on the new channel',
    () => pair.edgeLog.lines().filter((l) => l.msg === 'domain table received from core').length === 2,
  );
  const back = await inBatches(clients, 100, (c) => c.register());
  assert.deepEqual(statuses(back), [200], "every client's next refresh succeeds");
  assert.ok(
    clients.every((c) => c.connected),
    'no client lost its TLS connection to the edge',
  );
  const after = await inBatches(sample, 50, (c) => pair.callControl.request(c.aor, 'MESSAGE', 'back'));
  assert.deepEqual(statuses(after), [200], 'the inside reaches the clients again');
});
