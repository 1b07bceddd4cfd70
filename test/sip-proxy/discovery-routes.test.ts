// Core routes REGISTERs to the call-control nodes discovery finds: the lab publisher (AXL) gains and loses a
// node, discovery refreshes, and the next request goes where the cluster now is. The configured nodes serve
// until the publisher answers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CertificateAuthority } from '../../src/certs/index.js';
import type { Discovery } from '../../src/discovery/index.js';
import { CallControl } from '../../src/lab/call-control.js';
import { LAB_AXL_CREDENTIALS } from '../../src/lab/axl.js';
import { startInsideServers, type InsideServers } from '../../src/lab/inside-servers.js';
import type { SipClient } from '../../src/lab/sip-client.js';
import { capturedLogger, waitFor } from '../support/log-capture.js';
import { startPair, USERS, type Pair } from './pair.js';

// Node A is the publisher itself (127.0.0.1, the lab's inside servers); node B a second registrar on
// 127.0.0.2. With both in the cluster alice's home is B and bob's is A (rendezvous hash of the AOR and node).
let inside: InsideServers;
let nodeB: CallControl;
let pair: Pair;
let discovery: Discovery;
let A: string;
let B: string;

before(async () => {
  const ca = await CertificateAuthority.create({ commonName: 'lab publisher CA' });
  const cert = await ca.issue({ commonName: '127.0.0.1', ipAddresses: ['127.0.0.1'] });
  inside = await startInsideServers({
    address: '127.0.0.1',
    ports: 'ephemeral',
    tls: { cert: cert.cert, key: cert.key },
    log: capturedLogger('inside').log,
  });
  inside.cluster.misbehave = 'fault';
  nodeB = await new CallControl({
    address: '127.0.0.2',
    port: 0,
    users: USERS,
    log: capturedLogger('cc-b').log,
  }).start();
  A = `tcp:127.0.0.1:${inside.ports.callControlSip}`;
  B = `tcp:127.0.0.2:${nodeB.ports.tcp}`;
  const cluster = {
    publisher: '127.0.0.1',
    https_port: inside.ports.uds,
    tls_verify: false,
    ...LAB_AXL_CREDENTIALS,
    nodes: [{ address: '127.0.0.2', sip_port: nodeB.ports.tcp }],
  };
  pair = await startPair({ core: { unified_cm: [cluster] }, logLevel: 'debug' });
  discovery = (pair.core as unknown as { discovery: Discovery }).discovery;
});
after(async () => {
  await pair?.close();
  await nodeB?.close();
  await inside?.close();
});

const hops = () =>
  pair.coreLog.lines().filter((l) => l.msg === 'sip request to call control' && l.method === 'REGISTER');

/** Registers (or refreshes) and says which node (`tcp:<address>:<port>`) core sent the REGISTER to. */
async function registerAt(client: SipClient): Promise<string> {
  const r = await client.register();
  assert.equal(r.status, 200, r.reason);
  const callId = r.response!.callId();
  return String(
    hops()
      .filter((l) => l.callId === callId)
      .at(-1)?.callControl,
  );
}

test('while the publisher has not answered, the configured nodes serve', async () => {
  await discovery.refresh();
  assert.equal(discovery.result().clusters[0]?.ok, false, 'the publisher answered a SOAP fault');
  const bob = await pair.client('bob');
  assert.equal(await registerAt(bob), B, 'the configured node (B) took the REGISTER');
  bob.close();
});

test('the publisher answers: its nodes replace the configured ones; a node that joins takes only its users', async () => {
  inside.cluster.misbehave = undefined;
  await discovery.refresh();
  await waitFor(
    'core to route to the discovered node',
    () =>
      JSON.stringify((pair.core.status() as { sip: { callControl?: string[] } }).sip.callControl) ===
      JSON.stringify([A]),
  );
  const alice = await pair.client('alice');
  const bob = await pair.client('bob');
  assert.equal(await registerAt(alice), A);
  assert.equal(await registerAt(bob), A, 'the configured node B is not in the answer, so nothing goes there');

  inside.cluster.nodes.push({
    name: '127.0.0.2',
    role: 'CUCM Voice/Video',
    sipPort: nodeB.ports.tcp,
    sipTlsPort: 5061,
  });
  await discovery.refresh();
  assert.equal(await registerAt(alice), B, "alice's refresh moved to the node that joined");
  assert.equal(await registerAt(bob), A, 'bob stays on his node');
  assert.equal(nodeB.bindings.lookup('alice@example.com').length, 1);
  const options = await nodeB.request('alice@example.com', 'OPTIONS');
  assert.equal(options.status, 200, 'the new node reaches alice back through core and the edge');
  assert.equal(alice.received.get('OPTIONS'), 1);

  inside.cluster.nodes = inside.cluster.nodes.filter((n) => n.name !== '127.0.0.1');
  await discovery.refresh();
  const before = hops().length;
  assert.equal(await registerAt(bob), B, "bob's node left the cluster: his refresh goes to the node left");
  assert.equal(await registerAt(alice), B);
  assert.deepEqual(
    hops()
      .slice(before)
      .filter((l) => l.callControl === A),
    [],
    'the removed node got no new request',
  );
  await waitFor("core to let the removed node's connection go", () =>
    pair.coreLog
      .lines()
      .some((l) => l.msg === 'sip connection to a node that left the cluster closed' && l.callControl === A),
  );
});

test("the publisher turning on mixed mode moves core to the nodes' TLS search rules", async () => {
  inside.cluster.mixedMode = true;
  await discovery.refresh();
  const routed = () => (pair.core.status() as { sip: { callControl?: string[] } }).sip.callControl;
  await waitFor('core to route over TLS', () => JSON.stringify(routed()) === JSON.stringify(['tls:127.0.0.2:5061']));
  inside.cluster.mixedMode = false;
  await discovery.refresh();
  await waitFor('core to route over TCP again', () => JSON.stringify(routed()) === JSON.stringify([B]));
});
