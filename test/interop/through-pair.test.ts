import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LoadClients } from '../../src/lab/load/index.js';
import { DOMAIN } from '../sip-proxy/pair.js';
import { waitFor } from '../support/log-capture.js';
import { KAMAILIO_PASSWORD, kamailioMissing } from './kamailio.js';
import { startPairWithKamailio } from './pair-kamailio.js';
import { sendOverTcp } from './sip-uac.js';

// Kamailio in place of the lab call control, behind edge and core: its challenges, its Path handling and its
// routing to registered users are a second, independent registrar the proxying must work with.

const missing = kamailioMissing();
let setup: Awaited<ReturnType<typeof startPairWithKamailio>> | null = null;

before(async () => {
  if (!missing) setup = await startPairWithKamailio();
});
after(async () => setup?.close());

test('a TLS client registers through edge and core to Kamailio: challenged, Path stored, refreshed', async (t) => {
  if (!setup) return t.skip(missing!);
  const client = await setup.pair.client('carol', { password: KAMAILIO_PASSWORD });
  t.after(() => client.close());
  const r = await client.register();
  assert.equal(r.status, 200, r.reason);
  assert.equal(client.challenged, 1, 'Kamailio challenged and the answer went through unchanged');
  const path = r.response?.header('path') ?? '';
  assert.match(
    path,
    /^<sip:mra-core1@[^>]+;lr[^>]*>,\s*<sip:[^>]+;transport=tls;lr;ob>$/,
    'Kamailio echoes core then edge in Path',
  );
  const refresh = await client.register();
  assert.equal(refresh.status, 200);
  assert.equal(client.challenged, 1, 'the refresh reused the nonce');
});

test('OPTIONS and MESSAGE from the inside follow the stored Path to the client; 430 once its connection is gone', async (t) => {
  if (!setup) return t.skip(missing!);
  const kam = setup.kam;
  const client = await setup.pair.client('dave', { password: KAMAILIO_PASSWORD });
  assert.equal((await client.register()).status, 200);
  const o = await sendOverTcp({ host: kam.address, port: kam.tcpPort, method: 'OPTIONS', to: `sip:dave@${DOMAIN}` });
  assert.equal(o.status, 200);
  const m = await sendOverTcp({
    host: kam.address,
    port: kam.tcpPort,
    method: 'MESSAGE',
    to: `sip:dave@${DOMAIN}`,
    body: 'hello from inside',
  });
  assert.equal(m.status, 200);
  assert.deepEqual([client.received.get('OPTIONS'), client.received.get('MESSAGE')], [1, 1]);
  client.close();
  // The edge must answer for a flow that died, never open a connection towards the client.
  const gone = await waitFor('a final answer for the dropped flow', async () => {
    const res = await sendOverTcp({
      host: kam.address,
      port: kam.tcpPort,
      method: 'OPTIONS',
      to: `sip:dave@${DOMAIN}`,
    });
    return res.status === 200 ? null : res;
  });
  assert.equal(gone.status, 430);
});

test('300 load clients in worker threads register through the pair to Kamailio and hold with refreshes', async (t) => {
  if (!setup) return t.skip(missing!);
  const load = LoadClients.create({
    target: {
      host: '127.0.0.1',
      port: setup.pair.edge.ports.sipTls!,
      transport: 'tls',
      ca: setup.pair.ca,
      servername: 'edge.example.com',
    },
    domain: DOMAIN,
    password: KAMAILIO_PASSWORD,
    users: { prefix: 'pairload', count: 300 },
    expiresS: 60,
    timeoutMs: 5000,
    workers: 2,
  });
  t.after(() => load.close());
  const c = await load.connect();
  assert.equal(c.connected, 300, c.errors.join('; '));
  const once = await load.registerOnce();
  assert.equal(once.ok, 300, JSON.stringify(once.failures));
  await load.hold(400);
  // Bounded wait rather than a fixed sleep: on a busy machine the pair refreshes slower than every 400 ms.
  const s = await waitFor(
    '300 refreshes',
    async () => {
      const now = await load.stats();
      return now.ok >= 600 ? now : null;
    },
    20_000,
    100,
  );
  assert.deepEqual(s.failures, {});
  assert.equal(s.registered, 300);
  // One client reached from the inside while the rest refresh around it.
  const o = await sendOverTcp({
    host: setup.kam.address,
    port: setup.kam.tcpPort,
    method: 'OPTIONS',
    to: `sip:pairload7@${DOMAIN}`,
  });
  assert.equal(o.status, 200);
  assert.equal((await load.stats()).received.OPTIONS, 1);
});
