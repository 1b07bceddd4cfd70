import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CertificateAuthority } from '../../src/certs/index.js';
import { LoadClients, RegisteringClient } from '../../src/lab/load/index.js';
import { KAMAILIO_PASSWORD, kamailioMissing, startKamailio, type Kamailio } from './kamailio.js';
import { sendOverTcp } from './sip-uac.js';
import { waitFor } from '../support/log-capture.js';

// Kamailio on its own with the shipped cfg and our client: the reference the pair is measured against, and
// the proof that the cfg challenges, stores bindings and routes to a registered user over its connection.

const missing = kamailioMissing(true);
let kam: Kamailio | null = null;
let ca: CertificateAuthority;

before(async () => {
  if (missing) return;
  ca = await CertificateAuthority.create({ commonName: 'interop test CA' });
  const cert = await ca.issue({
    commonName: 'kamailio.example.com',
    dnsNames: ['kamailio.example.com'],
    ipAddresses: ['127.0.0.1'],
  });
  kam = await startKamailio({ auth: true, tls: cert });
});
after(async () => kam?.close());

test('a TLS client is challenged by Kamailio, registers with digest, and refreshes on cached credentials', async (t) => {
  if (!kam) return t.skip(missing ?? 'kamailio did not start');
  const client = new RegisteringClient({
    target: {
      host: '127.0.0.1',
      port: kam.tlsPort!,
      transport: 'tls',
      ca: ca.cert,
      servername: 'kamailio.example.com',
    },
    identity: { user: 'alice', domain: 'example.com', password: KAMAILIO_PASSWORD },
    expiresS: 120,
    timeoutMs: 5000,
  });
  t.after(() => client.close());
  await client.connect();
  const first = await client.register();
  assert.deepEqual(
    [first.status, first.challenged],
    [200, true],
    'the first REGISTER is challenged, the answer accepted',
  );
  const refresh = await client.register();
  assert.deepEqual(
    [refresh.status, refresh.challenged],
    [200, false],
    'a refresh reuses the nonce without a new challenge',
  );
});

test('a wrong password ends in 401, not a loop of challenges', async (t) => {
  if (!kam) return t.skip(missing ?? 'kamailio did not start');
  const client = new RegisteringClient({
    target: {
      host: '127.0.0.1',
      port: kam.tlsPort!,
      transport: 'tls',
      ca: ca.cert,
      servername: 'kamailio.example.com',
    },
    identity: { user: 'mallory', domain: 'example.com', password: 'not-the-password' },
    expiresS: 120,
    timeoutMs: 5000,
  });
  t.after(() => client.close());
  await client.connect();
  const r = await client.register();
  assert.equal(r.status, 401);
  assert.equal(r.challenged, true);
});

test('an OPTIONS sent into Kamailio for a registered user reaches the client over its own TLS connection', async (t) => {
  if (!kam) return t.skip(missing ?? 'kamailio did not start');
  const client = new RegisteringClient({
    target: {
      host: '127.0.0.1',
      port: kam.tlsPort!,
      transport: 'tls',
      ca: ca.cert,
      servername: 'kamailio.example.com',
    },
    identity: { user: 'bob', domain: 'example.com', password: KAMAILIO_PASSWORD },
    expiresS: 120,
    timeoutMs: 5000,
    onRequest: (req) => (req.method === 'OPTIONS' ? 200 : 488),
  });
  t.after(() => client.close());
  await client.connect();
  assert.equal((await client.register()).status, 200);
  const res = await sendOverTcp({ host: '127.0.0.1', port: kam.tcpPort, method: 'OPTIONS', to: 'sip:bob@example.com' });
  assert.equal(res.status, 200, 'the client answered');
  assert.equal(client.received.get('OPTIONS'), 1);
  const unknown = await sendOverTcp({
    host: '127.0.0.1',
    port: kam.tcpPort,
    method: 'OPTIONS',
    to: 'sip:nobody@example.com',
  });
  assert.equal(unknown.status, 404, 'an unregistered user is not found');
});

test('200 load clients in worker threads, one TLS connection each, register with digest and hold with refreshes', async (t) => {
  if (!kam) return t.skip(missing ?? 'kamailio did not start');
  const load = LoadClients.create({
    target: {
      host: '127.0.0.1',
      port: kam.tlsPort!,
      transport: 'tls',
      ca: ca.cert,
      servername: 'kamailio.example.com',
    },
    domain: 'example.com',
    password: KAMAILIO_PASSWORD,
    users: { prefix: 'load', count: 200 },
    expiresS: 60,
    timeoutMs: 5000,
    workers: 2,
  });
  t.after(() => load.close());
  const c = await load.connect();
  assert.equal(c.connected, 200, c.errors.join('; '));
  const once = await load.registerOnce();
  assert.equal(once.ok, 200, JSON.stringify(once.failures));
  assert.ok(once.latency.p50 > 0 && once.latency.p99 >= once.latency.p50);
  const loop = await load.loop(500);
  assert.ok(loop.ok > 0 && loop.perSecond > 0, JSON.stringify(loop));
  assert.deepEqual(loop.failures, {});
  await load.hold(300);
  // Each refresh adds to ok: wait (bounded, the machine may be busy) until 200 more than before holding.
  const s = await waitFor(
    '200 refreshes',
    async () => {
      const now = await load.stats();
      return now.ok >= once.ok + loop.ok + 200 ? now : null;
    },
    20_000,
    100,
  );
  assert.deepEqual(s.failures, {});
  assert.equal(s.registered, 200);
});
