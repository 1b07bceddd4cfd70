// XMPP across the three hosts: two users in internet sign in through the edge (dmz), whose xmpp tunnel core
// (inside) opened, to the lab IM&P (inside), see each other online and exchange a message. Namespaces with the
// DMZ firewall (dmz cannot dial inside) when this machine can make them, loopback hosts otherwise.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createNetwork, type Network } from '../topology/index.js';
import { pairFiles, type PairFiles } from '../topology/pair-files.js';
import { CLI } from '../support/node-files.js';
import { jsonLines, type LineReader } from '../sip-proxy/lines.js';

const TOOLS = join(CLI, '../../../test/xmpp/tools');
const DOMAIN = 'example.com';
let net: Network;
let files: PairFiles;
let edge: LineReader;
let impPort = 0;

before(async () => {
  const made = await createNetwork('xmppe2e');
  net = made.network;
  if (made.fallback) console.log(`# loopback hosts: ${made.fallback}`);
  files = await pairFiles(net, 'xmpp-e2e');
  await files.issue('imp', 'imp.example.com', [net.inside.address]);
  const dir = files.dir;
  const imp = net.spawnNode(
    net.inside,
    [join(TOOLS, 'imp.js'), net.inside.address, join(dir, 'imp.pem'), join(dir, 'imp.key'), DOMAIN],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  impPort = (await jsonLines(imp).next('the IM&P', (o) => o.event === 'listening')).port as number;
  const yaml = await files.writeConfigs(['xmpp'], {
    domains: [{ name: DOMAIN, im_presence: true }],
    im_presence: [{ publisher: net.inside.address, nodes: [{ address: net.inside.address, xmpp_port: impPort }] }],
  });
  edge = jsonLines(net.spawnNode(net.dmz, [CLI, 'edge', '-c', yaml.edge], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const core = jsonLines(
    net.spawnNode(net.inside, [CLI, 'core', '-c', yaml.core], { stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  const said = (lines: LineReader) =>
    lines
      .all()
      .map((l) => `${l.msg} ${l.reason ?? l.err ?? ''}`)
      .join(' | ');
  try {
    await edge.next('the xmpp tunnel', (o) => o.msg === 'xmpp tunnel up', 30_000);
    await edge.next('the domain table', (o) => o.msg === 'domain table received from core', 15_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}; edge log: ${said(edge)}; core log: ${said(core)}`);
  }
});
after(async () => {
  await net?.destroy();
  files?.remove();
});

test('two users in internet sign in over XMPP through the edge in dmz to IM&P inside, see each other and chat', {
  timeout: 60_000,
}, async () => {
  const args = {
    edge: net.dmzPublicAddress,
    port: files.ports.xmpp,
    ca: files.ca.cert,
    servername: 'edge.example.com',
    domain: DOMAIN,
  };
  const chat = jsonLines(
    net.spawnNode(net.internet, [join(TOOLS, 'chat.js'), JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const end = await chat.next('the chat', (o) => o.event === 'done' || o.event === 'failed', 30_000);
  assert.equal(end.event, 'done', String(end.error));
  const steps = chat.all().filter((o) => o.step);
  assert.deepEqual(
    steps.map((s) => s.step),
    ['bound', 'bound', 'presence', 'message'],
  );
  assert.deepEqual(
    steps.slice(0, 2).map((s) => s.jid),
    [`mdude@${DOMAIN}/ns-0`, `jdoe@${DOMAIN}/ns-1`],
  );
  assert.equal(steps[3]!.from, `mdude@${DOMAIN}/ns-0`);
  assert.equal(steps[3]!.body, 'hello from the internet');
  if (net.firewall) {
    // The edge reached IM&P only through the tunnel: from dmz, the IM&P host is not reachable at all.
    const probe = `require('net').connect(${JSON.stringify({ host: net.inside.address, port: impPort })}, () => { console.log('CONNECTED'); process.exit(0) }).on('error', (e) => { console.log(e.code); process.exit(0) }).setTimeout(1500, () => { console.log('TIMEOUT'); process.exit(0) })`;
    const r = await net.run(net.dmz, process.execPath, ['-e', probe]);
    assert.ok(r.stdout.trim() && !/CONNECTED/.test(r.stdout), `dmz reached IM&P directly: ${r.stdout}`);
  }
});
