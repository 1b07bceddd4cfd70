import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:tls';
import { b64, basicOf, DOMAIN, MDUDE, startRig, type Rig } from './rig.js';
import { rawExchange } from './raw.js';

const ATTACKER = '127.0.0.5';
const NAT = '127.0.0.9';
let rig: Rig;
let cookie = '';
before(async () => {
  rig = await startRig({
    edgeHttp: {
      max_header_bytes: 8192,
      max_body_bytes: 65536,
      header_timeout_s: 1,
      intrusion: {
        exemptions: [`${NAT}/32`],
        http_auth: { trigger: 20, window_s: 60, block_s: 600 },
        allow_list: { trigger: 10_000 },
      },
    },
  });
  const r = await rig.get(`/${b64(DOMAIN)}/get_edge_config?service_name=_cisco-uds`, {
    authorization: basicOf(MDUDE.id, MDUDE.password),
  });
  cookie = /X-Auth=[0-9a-f-]{36}/.exec(String(r.headers['set-cookie']))![0];
});
after(async () => rig?.close());

const raw = (target: string, extra = '') =>
  `GET ${target} HTTP/1.1\r\nHost: edge.lab.example.com\r\nCookie: ${cookie}\r\n${extra}\r\n`;
const insideSaw = (needle: RegExp) => rig.inside.seen.filter((l) => needle.test(l));

test('paths outside the allow list, traversal tricks and foreign hosts or ports are refused before any inside host sees them', async () => {
  const uds = rig.route('uds');
  const cases: Array<[target: string, status: number, reason: RegExp]> = [
    [`/${uds}/ccmadmin/showHome.do`, 403, /not on the HTTP allow list/],
    [`/${uds}/cucm-uds/../ccmadmin/showHome.do`, 403, /ccmadmin\/showHome\.do is not on the HTTP allow list/],
    [`/${uds}/cucm-uds/../../ccmadmin/`, 400, /climbs above the root/],
    [`/${uds}/cucm-uds/%2e%2e/ccmadmin/`, 400, /encoded slash, dot/],
    [`/${uds}/cucm-uds%2f..%2fccmadmin/`, 400, /encoded slash, dot/],
    [`/${uds}/cucm-uds/%252e%252e/ccmadmin/`, 400, /encoded slash, dot, backslash or percent/],
    [`/${uds}/cucm-uds/..\\ccmadmin/`, 400, /backslash/],
    [`/${uds}/cucm-uds/%5c..%5cccmadmin/`, 400, /encoded slash, dot, backslash/],
    [`/${uds}/cucm-uds/user%0d%0aX-Injected:%20yes`, 400, /control characters/],
    [
      `/${b64(`${DOMAIN}/https/127.0.0.2/${rig.inside.ports.uds}`)}/cucm-uds/servers`,
      403,
      /127\.0\.0\.2.*not on the HTTP allow list/,
    ],
    [`/${b64(`${DOMAIN}/https/127.0.0.1/22`)}/cucm-uds/servers`, 403, /127\.0\.0\.1:22.*not on the HTTP allow list/],
    [`/${b64(`${DOMAIN}/http/127.0.0.1/${rig.inside.ports.uds}`)}/cucm-uds/servers`, 403, /not on the HTTP allow list/],
    [
      `/${b64(`evil.example/https/127.0.0.1/${rig.inside.ports.uds}`)}/cucm-uds/servers`,
      404,
      /domain evil\.example is not served here/,
    ],
    [`/${b64(`${DOMAIN}/https/user@127.0.0.1/${rig.inside.ports.uds}`)}/cucm-uds/servers`, 400, /not a host name/],
    [`/!!!/cucm-uds/servers`, 400, /not base64/],
  ];
  for (const [target, status, reason] of cases) {
    const r = await rawExchange(rig.httpsPort, rig.ca, raw(target));
    assert.equal(r.status, status, `${target}: ${r.text}`);
    assert.match(r.text, reason, target);
  }
  assert.deepEqual(insideSaw(/ccmadmin|Injected|servers/), [], 'no inside host saw any of them');
  assert.ok(
    rig.coreLog.lines().some((l) => l.msg === 'http request refused by the allow list'),
    'refusals are logged',
  );
  assert.ok(
    rig.edgeLog.lines().some((l) => l.msg === 'http request refused at the edge'),
    'edge-side refusals are logged',
  );
});

test('methods the rule does not allow are 403', async () => {
  const r = await rig.get(`/${rig.route('uds')}/cucm-uds/user/mdude`, { cookie }, undefined, 'DELETE');
  assert.equal(r.status, 403);
  assert.match(r.text, /method DELETE is not allowed/);
  assert.deepEqual(insideSaw(/DELETE/), []);
});

test('header injection, oversize headers and bodies, and request smuggling are refused', async () => {
  const port = rig.httpsPort;
  const uds = rig.route('uds');
  let r = await rawExchange(
    port,
    rig.ca,
    `GET /${uds}/cucm-uds/servers HTTP/1.1\r\nHost: e\r\nX-A: a\rX-Injected: yes\r\n\r\n`,
  );
  assert.equal(r.status, 400, r.text);
  r = await rawExchange(port, rig.ca, raw(`/${uds}/cucm-uds/servers`, `X-Big: ${'a'.repeat(9000)}\r\n`));
  assert.equal(r.status, 431, r.text);
  r = await rawExchange(
    port,
    rig.ca,
    `POST /${uds}/EPASSoap/service/v80 HTTP/1.1\r\nHost: e\r\nCookie: ${cookie}\r\nContent-Length: 70000\r\n\r\n`,
  );
  assert.equal(r.status, 413, r.text);
  const chunk = 'x'.repeat(16_000);
  const chunked = `POST /${uds}/EPASSoap/service/v80 HTTP/1.1\r\nHost: e\r\nCookie: ${cookie}\r\nTransfer-Encoding: chunked\r\n\r\n${`${(16_000).toString(16)}\r\n${chunk}\r\n`.repeat(5)}0\r\n\r\n`;
  r = await rawExchange(port, rig.ca, chunked);
  assert.equal(r.status, 413, r.text);
  const smuggle = `POST /${uds}/EPASSoap/service/v80 HTTP/1.1\r\nHost: e\r\nCookie: ${cookie}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /${uds}/ccmadmin/ HTTP/1.1\r\nHost: e\r\n\r\n`;
  r = await rawExchange(port, rig.ca, smuggle);
  assert.equal(r.status, 400, r.text);
  assert.ok(
    !/HTTP\/1\.1 \d{3}[\s\S]*HTTP\/1\.1 /.test(r.text),
    'one answer only: the smuggled request was never parsed',
  );
  assert.deepEqual(insideSaw(/EPASSoap|ccmadmin|Injected/), []);
});

test('slowloris: a client that never finishes its headers is cut off', async () => {
  const s = connect({
    host: '127.0.0.1',
    port: rig.httpsPort,
    ca: rig.ca,
    servername: 'edge.lab.example.com',
    ALPNProtocols: ['http/1.1'],
  });
  s.on('error', () => {}); // the edge resets the connection while the drip is still writing
  let answer = '';
  s.on('data', (d: Buffer) => (answer += d.toString('latin1')));
  await once(s, 'secureConnect');
  const t0 = Date.now();
  s.write('GET / HTTP/1.1\r\nHost: e\r\n');
  const drip = setInterval(() => !s.destroyed && s.write('X-Slow: 1\r\n', () => {}), 200);
  try {
    // The header timeout is 1 s; waiting for the close is what the test proves (bounded by the test timeout).
    await once(s, 'close');
  } finally {
    clearInterval(drip);
  }
  assert.match(answer, /^HTTP\/1\.1 408 /, 'told why before the close');
  assert.ok(Date.now() - t0 < 10_000, 'cut off near the header timeout, not when the client gives up');
});

test('1,000 failed logins: the attacker address is blocked, an exempted NAT address never is', async () => {
  const attempt = async (client: ReturnType<Rig['client']>, i: number) => {
    try {
      return (
        await rig.get(
          `/${b64(DOMAIN)}/get_edge_config?service_name=_cisco-uds`,
          { authorization: basicOf(`user${i % 50}`, 'wrong') },
          client,
        )
      ).status;
    } catch {
      return 0; // a blocked address's new connections are dropped
    }
  };
  const run = async (address: string) => {
    const client = rig.client(address);
    const statuses: number[] = [];
    for (let i = 0; i < 1000; i += 50)
      statuses.push(...(await Promise.all(Array.from({ length: 50 }, (_, k) => attempt(client, i + k)))));
    return statuses;
  };
  const checksBefore = insideSaw(/cucm-uds\/user\/user\d+/).length;
  const attacker = await run(ATTACKER);
  const blocked = attacker.filter((s) => s === 403 || s === 0).length;
  assert.ok(blocked >= 900, `most attempts refused at the edge once blocked (${blocked})`);
  const st = rig.edge.status() as { intrusion: { blocked: Array<{ address: string; category: string }> } };
  assert.deepEqual(
    st.intrusion.blocked.map((b) => [b.address, b.category]),
    [[ATTACKER, 'http_auth']],
  );
  const checksByAttacker = insideSaw(/cucm-uds\/user\/user\d+/).length - checksBefore;
  assert.ok(checksByAttacker < 100, `call control was spared the rest (${checksByAttacker} checks)`);
  assert.ok(
    rig.edgeLog.lines().some((l) => l.msg === 'intrusion protection: address blocked' && l.address === ATTACKER),
  );

  const nat = await run(NAT);
  assert.equal(nat.filter((s) => s === 403 || s === 0).length, 0, 'the NAT address is never blocked');
  assert.ok(
    nat.every((s) => s === 401 || s === 429),
    `every NAT attempt was judged by core: ${[...new Set(nat)]}`,
  );
  const ok = await rig.get(
    `/${b64(DOMAIN)}/get_edge_config?service_name=_cisco-uds`,
    { authorization: basicOf(MDUDE.id, MDUDE.password) },
    rig.client(NAT),
  );
  assert.equal(ok.status, 200, 'a good user behind the NAT still signs in');
});

test('requests with no credentials at all get the 401 challenge and are not counted; a rejected credential is', async () => {
  // Expressway's "HTTP proxy authorization failure" counts failed authentication attempts: the first request of
  // a Basic exchange carries nothing and is not one (docs/http.md "Intrusion protection").
  const client = rig.client('127.0.0.6');
  const failures = () =>
    (rig.edge.status() as { intrusion: { failures: { http_auth: number } } }).intrusion.failures.http_auth;
  const before = failures();
  for (let i = 0; i < 30; i++) {
    const r = await rig.get(`/${b64(DOMAIN)}/get_edge_config?service_name=_cisco-uds`, {}, client);
    assert.equal(r.status, 401, r.text);
    assert.match(String(r.headers['www-authenticate']), /^Basic /);
    assert.match(r.text, /authorization required/);
  }
  assert.equal(failures(), before, '30 challenges (above the trigger of 20) counted nothing');
  const st = rig.edge.status() as { intrusion: { blocked: Array<{ address: string }> } };
  assert.ok(!st.intrusion.blocked.some((b) => b.address === '127.0.0.6'), 'the address is not blocked');
  const wrong = await rig.get(
    `/${b64(DOMAIN)}/get_edge_config?service_name=_cisco-uds`,
    { authorization: basicOf(MDUDE.id, 'not-the-password') },
    client,
  );
  assert.equal(wrong.status, 401);
  assert.equal(failures(), before + 1, 'a rejected credential is one failure');
  const core = rig.core.status() as { http: { authorization: { challenged: number } } };
  assert.ok(core.http.authorization.challenged >= 30, 'core counts the challenges apart');
});
