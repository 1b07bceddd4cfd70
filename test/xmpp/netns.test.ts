// XMPP across the three hosts: two users in internet sign in through the edge (dmz), whose xmpp tunnel core
// (inside) opened, to the lab IM&P (inside), see each other online and exchange a message. Namespaces with the
// DMZ firewall (dmz cannot dial inside) when this machine can make them, loopback hosts otherwise.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CertificateAuthority } from '../../src/certs/index.js';
import { hashPassword } from '../../src/traversal/index.js';
import { createNetwork, type Network } from '../topology/index.js';
import { CLI, freePort } from '../support/node-files.js';
import { jsonLines, type LineReader } from '../sip-proxy/lines.js';

const TOOLS = join(CLI, '../../../test/xmpp/tools');
const DOMAIN = 'example.com';
let net: Network;
let dir = '';
let edgeXmpp = 0;
let edge: LineReader;
let impPort = 0;

before(async () => {
  const made = await createNetwork('xmppe2e');
  net = made.network;
  if (made.fallback) console.log(`# loopback hosts: ${made.fallback}`);
  dir = mkdtempSync(join(tmpdir(), 'mra-xmpp-e2e-'));
  const ca = await CertificateAuthority.create({ commonName: 'mra-edge xmpp e2e CA' });
  const issue = async (name: string, cn: string, ips: string[]) => {
    const c = await ca.issue({ commonName: cn, dnsNames: [cn], ipAddresses: [...new Set(ips)] });
    writeFileSync(join(dir, `${name}.pem`), c.cert);
    writeFileSync(join(dir, `${name}.key`), c.key, { mode: 0o600 });
  };
  writeFileSync(join(dir, 'ca.pem'), ca.cert);
  await issue('edge', 'edge.example.com', [net.dmzPublicAddress, net.dmzTraversalAddress]);
  await issue('core', 'core.example.com', []);
  await issue('imp', 'imp.example.com', [net.inside.address]);

  const imp = net.spawnNode(net.inside, [join(TOOLS, 'imp.js'), net.inside.address, join(dir, 'imp.pem'), join(dir, 'imp.key'), DOMAIN], { stdio: ['pipe', 'pipe', 'inherit'] });
  impPort = (await jsonLines(imp).next('the IM&P', (o) => o.event === 'listening')).port as number;

  const [sipTls, https, traversalSip, tunnel, xmppT] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  edgeXmpp = await freePort();
  const tls = (n: string) => ({ cert_file: join(dir, `${n}.pem`), key_file: join(dir, `${n}.key`), ca_file: join(dir, 'ca.pem') });
  writeFileSync(
    join(dir, 'edge.yaml'),
    stringify({
      role: 'edge',
      name: 'edge1',
      admin: { address: '127.0.0.1', port: 0 },
      tls: tls('edge'),
      public: { address: net.dmzPublicAddress, sip_tls_port: sipTls, https_port: https, xmpp_port: edgeXmpp },
      traversal: { address: net.dmzTraversalAddress, sip_port: traversalSip, http_tunnel_port: tunnel, xmpp_port: xmppT, tls_verify_subject_name: 'core.example.com', accounts: [{ username: 'traversal', password_hash: await hashPassword('secret') }] },
    }),
  );
  writeFileSync(
    join(dir, 'core.yaml'),
    stringify({
      role: 'core',
      name: 'core1',
      admin: { address: '127.0.0.1', port: 0 },
      tls: tls('core'),
      domains: [{ name: DOMAIN, im_presence: true }],
      im_presence: [{ publisher: net.inside.address, nodes: [{ address: net.inside.address, xmpp_port: impPort }] }],
      traversal: { peers: [{ address: net.dmzTraversalAddress, sip_port: traversalSip, http_tunnel_port: tunnel, xmpp_port: xmppT }], username: 'traversal', password: 'secret', reconnect_initial_s: 0.1, reconnect_max_s: 0.5 },
    }),
  );
  edge = jsonLines(net.spawnNode(net.dmz, [CLI, 'edge', '-c', join(dir, 'edge.yaml')], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const core = jsonLines(net.spawnNode(net.inside, [CLI, 'core', '-c', join(dir, 'core.yaml')], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const said = (lines: LineReader) => lines.all().map((l) => `${l.msg} ${l.reason ?? l.err ?? ''}`).join(' | ');
  try {
    await edge.next('the xmpp tunnel', (o) => o.msg === 'xmpp tunnel up', 30_000);
    await edge.next('the domain table', (o) => o.msg === 'domain table received from core', 15_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}; edge log: ${said(edge)}; core log: ${said(core)}`);
  }
});
after(async () => {
  await net?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('two users in internet sign in over XMPP through the edge in dmz to IM&P inside, see each other and chat', { timeout: 60_000 }, async () => {
  const args = { edge: net.dmzPublicAddress, port: edgeXmpp, ca: readFileSync(join(dir, 'ca.pem'), 'utf8'), servername: 'edge.example.com', domain: DOMAIN };
  const chat = jsonLines(net.spawnNode(net.internet, [join(TOOLS, 'chat.js'), JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const end = await chat.next('the chat', (o) => o.event === 'done' || o.event === 'failed', 30_000);
  assert.equal(end.event, 'done', String(end.error));
  const steps = chat.all().filter((o) => o.step);
  assert.deepEqual(steps.map((s) => s.step), ['bound', 'bound', 'presence', 'message']);
  assert.deepEqual(steps.slice(0, 2).map((s) => s.jid), [`mdude@${DOMAIN}/ns-0`, `jdoe@${DOMAIN}/ns-1`]);
  assert.equal(steps[3]!.from, `mdude@${DOMAIN}/ns-0`);
  assert.equal(steps[3]!.body, 'hello from the internet');
  if (net.firewall) {
    // The edge reached IM&P only through the tunnel: from dmz, the IM&P host is not reachable at all.
    const probe = `require('net').connect(${JSON.stringify({ host: net.inside.address, port: impPort })}, () => { console.log('CONNECTED'); process.exit(0) }).on('error', (e) => { console.log(e.code); process.exit(0) }).setTimeout(1500, () => { console.log('TIMEOUT'); process.exit(0) })`;
    const r = await net.run(net.dmz, process.execPath, ['-e', probe]);
    assert.ok(r.stdout.trim() && !/CONNECTED/.test(r.stdout), `dmz reached IM&P directly: ${r.stdout}`);
  }
});
