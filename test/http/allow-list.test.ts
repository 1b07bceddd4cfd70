import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AllowList, CsvError, formatAllowCsv, parseAllowCsv, type InsideNode } from '../../src/http/index.js';

const NODES: InsideNode[] = [
  { type: 'unified_cm', address: 'cucm-pub.ucdemolab.com' },
  { type: 'tftp', address: 'cucm-pub.ucdemolab.com' },
  { type: 'im_presence', address: 'imp1.ucdemolab.com' },
  { type: 'unity_connection', address: 'cuc.ucdemolab.com', ports: { voicemail: 8444 } },
];

function list(): AllowList {
  const l = new AllowList(['GET']);
  l.setNodes(NODES);
  return l;
}

const at = (method: string, scheme: 'http' | 'https', host: string, port: number, path: string) => ({
  method,
  scheme,
  host,
  port,
  path,
});

test('automatic rules admit what Jabber fetches from each node type, and nothing beside it', () => {
  const l = list();
  assert.ok(l.check(at('GET', 'https', 'cucm-pub.ucdemolab.com', 8443, '/cucm-uds/user/mdude')).allowed);
  assert.ok(l.check(at('GET', 'http', 'cucm-pub.ucdemolab.com', 6970, '/CSFMDUDE.cnf.xml')).allowed);
  assert.ok(l.check(at('POST', 'https', 'imp1.ucdemolab.com', 8443, '/EPASSoap/service/v80')).allowed);
  assert.ok(
    l.check(at('GET', 'https', 'cuc.ucdemolab.com', 8444, '/vmrest/mailbox')).allowed,
    'node port overrides the default',
  );

  const no = (t: ReturnType<typeof at>, why: RegExp) => {
    const v = l.check(t);
    assert.equal(v.allowed, false, JSON.stringify(t));
    if (!v.allowed) assert.match(v.reason, why);
  };
  no(at('GET', 'https', 'cucm-pub.ucdemolab.com', 8443, '/ccmadmin/'), /not on the HTTP allow list/);
  no(at('DELETE', 'https', 'cucm-pub.ucdemolab.com', 8443, '/cucm-uds/user/mdude'), /method DELETE is not allowed/);
  no(at('GET', 'https', 'cucm-pub.ucdemolab.com', 8444, '/cucm-uds/user/mdude'), /not on the HTTP allow list/);
  no(at('GET', 'https', 'cucm-sub9.ucdemolab.com', 8443, '/cucm-uds/user/mdude'), /not on the HTTP allow list/);
  no(at('POST', 'https', 'imp1.ucdemolab.com', 8443, '/EPASSoap/service/v80/x'), /not on the HTTP allow list/);
  no(at('GET', 'https', 'cuc.ucdemolab.com', 8444, '/vmrest-admin'), /not on the HTTP allow list/);
});

test('editable rules: exact or prefix, default or chosen methods, removable; automatic rules are not', () => {
  const l = list();
  l.addRule({ url: 'https://photos.ucdemolab.com/pics/', match: 'prefix', description: 'Directory photo host' });
  l.addRule({ url: 'https://update.ucdemolab.com:8080/jabber/update.xml', match: 'exact', methods: ['GET', 'HEAD'] });
  assert.ok(l.check(at('GET', 'https', 'photos.ucdemolab.com', 443, '/pics/mdude.jpg')).allowed);
  assert.equal(l.check(at('POST', 'https', 'photos.ucdemolab.com', 443, '/pics/mdude.jpg')).allowed, false);
  l.setDefaultMethods(['GET', 'POST']);
  assert.ok(
    l.check(at('POST', 'https', 'photos.ucdemolab.com', 443, '/pics/mdude.jpg')).allowed,
    'changing the defaults changes rules that use them',
  );
  assert.ok(l.check(at('HEAD', 'https', 'update.ucdemolab.com', 8080, '/jabber/update.xml')).allowed);
  assert.equal(l.check(at('GET', 'https', 'update.ucdemolab.com', 8080, '/jabber/update.xml.bak')).allowed, false);
  assert.equal(
    l.removeRule('https://cucm-pub.ucdemolab.com:8443/cucm-uds/'),
    false,
    'automatic rules cannot be removed',
  );
  assert.equal(l.removeRule('https://photos.ucdemolab.com:443/pics/'), true);
  assert.equal(l.check(at('GET', 'https', 'photos.ucdemolab.com', 443, '/pics/mdude.jpg')).allowed, false);
  assert.throws(() => l.addRule({ url: 'https://user@evil.example/' }), /not an http\(s\)/);
  assert.throws(() => l.addRule({ url: 'ftp://x.example/' }), /not an http\(s\)/);
  assert.throws(() => l.addRule({ url: 'https://x.example/a/../../b' }), /climbs above the root/);
  assert.throws(() => l.addRule({ url: 'https://x.example/', methods: ['GET', 'bad method'] }), /not an HTTP method/);
});

test("CSV upload and export in the seeds' format round-trip", () => {
  const csv = [
    'Url,Deployment,HttpMethods,MatchType,Description',
    'https://photos.ucdemolab.com/pics/,,"GET,PUT",prefix,"Directory photo host"',
    'https://update.ucdemolab.com:8080/jabber/update.xml,,,exact,Update server',
    'http://prt.ucdemolab.com/upload,,POST,,"Problem report, tool"',
  ].join('\n');
  const rules = parseAllowCsv(csv);
  assert.equal(rules.length, 3);
  assert.deepEqual(rules[0]!.methods, ['GET', 'PUT']);
  assert.equal(rules[1]!.methods, 'default');
  assert.equal(rules[1]!.match, 'exact');
  assert.equal(rules[2]!.match, 'prefix', 'MatchType defaults to prefix');
  assert.equal(rules[2]!.port, 80);
  assert.equal(rules[2]!.description, 'Problem report, tool');
  const out = formatAllowCsv(rules);
  assert.deepEqual(parseAllowCsv(out), rules);
  assert.match(out, /^Url,Deployment,HttpMethods,MatchType,Description\n/);
  assert.match(out, /"GET,PUT"/);
});

test('bad CSV is refused with the line and the reason', () => {
  const bad = (body: string, why: RegExp, deployments?: string[]) =>
    assert.throws(
      () => parseAllowCsv(`Url,Deployment,HttpMethods,MatchType,Description\n${body}`, deployments),
      (e: unknown) => e instanceof CsvError && why.test(e.message),
    );
  bad('https://x.example/,,GET,fuzzy,', /line 2: MatchType must be exact or prefix/);
  bad(',,GET,prefix,', /line 2: Url is required/);
  bad('https://x.example/,,"GET,prefix,', /line 2: unterminated quoted value/);
  bad('https://x.example/,,GET', /line 2: expected 5 values/);
  bad('https://x.example/,,GET,prefix,', /Deployment is required/, ['default', 'staging']);
  bad('https://x.example/,nowhere,GET,prefix,', /unknown deployment/);
  assert.throws(() => parseAllowCsv('Url,Methods\n'), /line 1: header must be/);
});
