import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labPki } from '../../src/lab/lab-pki.js';
import { Discovery, type ClusterConfig } from '../../src/discovery/index.js';
import { startInsideServers, type InsideServers } from '../../src/lab/index.js';
import { LAB_AXL_CREDENTIALS } from '../../src/lab/axl.js';
import { AlarmBoard, statusAlarms } from '../../src/admin/index.js';
import { capturedLogger } from '../support/log-capture.js';

const ADDRESS = '127.0.3.1';
let dir: string;
let ca: string;
let tls: { cert: string; key: string };
let inside: InsideServers;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mra-discovery-'));
  const pki = await labPki(join(dir, 'pki'));
  const files = await pki.node('inside', ['cucm.lab.example.com'], [ADDRESS]);
  ca = readFileSync(pki.caFile, 'utf8');
  tls = { cert: readFileSync(files.certFile, 'utf8'), key: readFileSync(files.keyFile, 'utf8') };
  inside = await startInsideServers({ address: ADDRESS, ports: 'ephemeral', tls, log: capturedLogger('lab').log });
});

after(async () => {
  await inside.close();
  rmSync(dir, { recursive: true, force: true });
});

function cucm(overrides: Partial<ClusterConfig> = {}): ClusterConfig {
  return {
    kind: 'unified_cm',
    publisher: ADDRESS,
    https_port: inside.ports.uds,
    ...LAB_AXL_CREDENTIALS,
    tls_verify: true,
    deployment: 'default',
    nodes: [],
    ...overrides,
  };
}

function discovery(clusters: ClusterConfig[], timeoutMs = 3000) {
  const alarms = new AlarmBoard();
  const d = new Discovery({
    clusters,
    ca,
    timeoutMs,
    alarm: (id, s, m) => alarms.raise(id, s, m),
    clearAlarm: (id) => alarms.clear(id),
    log: capturedLogger().log,
  });
  return { d, alarms };
}

test('discovery reads the lab publisher: nodes, CEtcp zones, search rules at priority 45, automatic rules, token keys', async () => {
  inside.cluster.nodes = [
    { name: ADDRESS, sipPort: inside.ports.callControlSip },
    { name: 'cucm2.lab.example.com', sipPort: 5070, sipTlsPort: 5071 },
  ];
  inside.cluster.mixedMode = false;
  const { d, alarms } = discovery([cucm()]);
  const r = await d.refresh();
  assert.deepEqual(r.nodes.map((n) => n.name).sort(), [ADDRESS, 'cucm2.lab.example.com']);
  assert.deepEqual(r.zones.map((z) => z.name).sort(), [`CEtcp-${ADDRESS}`, 'CEtcp-cucm2.lab.example.com']);
  const z2 = r.routes.find((x) => x.zone === 'CEtcp-cucm2.lab.example.com')!;
  assert.deepEqual(z2.target, { host: 'cucm2.lab.example.com', port: 5070, transport: 'tcp' });
  assert.equal(z2.priority, 45);
  const uds = r.rules.find((x) => x.host === 'cucm2.lab.example.com' && x.path === '/cucm-uds/')!;
  assert.equal(uds.port, inside.ports.uds);
  assert.ok(
    r.rules.some(
      (x) => x.host === 'cucm2.lab.example.com' && x.type === 'tftp' && x.port === 6970 && x.scheme === 'http',
    ),
  );
  assert.deepEqual(
    r.tokenKeys[0]!.keys.map((k) => k.kid),
    [inside.tokens.kid],
  );
  assert.ok(r.insideNodes.some((n) => n.type === 'unified_cm' && n.address === 'cucm2.lab.example.com'));
  assert.deepEqual(alarms.list(), []);
  assert.equal(d.status().stale, false);
});

test('mixed mode adds CEtls zones; removing a node and refreshing removes its zones and rules', async () => {
  inside.cluster.nodes = [
    { name: ADDRESS, sipPort: inside.ports.callControlSip, sipTlsPort: 5061 },
    { name: 'cucm2.lab.example.com' },
  ];
  inside.cluster.mixedMode = true;
  const { d } = discovery([cucm()]);
  const changes: number[] = [];
  d.on('change', (r) => changes.push(r.zones.length));
  let r = await d.refresh();
  assert.deepEqual(
    r.zones.map((z) => z.name).sort(),
    [`CEtcp-${ADDRESS}`, `CEtls-${ADDRESS}`, 'CEtcp-cucm2.lab.example.com', 'CEtls-cucm2.lab.example.com'].sort(),
  );
  assert.equal(r.zones.find((z) => z.name === `CEtls-${ADDRESS}`)!.tlsVerify, true);
  inside.cluster.nodes = inside.cluster.nodes.filter((n) => n.name !== 'cucm2.lab.example.com');
  inside.cluster.mixedMode = false;
  r = await d.refresh();
  assert.deepEqual(
    r.zones.map((z) => z.name),
    [`CEtcp-${ADDRESS}`],
  );
  assert.equal(r.rules.filter((x) => x.host === 'cucm2.lab.example.com').length, 0);
  assert.deepEqual(changes, [4, 1]);
});

test('a cluster not read for staleAfterMs is stale although its last answer was good: discovery.stale', async () => {
  inside.cluster.nodes = [{ name: ADDRESS }];
  const alarms = new AlarmBoard();
  const d = new Discovery({
    clusters: [cucm()],
    ca,
    timeoutMs: 3000,
    staleAfterMs: 300,
    alarm: (id, s, m) => alarms.raise(id, s, m),
    clearAlarm: (id) => alarms.clear(id),
    log: capturedLogger().log,
  });
  await d.refresh();
  assert.equal(d.status().stale, false);
  assert.deepEqual(statusAlarms({ discovery: d.status() }), []);
  await new Promise((r) => setTimeout(r, 400));
  const [a] = statusAlarms({ discovery: d.status() });
  assert.equal(a?.id, 'discovery.stale');
  assert.match(a!.message, /discovery is stale: unified_cm publisher 127\.0\.3\.1 not read since /);
  await d.refresh();
  assert.equal(d.status().stale, false, 'a good read makes it fresh again');
  assert.deepEqual(alarms.list(), [], 'the publisher itself never failed');
});

test('new sign-ins wait for a running refresh instead of failing', async () => {
  inside.cluster.nodes = [{ name: ADDRESS }];
  inside.cluster.mixedMode = false;
  const { d } = discovery([cucm()]);
  const running = d.refresh();
  assert.equal(d.refreshing, true);
  const fresh = await d.whenFresh();
  assert.equal(d.refreshing, false);
  assert.deepEqual(
    fresh.nodes.map((n) => n.name),
    [ADDRESS],
  );
  assert.equal(await running, fresh);
});

test('a publisher answering garbage is an alarm naming it, keeps the last good nodes, and marks discovery stale', async () => {
  inside.cluster.nodes = [{ name: ADDRESS }];
  const { d, alarms } = discovery([cucm()]);
  await d.refresh();
  inside.cluster.misbehave = 'garbage';
  try {
    const r = await d.refresh();
    assert.deepEqual(
      r.nodes.map((n) => n.name),
      [ADDRESS],
    );
    const [a] = alarms.list();
    assert.equal(a?.id, `discovery.unified_cm.${ADDRESS}`);
    assert.match(
      a!.message,
      /not an AXL listProcessNodeResponse envelope.*keeping the nodes from the last good answer/,
    );
    const st = d.status();
    assert.equal(st.stale, true);
    assert.match(String(st.staleReason), /last failed/);
  } finally {
    inside.cluster.misbehave = undefined;
  }
  await d.refresh();
  assert.deepEqual(alarms.list(), [], 'a good answer clears the alarm');
  assert.equal(d.status().stale, false);
});

test('a SOAP fault, wrong credentials, a silent and an absent publisher are each a clear alarm, never a throw', async () => {
  const cases: Array<[string, () => Partial<ClusterConfig>, LabMisbehave | undefined, RegExp]> = [
    ['fault', () => ({}), 'fault', /SOAP fault: Database is not available/],
    ['credentials', () => ({ password: 'wrong' }), undefined, /refused the AXL credentials \(HTTP 401\)/],
    ['silent', () => ({}), 'silent', /did not answer within 300 ms/],
    ['absent', () => ({ https_port: closedPort }), undefined, /cannot reach publisher .*ECONNREFUSED/],
  ];
  for (const [name, cfg, misbehave, want] of cases) {
    inside.cluster.misbehave = misbehave;
    try {
      const { d, alarms } = discovery(
        [
          cucm({
            ...cfg(),
            nodes: [
              {
                address: 'static.lab.example.com',
                sip_port: 5060,
                sip_tls_port: 5061,
                https_port: 8443,
                tftp_port: 6970,
              },
            ],
          }),
        ],
        300,
      );
      const r = await d.refresh();
      assert.match(alarms.list()[0]?.message ?? '', want, name);
      assert.deepEqual(
        r.nodes.map((n) => `${n.name}/${n.source}`),
        ['static.lab.example.com/static'],
        `${name}: static nodes still served`,
      );
    } finally {
      inside.cluster.misbehave = undefined;
    }
  }
});

test('TLS verify refuses a publisher whose certificate the CA file does not vouch for', async () => {
  const other = await labPki(join(dir, 'other-pki'));
  const alarms = new AlarmBoard();
  const strict = new Discovery({
    clusters: [cucm()],
    ca: readFileSync(other.caFile, 'utf8'),
    timeoutMs: 2000,
    alarm: (id, s, m) => alarms.raise(id, s, m),
    clearAlarm: () => {},
    log: capturedLogger().log,
  });
  await strict.refresh();
  assert.match(alarms.list()[0]?.message ?? '', /certificate refused/);
  const lax = discovery([cucm({ tls_verify: false })]);
  await lax.d.refresh();
  assert.deepEqual(lax.alarms.list(), [], 'TLS verify off accepts it');
});

type LabMisbehave = InsideServers['cluster']['misbehave'];
let closedPort = 1;
before(async () => {
  // A port that was just free: nothing listens there during the test.
  const s: Server = createHttpsServer(tls);
  await new Promise<void>((r) => s.listen(0, ADDRESS, () => r()));
  closedPort = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
});

test('closing discovery abandons a request in flight at once, without an alarm', async () => {
  inside.cluster.misbehave = 'silent';
  try {
    const { d, alarms } = discovery([cucm()], 30_000);
    const running = d.refresh();
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    d.close();
    await running;
    assert.ok(Date.now() - t0 < 5000, 'did not wait for the 30 s timeout');
    assert.deepEqual(alarms.list(), []);
  } finally {
    inside.cluster.misbehave = undefined;
  }
});
