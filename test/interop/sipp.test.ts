import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { KAMAILIO_PASSWORD, kamailioMissing } from './kamailio.js';
import { startPairWithKamailio } from './pair-kamailio.js';
import { runSipp, sippMissing } from './sipp.js';
import { startTlsRelay, type TlsRelay } from './tls-relay.js';
import { DOMAIN } from '../sip-proxy/pair.js';

// sipp (Debian's, without TLS) drives REGISTER scenarios through the TLS relay, edge, link and core to
// Kamailio, which challenges each one: sipp's exit status and its statistics file say whether all passed.

const missing = kamailioMissing() ?? sippMissing();
let setup: Awaited<ReturnType<typeof startPairWithKamailio>> | null = null;
let relay: TlsRelay | null = null;

before(async () => {
  if (missing) return;
  setup = await startPairWithKamailio();
  relay = await startTlsRelay({
    host: '127.0.0.1',
    port: setup.pair.edge.ports.sipTls!,
    ca: setup.pair.ca,
    servername: 'edge.example.com',
  });
});
after(async () => {
  await relay?.close();
  await setup?.close();
});

const users = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const AUTH = { user: 'sipp', password: KAMAILIO_PASSWORD };

test('sipp registers 60 users with digest, each over its own TLS connection to the edge', async (t) => {
  if (!setup || !relay) return t.skip(missing ?? 'setup failed');
  const before = relay.opened;
  const r = await runSipp({
    scenario: 'register-digest.xml',
    target: { host: '127.0.0.1', port: relay.port },
    users: users('sippn', 60),
    auth: AUTH,
    domain: DOMAIN,
    calls: 60,
    rate: 100,
    limit: 20,
    mode: 'tn',
  });
  assert.equal(r.status, 0, `sipp exit status; errors: ${r.errors}`);
  assert.deepEqual([r.successful, r.failed], [60, 0]);
  assert.equal(relay.opened - before, 60, 'one TLS connection per registration');
});

test('sipp registers 200 users one after another over a single TLS connection', async (t) => {
  if (!setup || !relay) return t.skip(missing ?? 'setup failed');
  const r = await runSipp({
    scenario: 'register-digest.xml',
    target: { host: '127.0.0.1', port: relay.port },
    users: users('sipp1-', 200),
    auth: AUTH,
    domain: DOMAIN,
    calls: 200,
    rate: 400,
    limit: 50,
    mode: 't1',
  });
  assert.equal(r.status, 0, `sipp exit status; errors: ${r.errors}`);
  assert.deepEqual([r.successful, r.failed], [200, 0]);
});

test('with a wrong password every sipp call fails on the second 401 and sipp exits 1', async (t) => {
  if (!setup || !relay) return t.skip(missing ?? 'setup failed');
  const r = await runSipp({
    scenario: 'register-digest.xml',
    target: { host: '127.0.0.1', port: relay.port },
    users: users('sippbad', 10),
    auth: { user: 'sipp', password: 'wrong' },
    domain: DOMAIN,
    calls: 10,
    rate: 100,
    limit: 10,
    mode: 't1',
  });
  assert.equal(r.status, 1, `sipp exit status; errors: ${r.errors}`);
  assert.deepEqual([r.successful, r.failed], [0, 10]);
  assert.match(r.errors, /401/, 'sipp saw the second challenge where it expected 200');
});
