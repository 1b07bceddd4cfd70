import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { METRIC_FAMILIES } from '../../src/admin/index.js';
import { startLab, type Lab } from '../../src/lab/index.js';
import { waitFor } from '../support/log-capture.js';
import { mediaRange } from '../support/media-range.js';
import { parseExposition } from './helpers.js';

const ROOT = process.env.MRA_ROOT ?? process.cwd();
const PROMTOOL = '/usr/bin/promtool';

let dir: string;
let lab: Lab;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mra-metrics-'));
  lab = await startLab({
    dir,
    ports: 'ephemeral',
    logLevel: 'silent',
    clients: 2,
    media: { edge: mediaRange(), core: mediaRange(), clients: mediaRange() },
  });
});

after(async () => {
  await lab?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** promtool's verdict on one exposition: its exit code and what it printed (nothing when every name is right). */
function promtool(text: string): { code: number | null; out: string } {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

const scrape = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
const status = async (port: number) =>
  // biome-ignore lint/suspicious/noExplicitAny: the status JSON, read field by field
  (await (await fetch(`http://127.0.0.1:${port}/api/status`)).json()) as Record<string, any>;

test('promtool check metrics finds nothing to say about either node, and does flag names against the rules', async () => {
  assert.ok(
    existsSync(PROMTOOL),
    `${PROMTOOL} missing: apt-get install prometheus (listed in scripts/apt-packages.txt [test])`,
  );
  // The check can fail: the old exposition's kind of names are flagged.
  const bad = promtool(
    '# HELP mra_refused A count.\n# TYPE mra_refused counter\nmra_refused 3\n# HELP mra_rtt_ms Round trip.\n# TYPE mra_rtt_ms gauge\nmra_rtt_ms 4\n',
  );
  assert.notEqual(bad.code, 0);
  assert.match(bad.out, /_total/);
  await waitFor(
    'registrations on both nodes',
    async () =>
      (await status(lab.edge.ports.admin!)).sip?.registrations === 2 &&
      (await status(lab.core.ports.admin!)).sip?.registrations === 2,
    30_000,
    300,
  );
  for (const [role, port] of [
    ['edge', lab.edge.ports.admin!],
    ['core', lab.core.ports.admin!],
  ] as const) {
    const text = await scrape(port);
    const verdict = promtool(text);
    assert.deepEqual(verdict, { code: 0, out: '' }, `${role}: promtool check metrics`);
    const { samples, types } = parseExposition(text);
    assert.ok(
      samples.every((s) => s.labels.role === role),
      `${role}: every series carries role`,
    );
    for (const [name, type] of types) if (type === 'counter') assert.match(name, /_total$/, `${role}: counter ${name}`);
    assert.ok(!samples.some((s) => /^mra_process_|process_process/.test(s.name)), `${role}: no doubled process prefix`);
    for (const f of METRIC_FAMILIES.filter((x) => !x.role || x.role === role))
      assert.ok(types.has(f.name), `${role} exports ${f.name}`);
    for (const f of METRIC_FAMILIES.filter((x) => x.role && x.role !== role))
      assert.ok(!types.has(f.name), `${role} does not export ${f.name}`);
  }
});

test("the figures are the status document's, in base units and with labels for direction and reason", async () => {
  const port = lab.core.ports.admin!;
  const doc = await status(port);
  const { samples } = parseExposition(await scrape(port));
  const value = (name: string, labels: Record<string, string> = {}) =>
    samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
  assert.equal(value('mra_node_info', { node: 'core1' }), 1);
  assert.equal(value('mra_store_up'), 1, 'the lab keeps its state in memory, which always answers');
  assert.equal(value('mra_sip_registrations'), doc.sip.registrations);
  assert.equal(value('mra_sip_registrations_limit'), 2500);
  assert.equal(value('mra_traversal_link_up'), 1);
  assert.equal(value('mra_traversal_channels_up', { channel: 'http' }), 1);
  assert.equal(value('mra_node_start_time_seconds'), Date.parse(doc.started) / 1000);
  assert.ok(
    (value('mra_sip_messages_total', { direction: 'out', peer: 'call_control' }) ?? 0) >= 2,
    'the REGISTERs went to call control',
  );
  assert.equal(value('mra_sip_calls_ended_total', { reason: 'flow_closed' }), doc.sip.callsEnded.flowClosed);
  assert.equal(value('mra_http_authorizations_total', { method: 'basic' }), doc.http.authorization.basic);
  assert.equal(value('mra_discovery_publisher_up', { kind: 'unified_cm', publisher: '127.0.3.1' }), 1);
  assert.equal(value('mra_tunnel_sessions', { plane: 'xmpp' }), 1);
  const edge = parseExposition(await scrape(lab.edge.ports.admin!)).samples;
  const edgeDoc = await status(lab.edge.ports.admin!);
  const ev = (name: string, labels: Record<string, string> = {}) =>
    edge.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
  assert.equal(ev('mra_intrusion_failures_total', { category: 'http_auth' }), edgeDoc.intrusion.failures.http_auth);
  assert.equal(ev('mra_sip_tls_handshakes_total', { result: 'accepted' }), edgeDoc.sip.tls.accepted);
  assert.equal(ev('mra_traversal_cores'), 1);
  assert.equal(ev('mra_domains'), 1, 'the edge counts the domains core sent it');
  assert.equal(ev('mra_media_kernel_path'), edgeDoc.media.kernelPath.active ? 1 : 0);
  assert.equal(ev('mra_media_kernel_flows'), edgeDoc.media.kernelPath.flows);
  assert.equal(ev('mra_media_kernel_flows_installed_total'), edgeDoc.media.kernelPath.installs);
});

test('docs/metrics.md lists exactly the families the code exports, and the Grafana dashboard asks only for those', () => {
  const doc = readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8');
  const documented = new Map([...doc.matchAll(/^\| `([a-z_]+)` \| (gauge|counter) \|/gm)].map((m) => [m[1]!, m[2]!]));
  assert.deepEqual([...documented.keys()].sort(), METRIC_FAMILIES.map((f) => f.name).sort());
  for (const f of METRIC_FAMILIES) assert.equal(documented.get(f.name), f.type, f.name);

  const dashboard = JSON.parse(readFileSync(join(ROOT, 'examples/grafana-dashboard.json'), 'utf8')) as {
    panels: Array<{ type: string; targets?: Array<{ expr: string }> }>;
  };
  const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
  assert.ok(exprs.length >= 20, `${exprs.length} queries`);
  const known = new Set(METRIC_FAMILIES.map((f) => f.name));
  for (const e of exprs)
    for (const [name] of e.matchAll(/\bmra_[a-z_]+\b/g))
      assert.ok(known.has(name), `dashboard query names ${name}: ${e}`);
});
