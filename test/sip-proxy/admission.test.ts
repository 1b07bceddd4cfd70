// Who may register: each node counts the registrations it holds against its own capacity.registrations
// (503 with Retry-After above it, refreshes always pass), and a node in maintenance mode refuses new
// registrations (503 without Retry-After, so clients move on) while keeping the ones it has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startPair, type Pair } from './pair.js';
import { waitFor } from '../support/log-capture.js';

const reasonOf = (r: { response?: { header(n: string): string | undefined } }) => r.response?.header('reason') ?? '';
const refusedBy = (log: Pair['edgeLog'], reason: RegExp) =>
  log.lines().some((l) => l.msg === 'sip request refused' && reason.test(String(l.reason)));

async function setMaintenance(pair: Pair, on: boolean, node: 'edge' | 'core' = 'edge'): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${pair[node].ports.admin}/api/maintenance`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ on }),
  });
  assert.equal(res.status, 200, await res.text());
}

test('the edge refuses a registration above its capacity with 503 and Retry-After, and keeps serving refreshes', async (t) => {
  const pair = await startPair({ edge: { capacity: { registrations: 1 } } });
  t.after(() => pair.close());
  const alice = await pair.client('alice');
  assert.equal((await alice.register()).status, 200);
  await waitFor('the edge to count alice', () => pair.edgeStatus().registrations === 1);

  const bob = await pair.client('bob');
  const refused = await bob.register();
  assert.equal(refused.status, 503);
  assert.equal(refused.response?.header('retry-after'), '5');
  assert.match(reasonOf(refused), /text="Registration capacity reached"/);
  assert.ok(refusedBy(pair.edgeLog, /capacity/), 'the edge logged the refusal');
  assert.equal(pair.callControl.bindings.lookup('bob@example.com').length, 0, 'nothing reached the registrar');
  assert.equal((await alice.register()).status, 200, 'a refresh passes at capacity');

  // Capacity is what is held now: a de-registration frees its place.
  assert.equal((await alice.register(0)).status, 200);
  await waitFor('the edge to count alice gone', () => pair.edgeStatus().registrations === 0);
  assert.equal((await bob.register()).status, 200);
});

test('core counts against its own capacity: its 503 reaches the client through the edge', async (t) => {
  const pair = await startPair({ core: { capacity: { registrations: 1 } } });
  t.after(() => pair.close());
  const alice = await pair.client('alice');
  assert.equal((await alice.register()).status, 200);
  const bob = await pair.client('bob');
  const refused = await bob.register();
  assert.equal(refused.status, 503);
  assert.ok(refused.response?.header('retry-after'));
  assert.match(reasonOf(refused), /text="Registration capacity reached"/);
  assert.ok(refusedBy(pair.coreLog, /capacity/), 'core logged the refusal');
  assert.ok(!refusedBy(pair.edgeLog, /capacity/), 'the edge itself was below its capacity');
  assert.equal((await alice.register()).status, 200, 'a refresh passes at capacity');
});

test('in maintenance mode the edge refuses new registrations 503 and keeps the existing ones', async (t) => {
  const pair = await startPair();
  t.after(() => pair.close());
  const alice = await pair.client('alice');
  assert.equal((await alice.register()).status, 200);
  await waitFor('the edge to count alice', () => pair.edgeStatus().registrations === 1);

  await setMaintenance(pair, true);
  const bob = await pair.client('bob');
  const refused = await bob.register();
  assert.equal(refused.status, 503);
  assert.match(reasonOf(refused), /text="Maintenance mode: new registrations refused"/);
  assert.equal(
    refused.response?.header('retry-after'),
    undefined,
    'no Retry-After: the client should try another node',
  );
  assert.ok(refusedBy(pair.edgeLog, /Maintenance mode/));
  assert.equal((await alice.register()).status, 200, 'a refresh of an existing registration passes');
  assert.equal(
    (await pair.callControl.request('alice@example.com', 'OPTIONS')).status,
    200,
    'the inside still reaches alice',
  );
  const call = await alice.request('INVITE', 'sip:bob@example.com', 'v=0\r\n', 'application/sdp');
  assert.equal(call.status, 503, 'a new call is refused too');
  assert.match(reasonOf(call), /text="Maintenance mode: new calls refused"/);

  await setMaintenance(pair, false);
  assert.equal((await bob.register()).status, 200, 'new registrations pass again once maintenance is off');
});

test('core in maintenance mode refuses new registrations too; the edge passes its 503 on', async (t) => {
  const pair = await startPair();
  t.after(() => pair.close());
  const alice = await pair.client('alice');
  assert.equal((await alice.register()).status, 200);
  await setMaintenance(pair, true, 'core');
  const refused = await (await pair.client('bob')).register();
  assert.equal(refused.status, 503);
  assert.match(reasonOf(refused), /text="Maintenance mode: new registrations refused"/);
  assert.ok(refusedBy(pair.coreLog, /Maintenance mode/));
  assert.equal((await alice.register()).status, 200, 'a refresh passes');
});
