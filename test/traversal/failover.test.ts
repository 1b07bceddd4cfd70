import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Socket, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TraversalClient } from '../../src/traversal/index.js';
import { SipStreamFramer } from '../../src/sip/index.js';
import { capturedLogger, waitFor } from '../support/log-capture.js';
import { CLI, freePort, writePairFiles } from '../support/node-files.js';
import { EDGE_ADDRESS, coreClient, pki, startEdgeServer, tlsOf } from './pair.js';

/** A TCP relay that can turn into a black hole: it keeps both connections open but passes nothing. */
async function blackholeProxy(target: number) {
  const pairs = new Set<{ holed: boolean; sockets: Socket[] }>();
  const server = createServer((inbound) => {
    const outbound = connect(target, EDGE_ADDRESS);
    const pair = { holed: false, sockets: [inbound, outbound] };
    pairs.add(pair);
    for (const s of pair.sockets) {
      s.on('error', () => {});
      s.on('close', () => pairs.delete(pair));
    }
    inbound.on('data', (d) => pair.holed || outbound.write(d));
    outbound.on('data', (d) => pair.holed || inbound.write(d));
  });
  await new Promise<void>((r) => server.listen(0, EDGE_ADDRESS, () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    /** The connections open now go silent; new ones pass. */
    hole: () => pairs.forEach((p) => (p.holed = true)),
    close: () => {
      for (const p of pairs) p.sockets.forEach((s) => s.destroy());
      server.close();
    },
  };
}

test('a silent edge is detected within two keepalive periods and the link is re-established', async (t) => {
  const { ca, edge, core } = await pki();
  const keepaliveMs = 300;
  const e = await startEdgeServer({ tls: tlsOf(edge, ca.cert), keepaliveMs });
  const proxy = await blackholeProxy(e.ports.sip);
  const c = coreClient({
    tls: tlsOf(core, ca.cert),
    peers: [{ address: EDGE_ADDRESS, ports: { ...e.ports, sip: proxy.port } }],
    keepaliveMs,
  });
  t.after(async () => {
    await c.client.close();
    proxy.close();
    await e.server.close();
  });
  c.client.start();
  await waitFor('link up', () => c.client.status().state === 'up');
  await new Promise((r) => setTimeout(r, keepaliveMs * 2));
  assert.equal(c.client.status().state, 'up', 'a live peer answers every ping');

  const holedAt = Date.now();
  proxy.hole();
  await waitFor('link down', () => c.client.status().state !== 'up', 5000, 5);
  const detectedMs = Date.now() - holedAt;
  assert.ok(detectedMs <= 2 * keepaliveMs + 150, `detected after ${detectedMs} ms (keepalive ${keepaliveMs} ms)`);
  assert.match(c.client.status().lastError ?? '', /keepalive/);
  // New connections through the relay reach the edge again (the black hole holds only the old ones).
  await waitFor('link back', () => c.client.status().state === 'up' && c.client.status().reconnects === 1, 5000);
});

test('with two edge peers, core links to both at once (a full mesh) and keeps the other when one goes away', async (t) => {
  const { ca, edge, core } = await pki();
  const a = await startEdgeServer({ tls: tlsOf(edge, ca.cert), node: 'edgeA' });
  const b = await startEdgeServer({ tls: tlsOf(edge, ca.cert), node: 'edgeB' });
  const c = coreClient({
    tls: tlsOf(core, ca.cert),
    peers: [
      { address: EDGE_ADDRESS, ports: a.ports },
      { address: EDGE_ADDRESS, ports: b.ports },
    ],
  });
  t.after(async () => {
    await c.client.close();
    await a.server.close();
    await b.server.close();
  });
  c.client.start();
  await waitFor('links to A and B', () => c.client.status().linksUp === 2);
  assert.equal(a.server.status().cores[0]?.node, 'core1');
  assert.equal(b.server.status().cores[0]?.node, 'core1');
  assert.deepEqual(
    c.client
      .links()
      .map((ch) => ch.info.peerNode)
      .sort(),
    ['edgeA', 'edgeB'],
  );
  assert.equal(c.client.link('edgeB')?.info.peerNode, 'edgeB');
  await a.server.close();
  await waitFor('A gone, B kept', () => c.client.status().linksUp === 1 && c.client.status().state === 'up');
  assert.equal(c.client.status().peerNode, 'edgeB');
  assert.equal(c.client.link('edgeA'), undefined);
  const links = c.client.status().links!;
  assert.equal(links.find((l) => l.peerNode === 'edgeA')?.state !== 'up', true, 'the link to A is shown down');
  assert.equal(links.find((l) => l.peerNode === 'edgeB')?.reconnects, 0, 'the link to B never dropped');
});

function startEdgeProcess(yaml: string): ChildProcess {
  const child = spawn(process.execPath, [CLI, 'edge', '-c', yaml], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

test('kill the edge process: core notices at once, and reconnects when the edge is back', async (t) => {
  const ports = { sip: await freePort(), http: await freePort(), xmpp: await freePort() };
  const files = await writePairFiles({
    edgeAddresses: [EDGE_ADDRESS],
    traversal: ports,
    coreAdmin: { address: '127.0.0.1', port: 0 },
    edgeAdmin: { address: '127.0.0.1', port: 0 },
    keepaliveS: 0.5,
  });
  const ca = readFileSync(join(files.dir, 'ca.pem'), 'utf8');
  const cap = capturedLogger('core1');
  const client = new TraversalClient({
    node: 'core1',
    tls: {
      cert: readFileSync(join(files.dir, 'core.pem'), 'utf8'),
      key: readFileSync(join(files.dir, 'core.key'), 'utf8'),
      ca,
    },
    peers: [{ address: EDGE_ADDRESS, ports }],
    username: 'traversal',
    password: 'traversal-secret',
    keepaliveMs: 500,
    reconnectInitialMs: 100,
    reconnectMaxMs: 500,
    connectTimeoutMs: 2000,
    framer: () => new SipStreamFramer(),
    log: cap.log,
  });
  let edge = startEdgeProcess(files.edgeYaml);
  t.after(async () => {
    await client.close();
    edge.kill('SIGKILL');
    files.cleanup();
  });
  client.start();
  await waitFor('link up to the edge process', () => client.status().state === 'up', 15_000);

  const killedAt = Date.now();
  edge.kill('SIGKILL');
  await once(edge, 'exit');
  await waitFor('link down', () => client.status().state !== 'up', 5000, 5);
  assert.ok(Date.now() - killedAt <= 1000, `detected within two keepalive periods (${Date.now() - killedAt} ms)`);
  await new Promise((r) => setTimeout(r, 800));
  assert.notEqual(client.status().state, 'up');
  assert.ok(client.status().failedAttempts >= 1, 'core keeps trying while the edge is away');

  edge = startEdgeProcess(files.edgeYaml);
  await waitFor('link back up', () => client.status().state === 'up', 15_000);
  assert.equal(client.status().reconnects, 1);
});

test('SIGTERM drains an edge node and exits 0', async (t) => {
  const ports = { sip: await freePort(), http: await freePort(), xmpp: await freePort() };
  const files = await writePairFiles({
    edgeAddresses: [EDGE_ADDRESS],
    traversal: ports,
    coreAdmin: { address: '127.0.0.1', port: 0 },
    edgeAdmin: { address: '127.0.0.1', port: 0 },
  });
  t.after(() => files.cleanup());
  const edge = startEdgeProcess(files.edgeYaml);
  let out = '';
  edge.stdout!.on('data', (d) => (out += d));
  await waitFor('edge running', () => out.includes('running'), 15_000);
  edge.kill('SIGTERM');
  const [code] = (await once(edge, 'exit')) as [number];
  assert.equal(code, 0);
});
