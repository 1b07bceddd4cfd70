// The configuration a cluster's peers hold alike (docs/cluster.md, "Shared configuration"), on a real redis-server
// started here: a change of the MRA domains or the HTTP allow list on one core is in force on the other without a
// restart (and the edge both are linked to learns the new domains); a core started later takes the cluster's copy and
// reports that its own file differs; bad input is refused naming the field, and nothing is applied anywhere.
import { after, before, test } from 'node:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CSV_HEADER } from '../../src/http/allow-list-csv.js';
import assert from 'node:assert/strict';
import { RedisServer, redisMissing } from '../support/redis.js';
import { waitFor } from '../support/log-capture.js';
import { renderStatus, type StatusDoc } from '../../src/cli/status.js';
import { admin, startPeers, type Peers, type StartedCore, type StartedEdge } from './peers.js';

const missing = redisMissing();
let redis: RedisServer | undefined;
let peers: Peers | undefined;
let edge: StartedEdge;
let core1: StartedCore;
let core2: StartedCore;
const A = { name: 'a.example.com', sip_registrations: true, im_presence: true };

type Status = {
  sharedConfig?: Record<string, { version: number; by: string; source: string; differsFromFile: boolean }>;
  sip?: { domains?: number | null };
  alarms: Array<{ id: string; severity: string; message: string }>;
};
const status = (n: { status(): unknown }) => n.status() as Status;
const version = (n: { status(): unknown }, setting: string) => status(n).sharedConfig?.[setting]?.version;
const domainNames = async (n: StartedCore) =>
  ((await admin(n, 'GET', '/api/domains')).body as unknown as Array<{ name: string }>).map((d) => d.name).sort();

before(async () => {
  if (missing) return;
  redis = await RedisServer.start();
  peers = await startPeers(redis.url, 'shared');
  edge = await peers.edge('edge1');
  core1 = await peers.core('core1', [edge], { domains: [A] });
  core2 = await peers.core('core2', [edge], { domains: [A] });
  await waitFor('both cores linked to the edge', () =>
    (edge.status() as { traversal?: { cores?: Array<{ channels: { sip?: string } }> } }).traversal?.cores?.filter(
      (c) => c.channels.sip === 'up',
    ).length === 2
      ? true
      : undefined,
  );
});
after(async () => {
  await peers?.close();
  await redis?.stop();
});

test('a domain added on one core is in force on the other, and the edge learns it, without a restart', async (t) => {
  if (!redis) return t.skip(missing);
  assert.equal(version(core1, 'domains'), 1, 'the first core offered its file as version 1');
  assert.equal(status(core2).sharedConfig?.domains?.source, 'cluster');
  const set = await admin(core1, 'POST', '/api/actions/domains-set', {
    name: 'b.example.com',
    sip_registrations: true,
  });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.equal(set.body.result?.version, 2);
  assert.equal(set.body.result?.shared, true);
  await waitFor('core2 applies version 2', () => (version(core2, 'domains') === 2 ? true : undefined));
  assert.deepEqual(await domainNames(core2), ['a.example.com', 'b.example.com']);
  assert.equal(status(core2).sharedConfig?.domains?.by, 'core1');
  await waitFor('the edge holds both domains', () => (status(edge).sip?.domains === 2 ? true : undefined));

  const off = await admin(core2, 'POST', '/api/actions/domains-set', { name: 'A.example.com', im_presence: false });
  assert.equal(off.status, 200, JSON.stringify(off.body));
  assert.deepEqual(
    off.body.result?.domain,
    { ...A, im_presence: false, on_node: false, xmpp_federation: false, deployment: 'default' },
    'the services not named kept their value',
  );
  await waitFor('core1 applies version 3', () => (version(core1, 'domains') === 3 ? true : undefined));
  const one = ((await admin(core1, 'GET', '/api/domains')).body as unknown as Array<Record<string, unknown>>).find(
    (d) => d.name === 'a.example.com',
  );
  assert.equal(one?.im_presence, false);
  assert.equal(one?.sip_registrations, true);

  const removed = await admin(core1, 'POST', '/api/actions/domains-remove', { name: 'b.example.com' });
  assert.equal(removed.status, 200, JSON.stringify(removed.body));
  await waitFor('core2 applies the removal', () => (version(core2, 'domains') === 4 ? true : undefined));
  assert.deepEqual(await domainNames(core2), ['a.example.com']);
  await waitFor('the edge holds one domain again', () => (status(edge).sip?.domains === 1 ? true : undefined));
});

test('an allow-list rule added on one core is in force on the other; one removed there is gone from both', async (t) => {
  if (!redis) return t.skip(missing);
  const url = 'https://cuc.example.com:443/vmrest/';
  const add = await admin(core2, 'POST', '/api/actions/http-allow-list-add', { url, methods: ['GET', 'POST'] });
  assert.equal(add.status, 200, JSON.stringify(add.body));
  const v = add.body.result?.version as number;
  await waitFor('core1 applies it', () => (version(core1, 'allow-list') === v ? true : undefined));
  const rules = (await admin(core1, 'GET', '/api/allow-list')).body as unknown as Array<Record<string, unknown>>;
  assert.deepEqual(
    rules.filter((r) => !r.automatic).map((r) => [r.url, r.methods]),
    [[url, ['GET', 'POST']]],
  );
  const exported = await admin(core1, 'POST', '/api/actions/http-allow-list-export', {});
  assert.match(String(exported.body.result?.csv), /cuc\.example\.com:443\/vmrest\/,default,"GET,POST",prefix/);
  const removed = await admin(core1, 'POST', '/api/actions/http-allow-list-remove', { url });
  assert.equal(removed.status, 200, JSON.stringify(removed.body));
  await waitFor('core2 applies the removal', () => (version(core2, 'allow-list') === v + 1 ? true : undefined));
  const left = (await admin(core2, 'GET', '/api/allow-list')).body as unknown as Array<Record<string, unknown>>;
  assert.equal(left.filter((r) => !r.automatic).length, 0);
});

test("a core with http.allow_list.csv_file keeps it a copy of the cluster's rules, whichever core changed them", async (t) => {
  if (!redis) return t.skip(missing);
  const csv = join(peers!.dir, 'core4-allow.csv');
  writeFileSync(csv, `${CSV_HEADER}\n`);
  const core4 = await peers!.core('core4', [edge], { domains: [A], http: { allow_list: { csv_file: csv } } });
  try {
    const url = 'https://photos.example.com:443/photos/';
    const add = await admin(core1, 'POST', '/api/actions/http-allow-list-add', {
      url,
      description: 'directory photos',
    });
    assert.equal(add.status, 200, JSON.stringify(add.body));
    await waitFor('core4 rewrites its file', () => (readFileSync(csv, 'utf8').includes(url) ? true : undefined));
    assert.equal(readFileSync(csv, 'utf8'), `${CSV_HEADER}\n${url},default,,prefix,"directory photos"\n`);
    // The file edited on core4 and reloaded: its rules become the cluster's.
    writeFileSync(csv, `${CSV_HEADER}\nhttps://photos.example.com:443/other/,,GET,exact,\n`);
    const reload = await admin(core4, 'POST', '/api/actions/http-allow-list-reload', {});
    assert.equal(reload.status, 200, JSON.stringify(reload.body));
    await waitFor('core1 applies the reloaded file', async () => {
      const rules = (await admin(core1, 'GET', '/api/allow-list')).body as unknown as Array<Record<string, unknown>>;
      const mine = rules.filter((r) => !r.automatic).map((r) => r.url);
      return JSON.stringify(mine) === '["https://photos.example.com:443/other/"]' ? true : undefined;
    });
  } finally {
    await core4.close();
  }
});

test('bad input is refused with the field named (400), and nothing is applied on any peer', async (t) => {
  if (!redis) return t.skip(missing);
  const before = [version(core1, 'domains'), version(core2, 'domains'), version(core1, 'allow-list')];
  const names = await domainNames(core2);
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['domains-set', { name: 'not a domain!' }, /^name: must be a DNS name$/],
    ['domains-set', { name: 'c.example.com', im_presence: 'yes' }, /^im_presence: .*boolean/],
    ['domains-set', { name: 'c.example.com', colour: 'blue' }, /^colour: unknown field$/],
    ['domains-set', {}, /^name: is required/],
    ['domains-remove', { name: 'nowhere.example.com' }, /^name: nowhere\.example\.com is not one of the MRA domains$/],
    [
      'http-allow-list-add',
      { url: 'ftp://x.example.com/' },
      /^http\.allow_list\.rules\[\d+\]\.url: "ftp:\/\/x\.example\.com\/" is not an http\(s\)/,
    ],
    [
      'http-allow-list-add',
      { url: 'https://x.example.com/', methods: ['G E T'] },
      /^http\.allow_list\.rules\[\d+\]\.methods: "G E T" is not an HTTP method$/,
    ],
    ['http-allow-list-add', { url: 'https://x.example.com/', match: 'fuzzy' }, /^match must be exact or prefix$/],
    ['config-push', { setting: 'zones' }, /^setting: is required, one of domains, allow-list$/],
  ];
  for (const [action, body, reason] of cases) {
    const r = await admin(core1, 'POST', `/api/actions/${action}`, body);
    assert.equal(r.status, 400, `${action} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assert.match(String(r.body.error), reason, `${action} ${JSON.stringify(body)}`);
  }
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual([version(core1, 'domains'), version(core2, 'domains'), version(core1, 'allow-list')], before);
  assert.deepEqual(await domainNames(core2), names, 'nothing applied');
});

test('a core started later takes the cluster copy, reports that its file differs, and can make its file the cluster copy', async (t) => {
  if (!redis) return t.skip(missing);
  const own = { name: 'z.example.com', sip_registrations: true };
  const core3 = await peers!.core('core3', [edge], { domains: [own] });
  assert.deepEqual(await domainNames(core3), await domainNames(core1), "the cluster's copy is in force");
  const differs = status(core3).alarms.find((a) => a.id === 'config.domains-differs');
  assert.equal(differs?.severity, 'warning');
  assert.match(
    differs!.message,
    /this node's configuration file does not match the cluster's domains \(version \d+, written by core\d/,
  );
  assert.ok(!status(core1).alarms.some((a) => a.id === 'config.domains-differs'), "core1's file is the cluster's");
  assert.match(
    renderStatus(core3.status() as StatusDoc),
    /^shared configuration: domains version \d+ by core\d \(this node's file differs\), allow-list version \d+ by core\d/m,
    'mra-edge status says so',
  );

  const pushed = await admin(core3, 'POST', '/api/actions/config-push', { setting: 'domains' });
  assert.equal(pushed.status, 200, JSON.stringify(pushed.body));
  await waitFor('core1 takes the file of core3', async () =>
    JSON.stringify(await domainNames(core1)) === '["z.example.com"]' ? true : undefined,
  );
  assert.ok(!status(core3).alarms.some((a) => a.id === 'config.domains-differs'), 'cleared on core3');
  assert.ok(
    !status(core1).alarms.some((a) => a.id === 'config.domains-differs'),
    'a change at run time is not a file in conflict: the files are compared when a node starts',
  );
  await waitFor('the edge holds the one domain of core3', () => (status(edge).sip?.domains === 1 ? true : undefined));
  await core3.close();
});
