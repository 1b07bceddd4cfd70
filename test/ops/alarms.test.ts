import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LINK_DOWN_GRACE_MS, statusAlarms, type Alarm } from '../../src/admin/index.js';
import { attachDiscovery } from '../../src/discovery/index.js';
import { startCore } from '../../src/node/index.js';
import { raiseCertificateAlarms, watchCertificates, type LoadedTls } from '../../src/node/tls-files.js';
import { freePort } from '../support/node-files.js';
import { waitFor } from '../support/log-capture.js';
import { coreFixture } from './helpers.js';
import { startPair } from '../sip-proxy/pair.js';

const alarmsOf = (doc: Record<string, unknown>) => doc.alarms as Alarm[];
const DAY = 86_400_000;

test('certificate alarms: near expiry is a warning; expired and a missing clientAuth EKU are errors, each named', async (t) => {
  const near = await coreFixture({ cert: { days: 10 } });
  t.after(() => near.cleanup());
  raiseCertificateAlarms(near.node.ctx, near.tlsProblems);
  const a = alarmsOf(near.node.status()).find((x) => x.id === 'certificate.near-expiry');
  assert.equal(a?.severity, 'warning');
  assert.match(a!.message, /expires on .* \(\d+ days left\); renew it/);

  const bad = await coreFixture({
    cert: { clientAuth: false, notBefore: new Date(Date.now() - 40 * DAY), notAfter: new Date(Date.now() - DAY) },
  });
  t.after(() => bad.cleanup());
  raiseCertificateAlarms(bad.node.ctx, bad.tlsProblems);
  const ids = alarmsOf(bad.node.status()).map((x) => `${x.id}/${x.severity}`);
  assert.ok(ids.includes('certificate.expired/error'), ids.join());
  assert.ok(ids.includes('certificate.missing-client-auth/error'), ids.join());

  const good = await coreFixture();
  t.after(() => good.cleanup());
  raiseCertificateAlarms(good.node.ctx, good.tlsProblems);
  assert.deepEqual(alarmsOf(good.node.status()), [], 'a good certificate raises nothing');
});

test('certificate expiry is re-checked while the node runs: near expiry, then expired, without a restart', async (t) => {
  const fx = await coreFixture({ cert: { days: 60 } });
  t.after(() => fx.cleanup());
  const watch = watchCertificates(fx.node.ctx, fx.node.ctx.tls as LoadedTls);
  const ids = () => alarmsOf(fx.node.status()).map((a) => `${a.id}/${a.severity}`);
  assert.deepEqual(ids(), [], '60 days left: nothing yet');
  watch.recheck(new Date(Date.now() + 40 * DAY));
  assert.deepEqual(ids(), ['certificate.near-expiry/warning']);
  assert.ok(
    fx.logLines().some((l) => l.problem === 'near-expiry'),
    'logged when it first appears',
  );
  watch.recheck(new Date(Date.now() + 61 * DAY));
  assert.deepEqual(ids(), ['certificate.expired/error'], 'near expiry gives way to expired');
});

test('link down: a core whose edge does not answer raises traversal.link-down once the grace time has passed', async (t) => {
  const fx = await coreFixture({
    config: {
      traversal: {
        peers: [{ address: '127.0.0.1', sip_port: await freePort() }],
        username: 'traversal',
        password: 'secret',
        reconnect_initial_s: 0.05,
        connect_timeout_s: 0.5,
      },
    },
  });
  t.after(() => fx.cleanup());
  const core = await startCore(fx.cfg, fx.log);
  t.after(() => core.close());
  const doc = await waitFor('a failed attempt', () => {
    const d = core.status() as { traversal: { failedAttempts: number } };
    return d.traversal.failedAttempts > 0 ? (d as unknown as Record<string, unknown>) : undefined;
  });
  assert.ok(!alarmsOf(doc).some((a) => a.id === 'traversal.link-down'), 'not during the grace time');
  const later = statusAlarms(doc, Date.now() + LINK_DOWN_GRACE_MS + 1000).find((a) => a.id === 'traversal.link-down');
  assert.equal(later?.severity, 'error');
  assert.match(later!.message, /traversal link is \w+: .*ECONNREFUSED|refused/);
});

test('capacity above 80% of a section limit raises a warning; at 80% it does not', async (t) => {
  const fx = await coreFixture();
  t.after(() => fx.cleanup());
  let used = 2000;
  fx.node.ctx.addStatus('registrations', () => ({ capacity: { used, limit: 2500 } }));
  assert.deepEqual(alarmsOf(fx.node.status()), []);
  used = 2001;
  const [a] = alarmsOf(fx.node.status());
  assert.equal(a?.id, 'registrations.capacity');
  assert.match(a!.message, /2001 of 2500 in use \(80%, above 80%\)/);
});

test('capacity: registrations through a real edge above 80% of capacity.registrations raise sip.capacity', async (t) => {
  const pair = await startPair({ edge: { capacity: { registrations: 2 } } });
  t.after(() => pair.close());
  const edgeAlarms = () => alarmsOf(pair.edge.status() as Record<string, unknown>);
  const alice = await pair.client('alice');
  assert.equal((await alice.register()).status, 200);
  await waitFor('1 registration counted', () => pair.edgeStatus().registrations === 1 || undefined);
  assert.ok(!edgeAlarms().some((a) => a.id === 'sip.capacity'), '1 of 2 is 50%: no alarm');
  const bob = await pair.client('bob');
  assert.equal((await bob.register()).status, 200);
  const a = await waitFor('sip.capacity', () => edgeAlarms().find((x) => x.id === 'sip.capacity'));
  assert.equal(a.severity, 'warning');
  assert.match(a.message, /sip registrations: 2 of 2 in use \(100%, above 80%\)/);
  assert.equal((await bob.register(0)).status, 200);
  await waitFor(
    'the alarm clears below the threshold',
    () => !edgeAlarms().some((x) => x.id === 'sip.capacity') || undefined,
  );
});

test('discovery re-reads the publishers by itself (hourly by default), so staleness means a failing publisher', async (t) => {
  const fx = await coreFixture({
    config: { unified_cm: [{ publisher: '127.0.0.1', https_port: await freePort(), username: 'axl', password: 'x' }] },
  });
  t.after(() => fx.cleanup());
  const d = attachDiscovery(fx.node.ctx, { timeoutMs: 500, refreshEveryMs: 100 });
  await d.whenFresh();
  const attempt = () => (d.status().clusters as Array<{ lastAttempt?: string }>)[0]?.lastAttempt;
  const first = attempt();
  assert.ok(first);
  await waitFor('a refresh nobody asked for', () => (attempt() !== first ? true : undefined), 3000, 50);
});

test('discovery stale: a publisher that does not answer raises its own alarm and discovery.stale', async (t) => {
  const port = await freePort();
  const fx = await coreFixture({
    config: { unified_cm: [{ publisher: '127.0.0.1', https_port: port, username: 'axl', password: 'x' }] },
  });
  t.after(() => fx.cleanup());
  const discovery = attachDiscovery(fx.node.ctx, { timeoutMs: 500 });
  await discovery.whenFresh();
  const ids = alarmsOf(fx.node.status()).map((a) => a.id);
  assert.deepEqual(ids.sort(), ['discovery.stale', 'discovery.unified_cm.127.0.0.1']);
  const refreshed = await fx.node.action('discovery-refresh')!();
  assert.equal((refreshed as { nodes: number }).nodes, 1, 'the admin action re-runs discovery and answers what it has');
  const nodes = (fx.node.status().discovery as { nodes: Array<{ name: string; source: string }> }).nodes;
  assert.deepEqual(
    nodes.map((n) => `${n.name}/${n.source}`),
    ['127.0.0.1/static'],
    'never read: the publisher alone, as configured',
  );
});

test("the edge's link-down alarm carries the last refused attempt's reason", () => {
  const started = new Date(Date.now() - 60_000).toISOString();
  const [alarm] = statusAlarms({
    started,
    traversal: {
      state: 'down',
      cores: [],
      refused: { certificate: 3 },
      lastError:
        'last refused: 2026-01-01T00:00:00.000Z from 198.18.2.2:40000: presented no client certificate: refused in the TLS handshake',
    },
  });
  assert.equal(alarm?.id, 'traversal.link-down');
  assert.match(
    alarm!.message,
    /traversal link is down: last refused: .* from 198\.18\.2\.2:40000: presented no client certificate/,
  );
});
