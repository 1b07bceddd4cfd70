// The TURN server as the edge runs it (turn.enabled in its configuration): on the edge's TURN port, relaying from
// the edge's media range, on the status page and /metrics, refusing new allocations in maintenance mode, and
// closed with the node.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority } from '../../src/certs/index.js';
import { buildConfig, type EdgeConfig } from '../../src/config/index.js';
import { startEdge } from '../../src/node/index.js';
import { hashPassword } from '../../src/traversal/index.js';
import { turnCredentials } from '../../src/turn/index.js';
import { capturedLogger, waitFor } from '../support/log-capture.js';
import { mediaRange } from '../support/media-range.js';
import { TurnClient } from '../support/turn-client.js';
import { Peer } from './scenarios.js';

const SECRETS = ['edge-turn-secret-0123456789', 'edge-turn-secret-rotated-0123'];

describe("the edge's TURN server", () => {
  let dir = '';
  let edge: Awaited<ReturnType<typeof startEdge>>;
  const admin = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${edge.ports.admin}${path}`, init);
  type TurnSection = {
    allocations: number;
    permissions: number;
    relayPorts: number;
    capacity: { used: number; limit: number };
    packets: { toPeers: number; toClients: number };
    refused: { authFailures: number; capacity: number };
  };
  const turnStatus = () => (edge.status() as { turn: TurnSection }).turn;
  /** The edge's media engine's pairs in use (TURN's relay ports come from it). */
  const pairsInUse = () => (edge.status() as { media: { portPairsInUse: number } }).media.portPairsInUse;

  let passwordHash = '';
  /** The edge's configuration, its turn section changed by `turn`. */
  const edgeConfig = (turn: Record<string, unknown>) =>
    buildConfig(
      {
        role: 'edge',
        name: 'edge1',
        size: 'large',
        media: mediaRange(),
        admin: { port: 0 },
        tls: { cert_file: join(dir, 'edge.pem'), key_file: join(dir, 'edge.key'), ca_file: join(dir, 'ca.pem') },
        public: { address: '127.0.0.1', sip_tls_port: 0, https_port: 0, xmpp_port: 0 },
        traversal: {
          address: '127.0.0.1',
          sip_port: 0,
          http_tunnel_port: 0,
          xmpp_port: 0,
          tls_verify_subject_name: 'core.example.com',
          accounts: [{ username: 'traversal', password_hash: passwordHash }],
        },
        // The tests' peers are on loopback, which the defaults deny.
        turn: {
          enabled: true,
          port: 0,
          realm: 'edge.example.com',
          secrets: [SECRETS[0]],
          secret_file: join(dir, 'turn-secrets'),
          allow_peers: ['127.0.0.0/8'],
          ...turn,
        },
      },
      'turn edge test',
      dir,
    ) as EdgeConfig;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mra-edge-turn-'));
    passwordHash = await hashPassword('traversal-secret');
    const ca = await CertificateAuthority.create({ commonName: 'mra-edge turn test CA' });
    const cert = await ca.issue({
      commonName: 'edge.example.com',
      dnsNames: ['edge.example.com'],
      ipAddresses: ['127.0.0.1'],
    });
    writeFileSync(join(dir, 'ca.pem'), ca.cert);
    writeFileSync(join(dir, 'edge.pem'), cert.cert);
    writeFileSync(join(dir, 'edge.key'), cert.key, { mode: 0o600 });
    // One secret inline, the rotated one from a file: both verify.
    writeFileSync(join(dir, 'turn-secrets'), `# rotated in 2026-12\n${SECRETS[1]}\n`, { mode: 0o600 });
    edge = await startEdge(edgeConfig({}), capturedLogger('edge1').log);
  });
  after(async () => {
    await edge?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("listens on its port with the size's allocation limit, and shows on the status page and /metrics", async () => {
    assert.ok(edge.ports.turn! > 0);
    const s = turnStatus();
    assert.deepEqual(s.capacity, { used: 0, limit: 6000 }, "a large edge: Expressway-E's 6,000 TURN relays");
    assert.equal(s.allocations, 0);
    const metrics = await (await admin('/metrics')).text();
    assert.match(metrics, /mra_turn_allocations\{role="edge"\} 0/);
    assert.match(metrics, /mra_turn_packets_total\{direction="to_peers",role="edge"\} 0/);
  });

  it('relays for a client with credentials from either secret, counted on the status page', async () => {
    const peer = await Peer.open();
    const clients: TurnClient[] = [];
    const pairsBefore = pairsInUse();
    try {
      for (const secret of SECRETS) {
        const c = await TurnClient.open(
          { address: '127.0.0.1', port: edge.ports.turn! },
          { credentials: turnCredentials(secret, 'alice', 600) },
        );
        clients.push(c);
        const a = await c.allocate();
        assert.equal(a.code, 0, a.reason);
        assert.equal(a.relayed!.address, '127.0.0.1', "the edge's public address");
        assert.equal((await c.createPermission(peer.endpoint)).code, 0);
        c.sendIndication(peer.endpoint, Buffer.from('hello'));
        await peer.send(Buffer.from('back'), a.relayed!.port);
        await c.waitReceived(1);
      }
      await peer.waitFor(2);
      const s = turnStatus();
      assert.equal(s.allocations, 2);
      assert.equal(s.permissions, 2);
      assert.deepEqual(s.packets, { toPeers: 2, toClients: 2 });
      const metrics = await (await admin('/metrics')).text();
      assert.match(metrics, /mra_turn_allocations\{role="edge"\} 2/);
      assert.equal(pairsInUse(), pairsBefore + 1, "two relay ports: the halves of one pair of the edge's media range");
      for (const c of clients) assert.equal((await c.refresh(0)).code, 0);
      assert.equal(turnStatus().allocations, 0);
      await waitFor('the pair back in the pool', () => pairsInUse() === pairsBefore);
    } finally {
      for (const c of clients) c.close();
      peer.close();
    }
  });

  it('maintenance mode refuses new allocations 508; off again, they are taken', async () => {
    const c = await TurnClient.open(
      { address: '127.0.0.1', port: edge.ports.turn! },
      { credentials: turnCredentials(SECRETS[0]!, 'bob', 600) },
    );
    try {
      assert.equal(
        (await admin('/api/maintenance', { method: 'POST', body: JSON.stringify({ on: true }) })).status,
        200,
      );
      assert.equal((await c.allocate()).code, 508);
      assert.equal(
        (await admin('/api/maintenance', { method: 'POST', body: JSON.stringify({ on: false }) })).status,
        200,
      );
      assert.equal((await c.allocate()).code, 0);
      assert.equal((await c.refresh(0)).code, 0);
      assert.equal(turnStatus().refused.capacity, 1);
    } finally {
      c.close();
    }
  });

  it('a TURN server that cannot start as configured stops the edge with MRA_TURN_START, naming why', async () => {
    // The port the running edge's TURN server holds.
    await assert.rejects(
      startEdge(edgeConfig({ port: edge.ports.turn }), capturedLogger('edge2').log),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'MRA_TURN_START');
        assert.match(err.message, /cannot open the TURN port \d+\/udp/);
        return true;
      },
    );
    writeFileSync(join(dir, 'short-secrets'), 'too-short\n');
    await assert.rejects(
      startEdge(edgeConfig({ secret_file: join(dir, 'short-secrets') }), capturedLogger('edge3').log),
      /MRA_TURN_START|every secret must be at least 16 characters/,
    );
  });

  it('closes with the node, allocations and all', async () => {
    const c = await TurnClient.open(
      { address: '127.0.0.1', port: edge.ports.turn! },
      { credentials: turnCredentials(SECRETS[0]!, 'carol', 600) },
    );
    assert.equal((await c.allocate()).code, 0);
    assert.equal(turnStatus().allocations, 1);
    c.close();
    await edge.close();
    // The node is closed: the TURN port no longer answers.
    const late = await TurnClient.open({ address: '127.0.0.1', port: edge.ports.turn! });
    try {
      assert.equal(await late.transact(late.build(1, []), 300), undefined);
    } finally {
      late.close();
    }
  });
});
