import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startLab, type Lab } from '../../src/lab/index.js';
import { waitFor } from '../support/log-capture.js';
import { mediaRange } from '../support/media-range.js';
import { runCli } from '../support/cli-run.js';
import { freePort } from '../support/node-files.js';

let dir: string;
let lab: Lab;
let core: string;
let edge: string;
let coreYaml: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mra-cli-'));
  lab = await startLab({
    dir: join(dir, 'lab'),
    ports: 'ephemeral',
    logLevel: 'silent',
    clients: 1,
    media: { edge: mediaRange(), core: mediaRange(), clients: mediaRange() },
  });
  core = `http://127.0.0.1:${lab.core.ports.admin}`;
  edge = `http://127.0.0.1:${lab.edge.ports.admin}`;
  // The core's configuration as an operator would have it on that host: -c reads its admin address and port.
  const c = lab.configs.core;
  coreYaml = join(dir, 'core.yaml');
  writeFileSync(
    coreYaml,
    stringify({
      role: 'core',
      name: c.name,
      admin: { address: '127.0.0.1', port: lab.core.ports.admin },
      tls: c.tls,
      traversal: { peers: c.traversal.peers, username: c.traversal.username, password: 'not-used-here' },
    }),
  );
});

after(async () => {
  await lab?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI as an operator would (a child process) and gives back what it printed and its exit code. */
const cli = (...args: string[]) => runCli(args);

test("status: every plane of each node, from --url or from the node's configuration, readable or --json", async () => {
  await waitFor(
    'alice registered at core',
    async () => /1 registration/.test((await cli('status', '--url', core)).out),
    30_000,
    300,
  );
  const c = await cli('status', '-c', coreYaml);
  assert.equal(c.code, 0, c.err);
  assert.equal(c.err, '', 'with -c nothing is guessed, so nothing to warn about');
  for (const line of [
    /^core core1 \(mra-edge \d+\.\d+\.\d+\), up .*, maintenance off$/m,
    /^alarms: none$/m,
    /^traversal link: up to edge1 at 127\.0\.1\.1:\d+/m,
    /channels: sip up, http up, xmpp up/,
    /^domains: lab\.example\.com \(SIP registrations and provisioning on Unified CM/m,
    /^discovery: 3 of 3 publishers answered, 3 node\(s\)/m,
    /zones: CEtcp-127\.0\.3\.1/,
    /^sip: 1 registration\(s\) of 2500/m,
    /^media: \d+ call\(s\) of 500/m,
    /^ {2}kernel path: (on \(.+\), \d+ flow\(s\)|off, .+)/m,
    /^https tunnel: 1 session\(s\)/m,
    /allow list: \d+ automatic/,
    /^xmpp: 1 stream\(s\) now/m,
    /^store: memory/m,
  ])
    assert.match(c.out, line);
  const e = await cli('status', '--url', edge);
  assert.equal(e.code, 0, e.err);
  assert.match(e.out, /^edge edge1 /m);
  assert.match(e.out, /^traversal: up, 1 core node\(s\)/m);
  assert.match(e.out, /core1 from 127\.0\.2\.1:\d+ since .*: (sip|http|xmpp) up/);
  assert.match(e.out, /^intrusion protection: 0 address\(es\) blocked now/m);
  const json = JSON.parse((await cli('status', '--url', edge, '--json')).out);
  assert.equal(json.role, 'edge');
  assert.equal(json.traversal.state, 'up');
});

test('registrations: listed with the client address, filtered by user and domain', async () => {
  const all = await cli('registrations', '--url', edge);
  assert.equal(all.code, 0, all.err);
  assert.match(all.out, /^AOR\s+CLIENT\s+SINCE\s+EXPIRES IN$/m);
  assert.match(all.out, /^alice@lab\.example\.com\s+127\.0\.0\.1:\d+\s+\d+ (s|min)\s+\d+ (s|min)$/m);
  assert.match(
    (await cli('registrations', '--url', edge, '--user', 'ALI')).out,
    /alice@lab\.example\.com/,
    'any part of the name, any case',
  );
  assert.equal((await cli('registrations', '--url', edge, '--user', 'bob')).out.trim(), 'no registrations');
  assert.equal(
    (await cli('registrations', '--url', core, '--domain', 'other.example.com')).out.trim(),
    'no registrations',
  );
  const json = JSON.parse(
    (await cli('registrations', '-c', coreYaml, '--domain', 'lab.example.com', '--json')).out,
  ) as Array<{ aor: string; expires: string }>;
  assert.deepEqual(
    json.map((r) => r.aor),
    ['alice@lab.example.com'],
  );
  assert.ok(Date.parse(json[0]!.expires) > Date.now());
});

test("calls: the desk phone's call listed, filtered, and shown with its legs and media figures", async () => {
  const listed = await waitFor(
    "the desk phone's call",
    async () => {
      const r = await cli('calls', '--url', core, '--json');
      const calls = JSON.parse(r.out) as Array<{
        callId: string;
        legs: Array<{ state: string; peer: string; media: Array<{ a: { packetsIn: number } }> }>;
      }>;
      return calls.find((c) =>
        c.legs.some(
          (l) => l.peer === 'desk@lab.example.com' && l.state === 'active' && (l.media?.[0]?.a.packetsIn ?? 0) > 0,
        ),
      );
    },
    30_000,
    300,
  );
  const table = await cli('calls', '--url', core, '--user', 'alice');
  assert.match(
    table.out,
    new RegExp(
      `^${listed.callId}\\s+alice@lab\\.example\\.com\\s+desk@lab\\.example\\.com\\s+to client\\s+active\\s+audio\\s+\\d+ (s|min)\\s+\\d+$`,
      'm',
    ),
  );
  assert.equal((await cli('calls', '--url', core, '--user', 'carol')).out.trim(), 'no calls');
  // The edge passes the client's SRTP through unchanged: once latched and ten packets on, the kernel forwards it,
  // where this machine lets the engine load BPF (else the engine said why, and user space carries it).
  const kernelPath = (
    (await (await fetch(`${edge}/api/status`)).json()) as {
      media: { kernelPath: { active: boolean; reason?: string } };
    }
  ).media.kernelPath;
  const path = kernelPath.active ? 'kernel' : 'user';
  if (!kernelPath.active) console.log(`# the edge's kernel path is off here: ${kernelPath.reason}`);
  const shown = await waitFor(
    `the edge's stream on the ${path} path`,
    async () => {
      const r = await cli('calls', 'show', listed.callId.slice(0, 8), '--url', edge);
      return new RegExp(`^      a: .*, ${path} path$`, 'm').test(r.out) ? r : undefined;
    },
    30_000,
    300,
  );
  assert.equal(shown.code, 0, shown.err);
  assert.match(shown.out, new RegExp(`^call ${listed.callId}$`, 'm'));
  assert.match(shown.out, /^ {2}leg alice@lab\.example\.com ↔ desk@lab\.example\.com, to client, active/m);
  assert.match(shown.out, /^ {4}stream 0 \(audio\): ports a \d+\/\d+ b \d+\/\d+$/m);
  assert.match(
    shown.out,
    /^ {6}a: in \d+ pkts\/\d+ B, out \d+ pkts\/\d+ B, lost \d+ \([\d.]+%\), SRTP failures 0, latched 127\.0\.4\.1:\d+, (kernel|user) path$/m,
  );
  if (kernelPath.active)
    assert.match(
      (await cli('status', '--url', edge)).out,
      /^ {2}kernel path: on \(.*lo.*\), [1-9]\d* flow\(s\) in the kernel now, \d+ packet\(s\) forwarded there; refusals 0$/m,
    );
  const none = await cli('calls', 'show', 'no-such-call', '--url', core);
  assert.equal(none.code, 1);
  assert.match(none.err, /HTTP 404: no call no-such-call through this node/);
});

test('maintenance on and off, shown in status; a bad state is a usage error', async () => {
  const on = await cli('maintenance', 'on', '--url', edge);
  assert.equal(on.code, 0, on.err);
  assert.match(on.out, /^maintenance mode on on edge edge1: (draining|drained)/m);
  assert.match((await cli('status', '--url', edge)).out, /maintenance ON/);
  assert.match((await cli('maintenance', '--url', edge)).out, /^maintenance mode on/);
  const off = await cli('maintenance', 'off', '--url', edge);
  assert.equal(off.out.trim(), 'maintenance mode off on edge edge1');
  const bad = await cli('maintenance', 'maybe', '--url', edge);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /state must be on or off, not "maybe"/);
});

test('discovery refresh on core; on the edge the node says there is none', async () => {
  const r = await cli('discovery', 'refresh', '-c', coreYaml);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), 'discovered 3 node(s); zones: CEtcp-127.0.3.1');
  const e = await cli('discovery', 'refresh', '--url', edge);
  assert.equal(e.code, 1);
  assert.match(e.err, /HTTP 404: no such action.*\(discovery runs on core\)/);
});

test('allow-list: show, add, export, remove, import; a bad rule is refused with its reason', async () => {
  const add = await cli(
    'allow-list',
    'add',
    'https://cuc.lab.example.com:443/vmrest/',
    '--methods',
    'GET,POST',
    '--description',
    'voicemail',
    '--url',
    core,
  );
  assert.equal(add.code, 0, add.err);
  assert.match(
    add.out,
    /^added https:\/\/cuc\.lab\.example\.com:443\/vmrest\/; kept in memory only: set http\.allow_list\.csv_file/m,
  );
  const shown = await cli('allow-list', 'show', '--url', core);
  assert.match(
    shown.out,
    /^https:\/\/cuc\.lab\.example\.com:443\/vmrest\/\s+GET,POST\s+prefix\s+operator\s+voicemail$/m,
  );
  assert.match(shown.out, /^https:\/\/127\.0\.3\.1:\d+\/cucm-uds\/\s+GET,PUT\s+prefix\s+automatic/m);
  const csv = join(dir, 'rules.csv');
  assert.equal((await cli('allow-list', 'export', csv, '--url', core)).code, 0);
  assert.match(
    readFileSync(csv, 'utf8'),
    /^Url,Deployment,HttpMethods,MatchType,Description\nhttps:\/\/cuc\.lab\.example\.com:443\/vmrest\/,default,"GET,POST",prefix,voicemail\n$/,
  );
  const dup = await cli('allow-list', 'add', 'https://cuc.lab.example.com:443/vmrest/', '--url', core);
  assert.equal(dup.code, 1);
  assert.match(dup.err, /already on the allow list/);
  assert.match(
    (await cli('allow-list', 'remove', 'https://cuc.lab.example.com:443/vmrest/', '--url', core)).out,
    /^removed https:\/\/cuc\.lab\.example\.com:443\/vmrest\//m,
  );
  assert.doesNotMatch((await cli('allow-list', 'show', '--url', core)).out, /cuc\.lab/);
  assert.match((await cli('allow-list', 'import', csv, '--url', core)).out, /^imported 1 rule\(s\)/m);
  assert.match(
    (await cli('allow-list', 'show', '--url', core, '--json')).out,
    /"url": "https:\/\/cuc\.lab\.example\.com:443\/vmrest\/"/,
  );
  const auto = await cli('allow-list', 'remove', `https://127.0.3.1:${lab.inside.ports.uds}/cucm-uds/`, '--url', core);
  assert.equal(auto.code, 1);
  assert.match(auto.err, /automatic rules follow discovery and cannot be removed/);
  const bad = await cli('allow-list', 'add', 'ftp://x', '--url', core);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /HTTP 400: .*rules\[\d+\]\.url: .*is not an http\(s\):\/\/host/, 'the field named, a 400');
  writeFileSync(join(dir, 'bad.csv'), 'Url,Nope\n');
  assert.match((await cli('allow-list', 'import', join(dir, 'bad.csv'), '--url', core)).err, /line 1: header must be/);
  assert.match((await cli('allow-list', 'show', '--url', edge)).err, /HTTP 404: no such resource/);
});

test('domains: show, set (a domain added, a service changed), remove; the edge learns each change; bad values refused', async () => {
  const edgeDomains = () => (lab.edge.status() as { sip?: { domains?: number | null } }).sip?.domains;
  // The table core sent the edge when the link came up.
  const before = await waitFor('the edge holds the lab domain table', () => edgeDomains(), 30_000);
  const shown = await cli('domains', 'show', '--url', core);
  assert.equal(shown.code, 0, shown.err);
  assert.match(shown.out, /^DOMAIN\s+DEPLOYMENT\s+SIP_REGISTRATIONS\s+ON_NODE\s+IM_PRESENCE\s+XMPP_FEDERATION$/m);
  const set = await cli('domains', 'set', 'partner.example.net', '--xmpp-federation', 'on', '--url', core);
  assert.equal(set.code, 0, set.err);
  assert.match(set.out, /^set partner\.example\.net; version \d+ \(this node\)$/m);
  assert.match(
    (await cli('domains', 'show', '--url', core)).out,
    /^partner\.example\.net\s+default\s+off\s+off\s+off\s+on$/m,
  );
  await waitFor('the edge learns the new domain', () => (edgeDomains() === before + 1 ? true : undefined));
  const changed = await cli('domains', 'set', 'partner.example.net', '--im-presence', 'on', '--url', core);
  assert.equal(changed.code, 0, changed.err);
  assert.match(
    (await cli('domains', 'show', '--url', core)).out,
    /^partner\.example\.net\s+default\s+off\s+off\s+on\s+on$/m,
    'the service named changed, the other kept',
  );
  const bad = await cli('domains', 'set', 'bad_name!', '--url', core);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /HTTP 400: name: must be a DNS name/);
  const usage = await cli('domains', 'set', 'x.example.com', '--im-presence', 'yes', '--url', core);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /--im-presence must be on or off, not "yes"/);
  const removed = await cli('domains', 'remove', 'partner.example.net', '--url', core);
  assert.match(removed.out, /^removed partner\.example\.net; version \d+ \(this node\)$/m);
  await waitFor('the edge forgets it', () => (edgeDomains() === before ? true : undefined));
  const push = await cli('config', 'push', 'domains', '--url', core);
  assert.equal(push.code, 1, 'in memory there is no cluster copy to push to');
  assert.match(push.err, /no such action/);
});

test("alarms: listed, and one acknowledged; an unknown one is the node's 404", async () => {
  assert.equal((await cli('alarms', '--url', core)).out.trim(), 'no alarms');
  lab.inside.cluster.misbehave = 'garbage';
  try {
    await cli('discovery', 'refresh', '--url', core);
    const listed = await cli('alarms', '--url', core);
    assert.match(
      listed.out,
      /^discovery\.unified_cm\.127\.0\.3\.1\s+error\s+\S+\s+no\s+discovery of unified_cm publisher 127\.0\.3\.1:\d+ failed: listProcessNode: answer is not an AXL/m,
    );
    const ack = await cli('alarms', 'ack', 'discovery.unified_cm.127.0.3.1', '--url', core, '--json');
    assert.equal(ack.code, 0, ack.err);
    const acked = (JSON.parse(ack.out) as Array<{ id: string; acknowledged?: string }>).find(
      (a) => a.id === 'discovery.unified_cm.127.0.3.1',
    );
    assert.ok(acked?.acknowledged, 'acknowledged, still listed until its cause goes');
  } finally {
    lab.inside.cluster.misbehave = undefined;
  }
  await cli('discovery', 'refresh', '--url', core);
  assert.equal((await cli('alarms', '--url', core)).out.trim(), 'no alarms');
  const none = await cli('alarms', 'ack', 'no.such', '--url', core);
  assert.equal(none.code, 1);
  assert.match(none.err, /HTTP 404: no active alarm no\.such/);
});

test('errors: a node that is down, a wrong configuration, and no -c or --url each say what they are', async () => {
  const port = await freePort();
  for (const args of [
    ['status'],
    ['registrations'],
    ['calls'],
    ['maintenance', 'on'],
    ['discovery', 'refresh'],
    ['allow-list', 'show'],
    ['alarms'],
  ]) {
    const down = await cli(...args, '--url', `http://127.0.0.1:${port}`);
    assert.equal(down.code, 2, args.join(' '));
    assert.match(
      down.err,
      new RegExp(`admin API at http://127\\.0\\.0\\.1:${port} \\(--url\\) unreachable: connection refused`),
      args.join(' '),
    );
  }
  writeFileSync(join(dir, 'wrong.yaml'), 'role: core\nadmin:\n  port: seventy\n');
  const wrong = await cli('status', '-c', join(dir, 'wrong.yaml'));
  assert.equal(wrong.code, 2);
  assert.match(wrong.err, /^configuration error:\n.*wrong\.yaml:3: admin\.port: .*must be a port number/m);
  const missing = await cli('registrations', '-c', join(dir, 'no-such.yaml'));
  assert.equal(missing.code, 2);
  assert.match(missing.err, /no-such\.yaml: \(top level\): cannot read the file/);
  const bare = await cli('status');
  assert.match(
    bare.err,
    /^mra-edge: no -c <config> or --url given: asking http:\/\/127\.0\.0\.1:9090 \(the default admin\.port on this host\)$/m,
  );
  const notUrl = await cli('status', '--url', 'edge1:9090x');
  assert.equal(notUrl.code, 2);
  assert.match(notUrl.err, /is not a URL|speaks http or https/);
  const version = await cli('--version');
  assert.match(version.out, /^mra-edge \d+\.\d+\.\d+ \(Node\.js \d+/);
});
