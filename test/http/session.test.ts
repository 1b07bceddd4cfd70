import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { Authorizer } from '../../src/http/authorize.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CSV_HEADER, TokenKeys } from '../../src/http/index.js';
import { MemoryStore } from '../../src/store/index.js';
import { MDUDE, b64, basicOf, DOMAIN, startRig, type Rig } from './rig.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Core's authorizer on a real store, with a credential check that counts how often call control is asked. */
function authorizer(settings: Partial<ConstructorParameters<typeof Authorizer>[1]> = {}) {
  const store = new MemoryStore();
  const asked: string[] = [];
  const a = new Authorizer(
    store,
    {
      credentialsRefreshMs: 300,
      cleanupMs: 60_000,
      maxAuthorizationsPerPeriod: 0,
      rateControlPeriodMs: 1000,
      ...settings,
    },
    async (user, password) => {
      asked.push(user);
      return user === 'mdude' && password === MDUDE.password;
    },
    new TokenKeys(async () => '{"keys":[]}'),
  );
  return { a, store, asked, close: async () => (a.close(), await store.close()) };
}
const basic = { authorization: basicOf(MDUDE.id, MDUDE.password) };

test('credentials are cached for the refresh interval, then checked again; cleanup removes what expired', async (t) => {
  const { a, asked, close } = authorizer();
  t.after(close);
  assert.deepEqual(await a.authorize(basic, { issueSession: false }), { ok: true, user: 'mdude', via: 'basic' });
  assert.deepEqual(await a.authorize(basic, { issueSession: false }), { ok: true, user: 'mdude', via: 'cached' });
  assert.equal(asked.length, 1, 'the second request did not go to call control');
  const wrong = await a.authorize({ authorization: basicOf('mdude', 'guess') }, { issueSession: false });
  assert.equal(wrong.ok, false, 'a cached good password does not admit a different one');
  await sleep(350);
  assert.equal((await a.authorize(basic, { issueSession: false })).ok, true);
  assert.equal(asked.filter((u) => u === 'mdude').length, 3, 'after the refresh interval call control is asked again');
  assert.equal((await a.counts()).cachedCredentials, 1);
  await sleep(350);
  assert.equal(await a.cleanup(), 1, 'the expired cache entry is removed');
  assert.equal((await a.counts()).cachedCredentials, 0);
});

test('the X-Auth session names one user and expires with the refresh interval', async (t) => {
  const { a, close } = authorizer();
  t.after(close);
  const signIn = await a.authorize(basic, { issueSession: true });
  assert.ok(signIn.ok && signIn.session);
  const cookie = `other=1; X-Auth=${signIn.session}`;
  assert.deepEqual(await a.authorize({ cookie }, { issueSession: false }), { ok: true, user: 'mdude', via: 'session' });
  assert.equal(await a.sessionUser({ cookie }), 'mdude');
  await sleep(350);
  const late = await a.authorize({ cookie }, { issueSession: false });
  assert.deepEqual(late, {
    ok: false,
    status: 401,
    reason: 'X-Auth session is unknown or has expired; sign in again',
    staleSession: true,
  });
  assert.equal(await a.sessionUser({ cookie }), undefined);
  assert.equal(await a.cleanup(), 2, 'the session and the cached credential are swept');
});

test('authorization rate control: N per user per period, then 429 until the period ends', async (t) => {
  const { a, close } = authorizer({ maxAuthorizationsPerPeriod: 3, rateControlPeriodMs: 400 });
  t.after(close);
  for (let i = 0; i < 3; i++) assert.equal((await a.authorize(basic, { issueSession: true })).ok, true);
  const limited = await a.authorize(basic, { issueSession: true });
  assert.equal(limited.ok, false);
  assert.ok(!limited.ok && limited.status === 429 && /too many authorizations for mdude/.test(limited.reason));
  const other = await a.authorize({ authorization: basicOf('jdoe', 'x') }, { issueSession: true });
  assert.ok(!other.ok && other.status === 401, 'other users are counted apart');
  await sleep(450);
  assert.equal((await a.authorize(basic, { issueSession: true })).ok, true, 'a new period admits again');
});

let rig: Rig;
const csvDir = mkdtempSync(join(tmpdir(), 'mra-http-csv-'));
const csvFile = join(csvDir, 'allow.csv');
before(async () => {
  writeFileSync(csvFile, `${CSV_HEADER}\n`);
  rig = await startRig({
    coreHttp: {
      authorization: { max_authorizations_per_period: 4, rate_control_period_s: 60 },
      allow_list: { csv_file: csvFile },
    },
  });
});
after(async () => {
  await rig?.close();
  rmSync(csvDir, { recursive: true, force: true });
});

const signIn = (headers: Record<string, string>) =>
  rig.get(`/${b64(DOMAIN)}/get_edge_config?service_name=_cisco-uds&service_name=_cuplogin`, headers);
async function maintenance(node: 'edge' | 'core', on: boolean): Promise<void> {
  const r = await request(`http://127.0.0.1:${rig[node].ports.admin}/api/maintenance`, {
    method: 'POST',
    body: JSON.stringify({ on }),
  });
  assert.equal(r.statusCode, 200, await r.body.text());
}

test('maintenance mode refuses new sign-ins with 503 and keeps signed-in clients working', async () => {
  const first = await signIn({ authorization: basicOf('jdoe', 'lab-password-2') });
  assert.equal(first.status, 200, first.text);
  const cookie = /X-Auth=[0-9a-f-]{36}/.exec(String(first.headers['set-cookie']))![0];
  for (const node of ['core', 'edge'] as const) {
    await maintenance(node, true);
    try {
      const r = await signIn(basic);
      assert.equal(r.status, 503, `${node}: ${r.text}`);
      assert.match(r.text, /maintenance mode: new sign-ins are refused/);
      assert.ok(r.headers['retry-after']);
      const token = await signIn({ authorization: `Bearer ${rig.inside.tokens.accessToken('mdude')}` });
      assert.equal(token.status, 503, 'a token sign-in is a new sign-in too');
      const again = await signIn({ cookie });
      assert.equal(again.status, 200, `${node}: an existing session still gets its edge configuration`);
      const uds = await rig.get(`/${rig.route('uds')}/cucm-uds/user/jdoe`, { cookie });
      assert.equal(uds.status, 200, `${node}: an existing session keeps working: ${uds.text}`);
    } finally {
      await maintenance(node, false);
    }
  }
  assert.equal((await signIn(basic)).status, 200, 'sign-ins are accepted again');
  assert.ok(rig.coreLog.lines().some((l) => l.msg === 'sign-in refused: maintenance mode'));
});

test("a session reads its own user record, not a colleague's", async () => {
  const r = await signIn({ authorization: basicOf('jdoe', 'lab-password-2') });
  const cookie = /X-Auth=[0-9a-f-]{36}/.exec(String(r.headers['set-cookie']))![0];
  const own = await rig.get(`/${rig.route('uds')}/cucm-uds/user/jdoe/devices`, { cookie });
  assert.equal(own.status, 200, own.text);
  const before = rig.inside.seen.filter((l) => /user\/mdude/.test(l)).length;
  const other = await rig.get(`/${rig.route('uds')}/cucm-uds/user/mdude`, { cookie });
  assert.equal(other.status, 403);
  assert.match(other.text, /signed in as jdoe: the record of another user is not available/);
  assert.equal(rig.inside.seen.filter((l) => /user\/mdude/.test(l)).length, before, 'call control never saw it');
});

test("authorization rate control through the edge: the user's next sign-in in the period is 429", async () => {
  // jdoe has signed in twice above (limit 4 per 60 s): two more are admitted, the next is not.
  const headers = { authorization: basicOf('jdoe', 'lab-password-2') };
  assert.equal((await signIn(headers)).status, 200);
  assert.equal((await signIn(headers)).status, 200);
  const r = await signIn(headers);
  assert.equal(r.status, 429, r.text);
  assert.match(r.text, /too many authorizations for jdoe/);
  assert.equal((await signIn(basic)).status, 200, 'another user is not affected');
});

test('allow-list CSV: upload (the file, then the reload action) admits a path; export gives it back; a bad file is refused by line', async () => {
  const action = async (name: string) => {
    const r = await request(`http://127.0.0.1:${rig.core.ports.admin}/api/actions/${name}`, { method: 'POST' });
    return {
      status: r.statusCode,
      body: (await r.body.json()) as {
        result?: { csv?: string; rules?: number; automatic?: string[] };
        error?: string;
      },
    };
  };
  const r = await signIn(basic);
  const cookie = /X-Auth=[0-9a-f-]{36}/.exec(String(r.headers['set-cookie']))![0];
  const target = `/${rig.route('uds')}/photos/mdude.jpg`;
  assert.equal((await rig.get(target, { cookie })).status, 403, 'not on the list yet');
  const rule = `https://127.0.0.1:${rig.inside.ports.uds}/photos/`;
  writeFileSync(csvFile, `${CSV_HEADER}\n${rule},,GET,prefix,"Directory photos, lab"\n`);
  const loaded = await action('http-allow-list-reload');
  assert.equal(loaded.status, 200, JSON.stringify(loaded.body));
  assert.equal(loaded.body.result?.rules, 1);
  const now = await rig.get(target, { cookie });
  assert.equal(now.status, 404, 'forwarded: the lab has no photos, but it was asked');
  assert.ok(rig.inside.seen.some((l) => l.includes('/photos/mdude.jpg')));
  const exported = await action('http-allow-list-export');
  assert.equal(exported.body.result?.csv, `${CSV_HEADER}\n${rule},default,GET,prefix,"Directory photos, lab"\n`);
  assert.ok(
    exported.body.result?.automatic?.some((u) => u.endsWith('/cucm-uds/')),
    'automatic rules are listed, not exported as editable',
  );

  writeFileSync(csvFile, `${CSV_HEADER}\n${rule},,GET,fuzzy,\n`);
  const bad = await action('http-allow-list-reload');
  assert.equal(bad.status, 500);
  assert.match(String(bad.body.error), /allow\.csv: line 2: MatchType must be exact or prefix/);
  assert.equal((await rig.get(target, { cookie })).status, 404, 'the rules loaded before stay in force');
});
