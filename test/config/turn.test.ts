// The edge's `turn` section: defaults, and every bad value refused with its field and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_DENIED_PEERS, parseConfig } from '../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'mra-config-turn-'));
for (const f of ['edge.crt', 'edge.key', 'ca.crt', 'turn-secrets']) writeFileSync(join(dir, f), 'x');
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const HASH = 'scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g=';
const edge = (turn: string) => `role: edge
tls:
  cert_file: edge.crt
  key_file: edge.key
  ca_file: ca.crt
traversal:
  tls_verify_subject_name: core.example.com
  accounts:
    - username: traversal
      password_hash: "${HASH}"
${turn}`;

function problems(text: string): Array<{ line?: number; field: string; message: string }> {
  try {
    parseConfig(text, join(dir, 'edge.yaml'));
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('configuration was accepted');
}

test("turn is off by default, and on takes Expressway-E's defaults", () => {
  const off = parseConfig(edge(''), join(dir, 'edge.yaml'));
  assert.equal(off.role === 'edge' && off.turn.enabled, false);
  const on = parseConfig(
    edge('media:\n  public_address: 198.51.100.7\nturn:\n  enabled: true\n  secrets: ["0123456789abcdef0123"]\n'),
    join(dir, 'edge.yaml'),
  );
  assert.ok(on.role === 'edge');
  if (on.role !== 'edge') return;
  assert.deepEqual(on.turn, {
    enabled: true,
    port: 3478,
    tcp: true,
    realm: 'mra-edge',
    secrets: ['0123456789abcdef0123'],
    max_allocations_per_user: 10,
    default_lifetime_s: 600,
    max_lifetime_s: 3600,
    nonce_lifetime_s: 600,
    threads: 1,
    allow_peers: [],
    deny_peers: DEFAULT_DENIED_PEERS,
  });
  const file = parseConfig(
    edge('public:\n  address: 198.51.100.7\nturn:\n  enabled: true\n  secret_file: turn-secrets\n'),
    join(dir, 'edge.yaml'),
  );
  assert.equal(
    file.role === 'edge' && file.turn.secret_file,
    join(dir, 'turn-secrets'),
    'resolved against the configuration folder',
  );
});

test('bad turn values are refused by field name and line', () => {
  const cases: Array<[string, { field: string; message: RegExp; line?: number }]> = [
    [
      'turn:\n  enabled: true\n',
      { field: 'turn.secrets', message: /give secrets or secret_file when turn.enabled is true/ },
    ],
    ['turn:\n  port: 70000\n', { field: 'turn.port', message: /must be from 0 to 65535/, line: 12 }],
    ['turn:\n  secrets: [short]\n', { field: 'turn.secrets[0]', message: /at least 16 characters/ }],
    ['turn:\n  realm: "two words"\n', { field: 'turn.realm', message: /printable ASCII without spaces/ }],
    ['turn:\n  deny_peers: ["10.0.0.0/33"]\n', { field: 'turn.deny_peers[0]', message: /IPv4 address or block/ }],
    ['turn:\n  allow_peers: ["example.com"]\n', { field: 'turn.allow_peers[0]', message: /IPv4 address or block/ }],
    [
      'turn:\n  default_lifetime_s: 600\n  max_lifetime_s: 300\n',
      { field: 'turn.max_lifetime_s', message: /must not be below turn.default_lifetime_s/ },
    ],
    ['turn:\n  max_allocations: 0\n', { field: 'turn.max_allocations', message: /at least 1/ }],
    ['turn:\n  threads: 0\n', { field: 'turn.threads', message: /from 1 to 16/ }],
    ['turn:\n  nonce_lifetime_s: 0\n', { field: 'turn.nonce_lifetime_s', message: /at least 1 s/ }],
    ['turn:\n  address: "not-an-address"\n', { field: 'turn.address', message: /./ }],
    ['turn:\n  secret_file: missing-file\n', { field: 'turn.secret_file', message: /file not found/ }],
    ['turn:\n  colour: blue\n', { field: 'turn.colour', message: /unknown field/, line: 12 }],
    // The edge's public address is every interface here, and nothing else names one to give clients.
    [
      'turn:\n  enabled: true\n  secrets: ["0123456789abcdef0123"]\n',
      { field: 'turn.enabled', message: /needs an IPv4 address to give clients/, line: 12 },
    ],
  ];
  for (const [yaml, want] of cases) {
    const found = problems(edge(yaml));
    const p = found.find((x) => x.field === want.field);
    assert.ok(p, `${want.field} not named for:\n${yaml}\ngot ${JSON.stringify(found)}`);
    assert.match(p.message, want.message);
    if (want.line) assert.equal(p.line, want.line);
  }
});
