// End to end across the three hosts: a client in internet registers through the edge (dmz) and core
// (inside) to the lab registrar (inside), is challenged, re-registers, and the inside reaches it with an
// OPTIONS and a MESSAGE over its own TLS connection; a call's media crosses the DMZ firewall because core sends
// first. Namespaces with the DMZ firewall when this machine can make them, loopback hosts otherwise.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FIREWALL_TABLE, createNetwork, type Network } from '../topology/index.js';
import { pairFiles, type PairFiles } from '../topology/pair-files.js';
import { CLI, freePort } from '../support/node-files.js';
import { jsonLines } from './lines.js';

const TOOLS = join(CLI, '../../../test/sip-proxy/tools');
let net: Network;
let files: PairFiles;
let dir = '';
let sipTls = 0;
let ccLines: ReturnType<typeof jsonLines>;
let cc: ReturnType<Network['spawnNode']>;

before(async () => {
  const made = await createNetwork('sipe2e');
  net = made.network;
  if (made.fallback) console.log(`# loopback hosts: ${made.fallback}`);
  files = await pairFiles(net, 'sip-e2e');
  ({ dir } = files);
  sipTls = files.ports.sipTls;
  const callControlPort = await freePort();
  const yaml = await files.writeConfigs(['sipTls'], {
    domains: [{ name: 'example.com', sip_registrations: true }],
    unified_cm: [
      { publisher: net.inside.address, nodes: [{ address: net.inside.address, sip_port: callControlPort }] },
    ],
  });

  cc = net.spawnNode(net.inside, [join(TOOLS, 'call-control.js'), net.inside.address, String(callControlPort)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  ccLines = jsonLines(cc);
  await ccLines.next('call control listening', (o) => o.event === 'listening');
  const edge = net.spawnNode(net.dmz, [CLI, 'edge', '-c', yaml.edge], { stdio: ['ignore', 'pipe', 'inherit'] });
  const edgeLines = jsonLines(edge);
  const core = net.spawnNode(net.inside, [CLI, 'core', '-c', yaml.core], { stdio: ['ignore', 'pipe', 'pipe'] });
  const coreLines = jsonLines(core);
  let coreErr = '';
  core.stderr!.on('data', (d: Buffer) => (coreErr += d.toString('utf8')));
  await edgeLines
    .next('the edge to learn the domain table', (o) => o.msg === 'domain table received from core', 30_000)
    .catch((err: Error) => {
      // Both nodes' own words say why (configuration, certificate, credentials, listener): put them in the failure.
      const said = (lines: typeof edgeLines) =>
        lines
          .all()
          .map((l) => `${l.msg} ${l.reason ?? l.err ?? ''}`)
          .join(' | ');
      throw new Error(
        `${err.message}; edge log: ${said(edgeLines)}; core log: ${said(coreLines)}; core stderr: ${coreErr.trim()}`,
      );
    });
});
after(async () => {
  cc?.stdin?.end();
  await net?.destroy();
  files?.remove();
});

test('a client in internet registers through edge and core and is reached from the inside', {
  timeout: 60_000,
}, async () => {
  const client = net.spawnNode(
    net.internet,
    [
      join(TOOLS, 'client.js'),
      net.dmzPublicAddress,
      String(sipTls),
      join(dir, 'ca.pem'),
      'alice',
      'alice-pw',
      'example.com',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const clientLines = jsonLines(client);
  const registered = await clientLines.next(
    'the first registration',
    (o) => o.event === 'registered' || o.event === 'error',
  );
  assert.equal(registered.status, 200, JSON.stringify(registered));
  assert.equal(registered.challenged, 1, 'the registrar challenged the client');
  assert.match(
    String(registered.path),
    /^<sip:mra-core1@.*>, <sip:[A-Za-z0-9_-]+@/,
    'Path holds core, then the edge with the flow token',
  );
  const refreshed = await clientLines.next('the re-registration', (o) => o.event === 'refreshed');
  assert.equal(refreshed.status, 200);

  cc.stdin!.write(`${JSON.stringify({ id: 1, aor: 'alice@example.com', method: 'OPTIONS' })}\n`);
  assert.equal((await ccLines.next('the OPTIONS result', (o) => o.id === 1)).status, 200);
  cc.stdin!.write(
    `${JSON.stringify({ id: 2, aor: 'alice@example.com', method: 'MESSAGE', body: 'hello from the inside' })}\n`,
  );
  assert.equal((await ccLines.next('the MESSAGE result', (o) => o.id === 2)).status, 200);
  await clientLines.next('the client to see the OPTIONS', (o) => o.event === 'request' && o.method === 'OPTIONS');
  const message = await clientLines.next(
    'the client to see the MESSAGE',
    (o) => o.event === 'request' && o.method === 'MESSAGE',
  );
  assert.equal(message.body, 'hello from the inside');
  client.stdin!.end();
});

test("a call's media crosses the DMZ firewall both ways because core sends first: its keepalive opens the flow, so a client that speaks first is heard", {
  timeout: 60_000,
}, async () => {
  const client = net.spawnNode(
    net.internet,
    [
      join(TOOLS, 'media-client.js'),
      net.dmzPublicAddress,
      String(sipTls),
      join(dir, 'ca.pem'),
      'bob',
      'bob-pw',
      'example.com',
      net.internet.address,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const clientLines = jsonLines(client);
  assert.equal(
    (await clientLines.next('bob registered', (o) => o.event === 'registered' || o.event === 'error')).status,
    200,
  );
  const drops = async () => {
    const r = await net.run(net.inside, 'nft', ['list', 'chain', 'inet', FIREWALL_TABLE, 'input']);
    return Number(/ct state new counter packets (\d+)/.exec(r.stdout)?.[1] ?? NaN);
  };

  cc.stdin!.write(`${JSON.stringify({ id: 10, call: 'bob@example.com' })}\n`);
  const offer = await clientLines.next(
    "bob to be offered SRTP at the edge's public address",
    (o) => o.event === 'offer',
  );
  assert.deepEqual(
    [offer.proto, offer.address, offer.suite],
    ['RTP/SAVP', net.dmzPublicAddress, 'AES_CM_128_HMAC_SHA1_80'],
  );
  const answered = await ccLines.next('the call answered', (o) => o.id === 10);
  assert.equal(answered.status, 200, String(answered.reason));
  assert.match(String(answered.answer), /m=audio \d+ RTP\/AVP 0/, 'the inside gets plain RTP from core');

  // The client speaks first, and is heard: core opened the flow when the client's answer gave it the edge's mux port
  // (a 0-byte keepalive from its leg, RFC 6263), so what the edge relays inwards is a reply on that flow. Each try
  // is 5 packets; only the first can beat the keepalive (sent at core's next 100 ms tick).
  let heard: Record<string, unknown> | undefined;
  for (let i = 0; i < 5 && !heard; i++) {
    client.stdin!.write(`${JSON.stringify({ send: 5 })}\n`);
    heard = await ccLines
      .next('the phone to hear bob before it says anything', (o) => o.event === 'rtp', 1000)
      .catch(() => undefined);
  }
  assert.ok(heard, 'the phone heard the client before sending anything itself');
  if (net.firewall) assert.equal(String(heard.from).split(':')[0], net.inside.address, 'from core, on the inside');
  const dropsAfter = net.firewall ? await drops() : 0;
  // The phone speaks: the client decrypts it under core's key; the client's next packets all pass the firewall.
  cc.stdin!.write(`${JSON.stringify({ id: 11, send: 10 })}\n`);
  const decrypted = await clientLines.next(
    'bob to decrypt 10 packets',
    (o) => o.event === 'srtp-error' || (o.event === 'srtp' && o.decrypted === 10),
  );
  assert.equal(decrypted.event, 'srtp', JSON.stringify(decrypted));
  assert.equal(decrypted.ssrc, 0x0de5c000);
  const before = ccLines.all().filter((o) => o.event === 'rtp').length;
  client.stdin!.write(`${JSON.stringify({ send: 5 })}\n`);
  await ccLines.next('the phone to hear 5 more', (o) => o.event === 'rtp' && o.count === before + 5);
  if (net.firewall) assert.equal(await drops(), dropsAfter, 'the firewall dropped nothing once the flow was open');
  cc.stdin!.write(`${JSON.stringify({ id: 12, bye: true })}\n`);
  assert.equal((await ccLines.next('the BYE answered', (o) => o.id === 12)).status, 200);
  client.stdin!.end();
});
