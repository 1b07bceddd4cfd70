// End to end across the three hosts: a client in internet registers through the edge (dmz) and core
// (inside) to the lab registrar (inside), is challenged, re-registers, and the inside reaches it with an
// OPTIONS and a MESSAGE over its own TLS connection. Namespaces with the DMZ firewall when this machine can
// make them, loopback hosts otherwise.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CertificateAuthority } from '../../src/certs/index.js';
import { hashPassword } from '../../src/traversal/index.js';
import { createNetwork, type Network } from '../topology/index.js';
import { CLI, freePort } from '../support/node-files.js';
import { jsonLines } from './lines.js';

const TOOLS = join(CLI, '../../../test/sip-proxy/tools');
let net: Network;
let dir = '';

before(async () => {
  const made = await createNetwork('sipe2e');
  net = made.network;
  if (made.fallback) console.log(`# loopback hosts: ${made.fallback}`);
  dir = mkdtempSync(join(tmpdir(), 'mra-sip-e2e-'));
});
after(async () => {
  await net?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a client in internet registers through edge and core and is reached from the inside', { timeout: 60_000 }, async () => {
  const ca = await CertificateAuthority.create({ commonName: 'mra-edge sip e2e CA' });
  const edgeCert = await ca.issue({ commonName: 'edge.example.com', dnsNames: ['edge.example.com'], ipAddresses: [...new Set([net.dmzPublicAddress, net.dmzTraversalAddress])] });
  const coreCert = await ca.issue({ commonName: 'core.example.com', dnsNames: ['core.example.com'] });
  const files: Record<string, string> = { 'ca.pem': ca.cert, 'edge.pem': edgeCert.cert, 'edge.key': edgeCert.key, 'core.pem': coreCert.cert, 'core.key': coreCert.key };
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body, { mode: 0o600 });
  const [sipTls, traversalSip, tunnel, xmppT, callControlPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const tls = (n: string) => ({ cert_file: join(dir, `${n}.pem`), key_file: join(dir, `${n}.key`), ca_file: join(dir, 'ca.pem') });
  writeFileSync(
    join(dir, 'edge.yaml'),
    stringify({
      role: 'edge',
      name: 'edge1',
      admin: { port: 0 },
      tls: tls('edge'),
      public: { address: net.dmzPublicAddress, sip_tls_port: sipTls, https_port: 0, xmpp_port: 0 },
      traversal: { address: net.dmzTraversalAddress, sip_port: traversalSip, http_tunnel_port: tunnel, xmpp_port: xmppT, tls_verify_subject_name: 'core.example.com', accounts: [{ username: 'traversal', password_hash: await hashPassword('secret') }] },
    }),
  );
  writeFileSync(
    join(dir, 'core.yaml'),
    stringify({
      role: 'core',
      name: 'core1',
      // Loopback inside the namespace: the admin API is not under test here and needs no token there.
      admin: { address: '127.0.0.1', port: 0 },
      tls: tls('core'),
      domains: [{ name: 'example.com', sip_registrations: true }],
      unified_cm: [{ publisher: net.inside.address, nodes: [{ address: net.inside.address, sip_port: callControlPort }] }],
      traversal: { peers: [{ address: net.dmzTraversalAddress, sip_port: traversalSip, http_tunnel_port: tunnel, xmpp_port: xmppT }], username: 'traversal', password: 'secret', reconnect_initial_s: 0.1, reconnect_max_s: 0.5 },
    }),
  );

  const cc = net.spawnNode(net.inside, [join(TOOLS, 'call-control.js'), net.inside.address, String(callControlPort)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const ccLines = jsonLines(cc);
  await ccLines.next('call control listening', (o) => o.event === 'listening');
  const edge = net.spawnNode(net.dmz, [CLI, 'edge', '-c', join(dir, 'edge.yaml')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const edgeLines = jsonLines(edge);
  const core = net.spawnNode(net.inside, [CLI, 'core', '-c', join(dir, 'core.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const coreLines = jsonLines(core);
  let coreErr = '';
  core.stderr!.on('data', (d: Buffer) => (coreErr += d.toString('utf8')));
  await edgeLines.next('the edge to learn the domain table', (o) => o.msg === 'domain table received from core', 30_000).catch((err: Error) => {
    // Both nodes' own words say why (configuration, certificate, credentials, listener): put them in the failure.
    const said = (lines: typeof edgeLines) => lines.all().map((l) => `${l.msg} ${l.reason ?? l.err ?? ''}`).join(' | ');
    throw new Error(`${err.message}; edge log: ${said(edgeLines)}; core log: ${said(coreLines)}; core stderr: ${coreErr.trim()}`);
  });

  const client = net.spawnNode(net.internet, [join(TOOLS, 'client.js'), net.dmzPublicAddress, String(sipTls), join(dir, 'ca.pem'), 'alice', 'alice-pw', 'example.com'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const clientLines = jsonLines(client);
  const registered = await clientLines.next('the first registration', (o) => o.event === 'registered' || o.event === 'error');
  assert.equal(registered.status, 200, JSON.stringify(registered));
  assert.equal(registered.challenged, 1, 'the registrar challenged the client');
  assert.match(String(registered.path), /^<sip:mra-core1@.*>, <sip:[A-Za-z0-9_-]+@/, 'Path holds core, then the edge with the flow token');
  const refreshed = await clientLines.next('the re-registration', (o) => o.event === 'refreshed');
  assert.equal(refreshed.status, 200);

  cc.stdin!.write(`${JSON.stringify({ id: 1, aor: 'alice@example.com', method: 'OPTIONS' })}\n`);
  assert.equal((await ccLines.next('the OPTIONS result', (o) => o.id === 1)).status, 200);
  cc.stdin!.write(`${JSON.stringify({ id: 2, aor: 'alice@example.com', method: 'MESSAGE', body: 'hello from the inside' })}\n`);
  assert.equal((await ccLines.next('the MESSAGE result', (o) => o.id === 2)).status, 200);
  await clientLines.next('the client to see the OPTIONS', (o) => o.event === 'request' && o.method === 'OPTIONS');
  const message = await clientLines.next('the client to see the MESSAGE', (o) => o.event === 'request' && o.method === 'MESSAGE');
  assert.equal(message.body, 'hello from the inside');
  client.stdin!.end();
  cc.stdin!.end();
});
