import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ConfigError, parseConfig, loadConfig } from '../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'mra-config-'));
for (const f of ['edge.crt', 'edge.key', 'ca.crt']) writeFileSync(join(dir, f), 'x');
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const HASH = 'scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g=';
const edgeYaml = (extra = '', traversalExtra = '') => `role: edge
name: edge1
tls:
  cert_file: edge.crt
  key_file: edge.key
  ca_file: ca.crt
traversal:
  tls_verify_subject_name: core.example.com
  accounts:
    - username: traversal
      password_hash: "${HASH}"
${traversalExtra}${extra}`;

function problemsOf(text: string): ConfigError {
  const file = join(dir, 'node.yaml');
  try {
    parseConfig(text, file);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('configuration was accepted');
}

test('a minimal edge configuration gets Expressway port defaults', () => {
  const cfg = parseConfig(edgeYaml(), join(dir, 'edge.yaml'));
  assert.equal(cfg.role, 'edge');
  if (cfg.role !== 'edge') return;
  assert.equal(cfg.public.sip_tls_port, 5061);
  assert.equal(cfg.public.https_port, 8443);
  assert.equal(cfg.public.xmpp_port, 5222);
  assert.equal(cfg.traversal.sip_port, 7001);
  assert.equal(cfg.traversal.http_tunnel_port, 2222);
  assert.equal(cfg.traversal.xmpp_port, 7400);
  assert.equal(cfg.traversal.keepalive_s, 15);
  assert.equal(cfg.media.port_min, 36000);
  assert.equal(cfg.media.port_max, 59999);
  assert.equal(cfg.size, 'small');
  assert.equal(cfg.tls.cert_file, join(dir, 'edge.crt'), 'file paths resolve against the configuration folder');
});

test('an unknown field is named with its line', () => {
  const e = problemsOf(edgeYaml('colour: blue\n'));
  assert.equal(e.problems.length, 1);
  assert.deepEqual(e.problems[0], { line: 12, field: 'colour', message: 'unknown field' });
  assert.match(e.message, /node\.yaml:12: colour: unknown field/);
});

test('an unknown nested field is named with its path and line', () => {
  const e = problemsOf(edgeYaml('', '  keepalive_secs: 10\n'));
  assert.equal(e.problems[0]?.field, 'traversal.keepalive_secs');
  assert.equal(e.problems[0]?.line, 12);
});

test('a wrong type names the field, the line and what is allowed', () => {
  const e = problemsOf(edgeYaml('', '  sip_port: seven\n'));
  assert.equal(e.problems[0]?.field, 'traversal.sip_port');
  assert.equal(e.problems[0]?.line, 12);
  assert.match(e.problems[0]!.message, /port number/);
});

test('a port out of range is refused', () => {
  const e = problemsOf(edgeYaml('public:\n  https_port: 70000\n'));
  assert.equal(e.problems[0]?.field, 'public.https_port');
  assert.equal(e.problems[0]?.line, 13);
  assert.match(e.problems[0]!.message, /0 to 65535/);
});

test('an enum lists the allowed values', () => {
  const e = problemsOf(edgeYaml('size: huge\n'));
  assert.equal(e.problems[0]?.field, 'size');
  assert.match(e.problems[0]!.message, /"small", "medium", "large"/);
});

test('a missing certificate file is named', () => {
  const e = problemsOf(edgeYaml().replace('edge.key', 'missing.key'));
  assert.equal(e.problems[0]?.field, 'tls.key_file');
  assert.equal(e.problems[0]?.line, 5);
  assert.match(e.problems[0]!.message, /file not found: .*missing\.key/);
});

test('a required field that is absent is reported', () => {
  const e = problemsOf('role: core\ntls: {cert_file: edge.crt, key_file: edge.key, ca_file: ca.crt}\n');
  assert.ok(e.problems.some((p) => p.field === 'traversal' && /required/.test(p.message)));
});

test('core: more than six edge peers is refused', () => {
  const peers = Array.from({ length: 7 }, (_, i) => `    - address: edge${i}.example.com`).join('\n');
  const e = problemsOf(
    `role: core\ntls: {cert_file: edge.crt, key_file: edge.key, ca_file: ca.crt}\ntraversal:\n  username: t\n  password: p\n  peers:\n${peers}\n`,
  );
  assert.deepEqual(e.problems[0], { line: 7, field: 'traversal.peers', message: 'at most 6 edge peers' });
});

test('core: exactly one of password and password_file', () => {
  const e = problemsOf(
    'role: core\ntls: {cert_file: edge.crt, key_file: edge.key, ca_file: ca.crt}\ntraversal:\n  username: t\n  peers: [{address: edge.example.com}]\n',
  );
  assert.equal(e.problems[0]?.field, 'traversal.password');
  assert.match(e.problems[0]!.message, /exactly one of password or password_file/);
});

test('media, overload and XMPP settings out of range name their field', () => {
  const range = problemsOf(edgeYaml('media:\n  port_min: 40000\n  port_max: 40002\n'));
  assert.deepEqual(
    [range.problems[0]?.field, range.problems[0]?.message],
    ['media.port_max', 'port_min..port_max must hold at least two port pairs (and port_min must not be 0)'],
  );
  assert.equal(problemsOf(edgeYaml('sip:\n  max_queue_wait_s: -1\n')).problems[0]?.field, 'sip.max_queue_wait_s');
  assert.equal(problemsOf(edgeYaml('xmpp:\n  max_stanza_chars: 10\n')).problems[0]?.field, 'xmpp.max_stanza_chars');
  assert.equal(problemsOf(edgeYaml('capacity:\n  calls: 0\n')).problems[0]?.field, 'capacity.calls');
  const core =
    'role: core\ntls: {cert_file: edge.crt, key_file: edge.key, ca_file: ca.crt}\ntraversal: {username: t, password: p, peers: [{address: edge.example.com}]}\n';
  assert.equal(problemsOf(`${core}media:\n  keepalive_s: 0\n`).problems[0]?.field, 'media.keepalive_s');
  // keepalive_s is core's: the edge sends none, and says so rather than ignore it.
  assert.equal(problemsOf(edgeYaml('media:\n  keepalive_s: 15\n')).problems[0]?.field, 'media.keepalive_s');
  // source_address is core's address, not a name: refused by its field; on an edge it is an unknown field.
  assert.equal(problemsOf(`${core}source_address: core.example.com\n`).problems[0]?.field, 'source_address');
  assert.equal(problemsOf(edgeYaml('source_address: 10.0.0.2\n')).problems[0]?.field, 'source_address');
});

test('off loopback the admin API needs TLS and a token or client certificates, else the node does not start', () => {
  const e = problemsOf(edgeYaml('admin:\n  address: 0.0.0.0\n'));
  assert.deepEqual(
    e.problems.map((p) => p.field),
    ['admin.tls', 'admin.token'],
  );
  assert.match(
    e.message,
    /admin\.tls: is required when admin\.address 0\.0\.0\.0 is not loopback: the admin API then serves HTTPS only/,
  );
  // A token alone (the old rule) is not enough: it would travel in clear.
  const tokenOnly = problemsOf(edgeYaml('admin:\n  address: 0.0.0.0\n  token: a-long-enough-admin-token\n'));
  assert.deepEqual(
    tokenOnly.problems.map((p) => p.field),
    ['admin.tls'],
  );
  const tlsOnly = problemsOf(
    edgeYaml('admin:\n  address: 0.0.0.0\n  tls: {cert_file: edge.crt, key_file: edge.key}\n'),
  );
  assert.deepEqual(
    tlsOnly.problems.map((p) => p.field),
    ['admin.token'],
  );
  const file = join(dir, 'edge.yaml');
  assert.equal(
    parseConfig(
      edgeYaml(
        'admin:\n  address: 0.0.0.0\n  token: a-long-enough-admin-token\n  tls: {cert_file: edge.crt, key_file: edge.key}\n',
      ),
      file,
    ).admin.tls?.cert_file,
    join(dir, 'edge.crt'),
  );
  assert.equal(
    parseConfig(
      edgeYaml(
        'admin:\n  address: 0.0.0.0\n  tls: {cert_file: edge.crt, key_file: edge.key, client_ca_file: ca.crt}\n',
      ),
      file,
    ).admin.address,
    '0.0.0.0',
  );
  assert.equal(
    parseConfig(edgeYaml('admin:\n  address: 127.0.0.1\n'), file).admin.tls,
    undefined,
    'loopback: plain HTTP is fine',
  );
  const both = problemsOf(edgeYaml('admin:\n  token: a-long-enough-admin-token\n  token_file: edge.key\n'));
  assert.equal(both.problems[0]?.field, 'admin.token');
  const missing = problemsOf(
    edgeYaml(
      'admin:\n  address: 0.0.0.0\n  token: a-long-enough-admin-token\n  tls: {cert_file: nope.pem, key_file: edge.key}\n',
    ),
  );
  assert.deepEqual(
    missing.problems.map((p) => p.field),
    ['admin.tls.cert_file'],
  );
  // The CLI says so and exits 2 before any port is opened.
  writeFileSync(join(dir, 'open-admin.yaml'), edgeYaml('admin:\n  address: 0.0.0.0\n'));
  const r = spawnSync(
    process.execPath,
    [join(process.env.MRA_ROOT ?? process.cwd(), 'dist/src/cli/main.js'), 'edge', '-c', join(dir, 'open-admin.yaml')],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 2);
  assert.match(r.stderr, /configuration error:[\s\S]*open-admin\.yaml:\d+: admin\.tls: is required/);
});

test('YAML syntax errors carry the line', () => {
  const e = problemsOf('role: edge\n  bad: [\n');
  assert.ok(e.problems[0]?.line, 'has a line');
  assert.match(e.problems[0]!.message, /^YAML/);
});

test('loadConfig names an unreadable file', () => {
  assert.throws(
    () => loadConfig(join(dir, 'nope.yaml')),
    (err: unknown) => err instanceof ConfigError && /cannot read/.test(err.message),
  );
});

test('the examples validate', () => {
  for (const f of ['edge.yaml', 'core.yaml']) {
    const cfg = loadConfig(join(process.env.MRA_ROOT ?? '.', 'examples', f));
    assert.equal(cfg.role, f.replace('.yaml', ''));
  }
  // The example pair of clusters (docs/cluster.md): two edges and two cores on one Redis.
  for (const f of ['edge1', 'edge2', 'core1', 'core2']) {
    const cfg = loadConfig(join(process.env.MRA_ROOT ?? '.', 'examples/cluster', `${f}.yaml`));
    assert.equal(`${cfg.role}${f.slice(-1)}`, f);
    assert.match((cfg as { store: string }).store, /^redis:\/\//);
  }
});

test('mra-edge check-config exits 2 and prints file, line and field', () => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, edgeYaml('public:\n  https_port: 70000\n'));
  const cli = join(process.env.MRA_ROOT ?? '.', 'dist/src/cli/main.js');
  const r = spawnSync(process.execPath, [cli, 'check-config', file], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /bad\.yaml:13: public\.https_port: must be from 0 to 65535/);
  const ok = spawnSync(
    process.execPath,
    [cli, 'check-config', join(process.env.MRA_ROOT ?? '.', 'examples/edge.yaml')],
    { encoding: 'utf8' },
  );
  assert.equal(ok.status, 0, ok.stderr);
});
