import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { CertificateAuthority } from '../../src/certs/index.js';
import type { MessageChannel, StreamChannel, Channel } from '../../src/traversal/index.js';
import { waitFor } from '../support/log-capture.js';
import { CORE_NAME, EDGE_ADDRESS, coreClient, pki, startEdgeServer, tlsOf } from './pair.js';

const OPTIONS =
  'OPTIONS sip:edge.example.com SIP/2.0\r\nVia: SIP/2.0/TLS core.example.com;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nFrom: <sip:core@example.com>;tag=1\r\nTo: <sip:edge@example.com>\r\nCall-ID: abc@core\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n';

test('the link comes up, carries SIP both ways and opens the HTTP and XMPP channels', async (t) => {
  const { ca, edge, core } = await pki();
  const e = await startEdgeServer({ tls: tlsOf(edge, ca.cert) });
  const c = coreClient({ tls: tlsOf(core, ca.cert), peers: [{ address: EDGE_ADDRESS, ports: e.ports }] });
  t.after(async () => {
    await c.client.close();
    await e.server.close();
  });

  const edgeSip = new Promise<MessageChannel>((resolve) =>
    e.server.onChannel('sip', (ch) => resolve(ch as MessageChannel)),
  );
  const edgeHttp = new Promise<StreamChannel>((resolve) =>
    e.server.onChannel('http', (ch) => resolve(ch as StreamChannel)),
  );
  const coreHttp = new Promise<StreamChannel>((resolve) =>
    c.client.onChannel('http', (ch) => resolve(ch as StreamChannel)),
  );
  const coreXmpp = new Promise<Channel>((resolve) => c.client.onChannel('xmpp', resolve));
  c.client.start();

  await waitFor('link up', () => c.client.status().state === 'up');
  const st = c.client.status();
  assert.equal(st.peer, `${EDGE_ADDRESS}:${e.ports.sip}`);
  assert.equal(st.peerNode, 'edge1');
  assert.equal(st.failedAttempts, 0);

  const es = await edgeSip;
  assert.equal(es.info.peerNode, 'core1');
  const got = new Promise<Buffer>((resolve) => es.onMessage(resolve));
  assert.ok(c.client.sip()!.send(OPTIONS));
  assert.equal((await got).toString(), OPTIONS);
  const back = new Promise<Buffer>((resolve) => c.client.sip()!.onMessage(resolve));
  es.send(OPTIONS.replace('OPTIONS sip:edge', 'OPTIONS sip:core'));
  assert.match((await back).toString(), /^OPTIONS sip:core/);

  const [eh, ch] = await Promise.all([edgeHttp, coreHttp]);
  ch.stream.write('PRI * HTTP/2.0');
  const [chunk] = (await once(eh.stream, 'data')) as [Buffer];
  assert.equal(chunk.toString(), 'PRI * HTTP/2.0', 'the tunnel is a clean byte stream after the handshake');
  assert.equal((await coreXmpp).info.kind, 'xmpp');
  await waitFor('all channels up', () => Object.values(c.client.status().channels).every((s) => s === 'up'));

  const edgeView = e.server.status();
  assert.equal(edgeView.state, 'up');
  assert.equal(edgeView.cores[0]?.node, 'core1');
  assert.deepEqual(edgeView.cores[0]?.channels, { sip: 'up', http: 'up', xmpp: 'up' });
});

test('keepalive pings are answered and the round trip is measured', async (t) => {
  const { ca, edge, core } = await pki();
  const e = await startEdgeServer({ tls: tlsOf(edge, ca.cert), keepaliveMs: 100 });
  const c = coreClient({
    tls: tlsOf(core, ca.cert),
    peers: [{ address: EDGE_ADDRESS, ports: e.ports }],
    keepaliveMs: 100,
  });
  t.after(async () => {
    await c.client.close();
    await e.server.close();
  });
  c.client.start();
  await waitFor('an RTT', () => c.client.status().rttMs !== undefined);
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(c.client.status().state, 'up', 'answered pings keep the link up');
  assert.equal(c.client.status().reconnects, 0);
});

/** Each refusal: the edge logs which check failed, core reports it and keeps retrying at a bounded pace. */
async function refused(
  t: import('node:test').TestContext,
  core: { cert: string; key: string },
  caForCore: string,
  password: string,
  expect: RegExp,
) {
  const { ca, edge } = await pki();
  const e = await startEdgeServer({ tls: tlsOf(edge, ca.cert) });
  const c = coreClient({
    tls: { cert: core.cert, key: core.key, ca: caForCore },
    peers: [{ address: EDGE_ADDRESS, ports: e.ports }],
    password,
    reconnectInitialMs: 200,
    reconnectMaxMs: 400,
  });
  t.after(async () => {
    await c.client.close();
    await e.server.close();
  });
  let sipChannels = 0;
  e.server.onChannel('sip', () => sipChannels++);
  c.client.start();
  await waitFor('a refusal in the edge log', () => e.lines().some((l) => l.msg === 'traversal connection refused'));
  const refusal = e.lines().find((l) => l.msg === 'traversal connection refused')!;
  assert.match(String(refusal.reason), expect, 'the edge log says which check failed');
  await waitFor('core reports the reason', () => expect.test(c.client.status().lastError ?? ''));
  const before = c.client.status().failedAttempts;
  await new Promise((r) => setTimeout(r, 1500));
  const attempts = c.client.status().failedAttempts - before;
  assert.ok(attempts >= 2, `core keeps retrying (${attempts} attempts in 1.5 s)`);
  assert.ok(attempts <= 12, `without a busy loop (${attempts} attempts in 1.5 s)`);
  assert.equal(c.client.status().state === 'up', false);
  assert.equal(sipChannels, 0, 'no plane ever saw a channel');
  assert.ok(
    c.lines().some((l) => l.msg === 'traversal link attempt failed' && expect.test(String(l.err))),
    'core logs the reason',
  );
}

test('a wrong traversal password is refused', async (t) => {
  const { ca, core } = await pki();
  await refused(t, core, ca.cert, 'wrong-password', /username or password/);
});

test('a core certificate without the TLS verify subject name is refused', async (t) => {
  const { ca } = await pki();
  const other = await ca.issue({ commonName: 'other.example.com', dnsNames: ['other.example.com'] });
  await refused(t, other, ca.cert, 'right-password', new RegExp(CORE_NAME.replace(/\./g, '\\.')));
});

test('a core certificate without the clientAuth EKU is refused', async (t) => {
  const { ca } = await pki();
  const serverOnly = await ca.issue({ commonName: CORE_NAME, dnsNames: [CORE_NAME], clientAuth: false });
  await refused(t, serverOnly, ca.cert, 'right-password', /clientAuth|client auth/i);
});

test('an expired core certificate is refused', async (t) => {
  const { ca } = await pki();
  const day = 86_400_000;
  const expired = await ca.issue({
    commonName: CORE_NAME,
    dnsNames: [CORE_NAME],
    notBefore: new Date(Date.now() - 30 * day),
    notAfter: new Date(Date.now() - day),
  });
  await refused(t, expired, ca.cert, 'right-password', /expired/i);
});

test('a core certificate from an untrusted CA is refused', async (t) => {
  const { ca } = await pki();
  const rogue = await CertificateAuthority.create({ commonName: 'rogue CA' });
  const foreign = await rogue.issue({ commonName: CORE_NAME, dnsNames: [CORE_NAME] });
  await refused(t, foreign, ca.cert, 'right-password', /not trusted/);
});

test('core refuses an edge whose certificate it cannot verify', async (t) => {
  const { ca, edge, core } = await pki();
  const rogue = await CertificateAuthority.create({ commonName: 'rogue CA' });
  const e = await startEdgeServer({ tls: tlsOf(edge, ca.cert) });
  const c = coreClient({
    tls: { cert: core.cert, key: core.key, ca: rogue.cert },
    peers: [{ address: EDGE_ADDRESS, ports: e.ports }],
  });
  t.after(async () => {
    await c.client.close();
    await e.server.close();
  });
  c.client.start();
  await waitFor('core reports the edge certificate', () =>
    /edge certificate rejected|certificate/.test(c.client.status().lastError ?? ''),
  );
  assert.notEqual(c.client.status().state, 'up');
});
