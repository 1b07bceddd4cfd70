// The seeds' sign-in sequence end to end across the three hosts: a client in internet signs in through the edge
// (dmz), whose tunnel core (inside) opened, to the lab's UDS, TFTP, IM&P and voicemail (inside), once with Basic
// credentials and once with a token, every answer checked field by field. Namespaces with the DMZ firewall
// (dmz cannot dial inside) when this machine can make them, loopback hosts otherwise.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createNetwork, type Network } from '../topology/index.js';
import { pairFiles, type PairFiles } from '../topology/pair-files.js';
import { CLI } from '../support/node-files.js';
import { jsonLines, type LineReader } from '../sip-proxy/lines.js';
import { xmlValue, xmlValues } from './xml.js';

const TOOLS = join(CLI, '../../../test/http/tools');
const DOMAIN = 'example.com';
const USER = { id: 'mdude', password: 'thispasswdwillbereset' };
let net: Network;
let files: PairFiles;
let dir = '';
let edgeHttps = 0;
let inside: { uds: number; tftp: number; voicemail: number };

before(async () => {
  const made = await createNetwork('httpe2e');
  net = made.network;
  if (made.fallback) console.log(`# loopback hosts: ${made.fallback}`);
  files = await pairFiles(net, 'http-e2e');
  dir = files.dir;
  await files.issue('inside', 'cucm.example.com', [net.inside.address]);

  const lab = net.spawnNode(
    net.inside,
    [join(TOOLS, 'inside.js'), net.inside.address, join(dir, 'inside.pem'), join(dir, 'inside.key'), DOMAIN],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  inside = (await jsonLines(lab).next('the inside servers', (o) => o.event === 'listening')).ports as typeof inside;

  edgeHttps = files.ports.https;
  const node = (port: number) => [{ address: net.inside.address, https_port: port, tftp_port: inside.tftp }];
  const yaml = await files.writeConfigs(['sipTls', 'https'], {
    domains: [{ name: DOMAIN, sip_registrations: true, im_presence: true }],
    unified_cm: [{ publisher: net.inside.address, https_port: inside.uds, nodes: node(inside.uds) }],
    im_presence: [{ publisher: net.inside.address, https_port: inside.uds, nodes: node(inside.uds) }],
    unity_connection: [{ publisher: net.inside.address, https_port: inside.voicemail, nodes: node(inside.voicemail) }],
  });
  const edge = jsonLines(
    net.spawnNode(net.dmz, [CLI, 'edge', '-c', yaml.edge], { stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  const core = jsonLines(
    net.spawnNode(net.inside, [CLI, 'core', '-c', yaml.core], { stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  const said = (lines: LineReader) =>
    lines
      .all()
      .map((l) => `${l.msg} ${l.reason ?? l.err ?? ''}`)
      .join(' | ');
  try {
    await edge.next('the HTTP tunnel', (o) => o.msg === 'http tunnel up', 30_000);
    await core.next('the token keys', (o) => /token signing keys/.test(String(o.msg)), 15_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}; edge log: ${said(edge)}; core log: ${said(core)}`);
  }
});
after(async () => {
  await net?.destroy();
  files?.remove();
});

async function signIn(
  mode: 'basic' | 'token',
): Promise<Map<string, { status: number; body: string; setCookie: unknown }>> {
  const args = {
    edge: net.dmzPublicAddress,
    port: edgeHttps,
    ca: join(dir, 'ca.pem'),
    servername: 'edge.example.com',
    domain: DOMAIN,
    inside: net.inside.address,
    ports: inside,
    user: USER.id,
    password: USER.password,
    mode,
  };
  const client = jsonLines(
    net.spawnNode(net.internet, [join(TOOLS, 'client.js'), JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  await client.next(`the ${mode} sign-in sequence`, (o) => o.event === 'done', 30_000);
  const steps = new Map(
    client
      .all()
      .filter((o) => o.step)
      .map((o) => [String(o.step), o as unknown as { status: number; body: string; setCookie: unknown }]),
  );
  for (const [name, s] of steps) assert.equal(s.status, 200, `${mode} ${name}: ${s.body}`);
  return steps;
}

function checkSequence(steps: Awaited<ReturnType<typeof signIn>>, mode: string): void {
  const xml = (name: string) => steps.get(name)!.body;
  const cfg = xml('get_edge_config');
  const root = 'getEdgeConfigResponse';
  for (const kind of ['sipEdgeServer', 'xmppEdgeServer', 'httpEdgeServer'])
    assert.deepEqual(
      xmlValues(cfg, `${root}/edgeConfig/${kind}/server/address`),
      ['edge.example.com'],
      `${mode} ${kind}`,
    );
  assert.deepEqual(xmlValues(cfg, `${root}/edgeConfig/httpEdgeServer/server/tlsPort`), [String(edgeHttps)]);
  assert.equal(xmlValues(cfg, `${root}/edgeConfig/sipRequest/route`).length, 1, 'one route per core node');
  assert.deepEqual(xmlValues(cfg, `${root}/serviceConfig/service/name`), ['_cisco-uds', '_cuplogin']);
  assert.deepEqual(xmlValues(cfg, `${root}/serviceConfig/service/server/address`), [
    net.inside.address,
    net.inside.address,
  ]);
  assert.deepEqual(xmlValues(cfg, `${root}/serviceConfig/service/server/port`), [
    String(inside.uds),
    String(inside.uds),
  ]);
  assert.equal(xmlValue(cfg, `${root}/userUdsServer/server/address`), net.inside.address);
  assert.equal(xmlValue(cfg, `${root}/userUdsServer/server/tlsPort`), String(inside.uds));
  if (mode === 'basic')
    assert.match(String(steps.get('get_edge_config')!.setCookie), /^X-Auth=[0-9a-f-]{36}; Path=\/; Secure; HttpOnly/);

  assert.equal(xmlValue(xml('clusterUser'), 'getUserResult/user/homeCluster'), net.inside.address);
  assert.deepEqual(xmlValues(xml('servers'), 'servers/server'), [net.inside.address]);
  const user = xml('user');
  assert.equal(xmlValue(user, 'user/userName'), 'mdude');
  assert.equal(xmlValue(user, 'user/firstName'), 'Mobile');
  assert.equal(xmlValue(user, 'user/lastName'), 'Dude');
  assert.equal(xmlValue(user, 'user/phoneNumber'), '+15551001');
  assert.equal(xmlValue(user, 'user/homeCluster'), net.inside.address);
  assert.equal(xmlValue(xml('devices'), 'devices/device/name'), 'CSFMDUDE');
  assert.equal(xmlValue(xml('devices'), 'devices/device/provisionTftp'), net.inside.address);
  assert.equal(xmlValue(xml('cnf'), 'device/name'), 'CSFMDUDE');
  assert.equal(xmlValue(xml('cnf'), 'device/sipProfile/sipLines/line/authName'), 'mdude');
  assert.equal(xmlValue(xml('jabber-config'), 'config/Policies/EnableTelephony'), 'true');
  assert.equal(xmlValue(xml('EPASSoap'), 'soapenv:Envelope/soapenv:Body/loginResponse/success/userid'), 'mdude');
  assert.equal(xmlValue(xml('voicemail'), 'Mailbox/Alias'), 'mdude');
}

test('sign-in from internet through the edge in dmz to the inside, with Basic credentials', {
  timeout: 60_000,
}, async () => {
  checkSequence(await signIn('basic'), 'basic');
});

test('sign-in from internet with a token from call control, every request carrying it', {
  timeout: 60_000,
}, async () => {
  const steps = await signIn('token');
  assert.equal((JSON.parse(steps.get('token')!.body) as { token_type: string }).token_type, 'Bearer');
  checkSequence(steps, 'token');
});
