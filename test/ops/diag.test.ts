import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, type Lab } from '../../src/lab/index.js';
import { LAB_AXL_CREDENTIALS } from '../../src/lab/axl.js';
import { LAB_SIP_USERS } from '../../src/lab/call-control.js';
import { LAB_USERS } from '../../src/lab/lab-users.js';
import { SipClient } from '../../src/lab/sip-client.js';
import { REDACTED } from '../../src/diag/index.js';
import { mediaRange } from '../support/media-range.js';
import { runCli } from '../support/cli-run.js';

let dir: string;
let lab: Lab;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mra-diag-test-'));
  lab = await startLab({
    dir: join(dir, 'lab'),
    ports: 'ephemeral',
    logLevel: 'silent',
    clients: 0,
    media: { edge: mediaRange(), core: mediaRange(), clients: mediaRange() },
  });
});

after(async () => {
  await lab?.close();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(args);

/** A sign-in through the edge's HTTPS listener with Basic credentials, as Jabber's first request. */
function signIn(): Promise<number> {
  const ca = readFileSync(lab.configs.edge.tls.ca_file, 'utf8');
  const user = LAB_USERS[0]!;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: lab.configs.edge.public.address,
        port: lab.edge.ports.https,
        servername: 'edge.lab.example.com',
        ca,
        path: `/${Buffer.from('lab.example.com').toString('base64')}/get_edge_config?service_name=_cisco-uds`,
        headers: { authorization: `Basic ${Buffer.from(`${user.id}:${user.password}`).toString('base64')}` },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test("diag start and stop: one bundle with debug logs, status snapshots, the redacted configuration, a capture of the node's ports and TLS keys, and no secret", async () => {
  const edge = `http://127.0.0.1:${lab.edge.ports.admin}`;
  const out = join(dir, 'bundles');
  const started = await cli('diag', 'start', '--tls-keys', '--dir', out, '--url', edge);
  assert.equal(started.code, 0, started.err);
  assert.match(started.out, /^diagnostic logging started at \S+ in .*mra-diag-edge1-/m);
  assert.match(started.out, /logs: every logger at debug/);
  const again = await cli('diag', 'start', '--url', edge);
  assert.equal(again.code, 1);
  assert.match(again.err, /already running since/);

  // Traffic while it runs: a sign-in over HTTPS and a SIP registration.
  assert.equal(await signIn(), 200);
  const sip = new SipClient({
    host: lab.configs.edge.public.address,
    port: lab.edge.ports.sipTls!,
    servername: 'edge.lab.example.com',
    ca: readFileSync(lab.configs.edge.tls.ca_file, 'utf8'),
    user: 'alice',
    password: LAB_SIP_USERS.alice!,
    domain: 'lab.example.com',
    expiresS: 120,
    timeoutMs: 5000,
  });
  try {
    await sip.connect();
    assert.equal((await sip.register()).status, 200);
    assert.equal((await sip.register(0)).status, 200);
  } finally {
    sip.close();
  }
  const stopped = await cli('diag', 'stop', '--url', edge, '--json');
  assert.equal(stopped.code, 0, stopped.err);
  const result = JSON.parse(stopped.out) as {
    bundle: string;
    bytes: number;
    files: string[];
    notes: Record<string, string>;
  };
  assert.ok(result.bundle.startsWith(out) && result.bundle.endsWith('.tar.gz'), result.bundle);
  assert.equal(statSync(result.bundle).size, result.bytes);
  assert.match(result.notes.capture!, /^tcpdump -i any 'tcp port \d+/);
  assert.doesNotMatch(
    result.notes.capture!,
    new RegExp(`port ${lab.edge.ports.admin}\\b`),
    'the admin port (its token travels there) is not captured',
  );

  const x = join(dir, 'x');
  spawnSync('mkdir', ['-p', x]);
  assert.equal(spawnSync('tar', ['-xzf', result.bundle, '-C', x]).status, 0);
  const root = join(x, readdirSync(x)[0]!);
  const manifest = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8'));
  assert.equal(manifest.node, 'edge1');
  assert.ok(Date.parse(manifest.stoppedAt) > Date.parse(manifest.startedAt));
  const logLines = readFileSync(join(root, 'node.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { level: number; msg: string });
  assert.ok(
    logLines.some((l) => l.level === 20),
    'debug lines, though the node logs nothing by default (silent)',
  );
  assert.ok(
    logLines.some((l) => l.msg === 'sip registration bound'),
    'the registration made during the interval',
  );
  const snapshots = readdirSync(join(root, 'status'));
  assert.ok(snapshots.length >= 2, snapshots.join());
  assert.equal(JSON.parse(readFileSync(join(root, 'status', snapshots[0]!), 'utf8')).node, 'edge1');
  const config = JSON.parse(readFileSync(join(root, 'config.json'), 'utf8'));
  assert.equal(config.traversal.accounts[0].password_hash, REDACTED);
  assert.equal(config.traversal.tls_verify_subject_name, 'core.lab.example.com', 'what is not secret stays');

  const pcap = readFileSync(join(root, 'capture.pcap'));
  assert.ok([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1].includes(pcap.readUInt32LE(0)), 'a pcap file');
  assert.ok(pcap.length > 24 + 16 * 10, `packets were captured (${pcap.length} bytes)`);
  const keys = readFileSync(join(root, 'tls-keys.log'), 'utf8');
  assert.match(
    keys,
    /^(CLIENT_HANDSHAKE_TRAFFIC_SECRET|CLIENT_RANDOM) [0-9a-f]{64} [0-9a-f]+$/m,
    'NSS key log lines of the sign-in',
  );

  // No secret in any file of the bundle: not the traversal password or its hash, not an AXL or user password, not a Basic credential.
  const secrets = [
    readFileSync(join(dir, 'lab', 'traversal-password'), 'utf8').trim(),
    lab.configs.edge.traversal.accounts[0]!.password_hash,
    LAB_AXL_CREDENTIALS.password,
    LAB_SIP_USERS.alice!,
    LAB_USERS[0]!.password,
    Buffer.from(`${LAB_USERS[0]!.id}:${LAB_USERS[0]!.password}`).toString('base64'),
  ];
  const files = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(join(d, e.name)) : [join(d, e.name)],
    );
  for (const f of files(root)) {
    const text = readFileSync(f).toString('latin1');
    for (const s of secrets) assert.ok(!text.includes(s), `${f.slice(root.length)} holds a secret (${s.slice(0, 4)}…)`);
  }
  const after = (lab.edge.status() as { diagnostics: { running: boolean; lastBundle: string } }).diagnostics;
  assert.deepEqual(after, { running: false, lastBundle: result.bundle });
  const notRunning = await cli('diag', 'stop', '--url', edge);
  assert.equal(notRunning.code, 1);
  assert.match(notRunning.err, /no diagnostic logging is running/);
});

test("core's bundle redacts its traversal and AXL passwords and captures the ports it dials", async () => {
  const core = `http://127.0.0.1:${lab.core.ports.admin}`;
  assert.equal((await cli('diag', 'start', '--dir', join(dir, 'core-bundles'), '--url', core)).code, 0);
  assert.equal((await cli('discovery', 'refresh', '--url', core)).code, 0);
  const stopped = JSON.parse((await cli('diag', 'stop', '--url', core, '--json')).out) as {
    bundle: string;
    notes: Record<string, string>;
  };
  assert.match(
    stopped.notes.capture!,
    new RegExp(`tcp port ${lab.configs.core.traversal.peers[0]!.sip_port}\\b`),
    "the edge's traversal port",
  );
  assert.match(stopped.notes.capture!, new RegExp(`tcp port ${lab.inside.ports.uds}\\b`), "the publisher's HTTPS port");
  const config = JSON.parse(
    spawnSync('tar', ['-xzOf', stopped.bundle, '--wildcards', '*/config.json'], { encoding: 'utf8' }).stdout,
  );
  assert.equal(config.traversal.password, REDACTED);
  assert.equal(config.unified_cm[0].password, REDACTED);
  assert.equal(config.unified_cm[0].username, LAB_AXL_CREDENTIALS.username);
  const everything = spawnSync('tar', ['-xzOf', stopped.bundle], { encoding: 'latin1' }).stdout;
  assert.ok(
    !everything.includes(LAB_AXL_CREDENTIALS.password),
    'the AXL password appears nowhere, not even in the capture of the discovery refresh',
  );
});
