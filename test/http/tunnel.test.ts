import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { MDUDE, b64, basicOf, DOMAIN, EDGE_NAME, startRig, type Rig } from './rig.js';
import { xmlValue } from './xml.js';
import { nameCovers } from '../../src/certs/index.js';

let rig: Rig;
let cookie = '';
before(async () => {
  rig = await startRig({ edgeHttp: { max_body_bytes: 4096 }, domainCertNames: [DOMAIN, `conf.${DOMAIN}`] });
  const r = await rig.get(`/${b64(DOMAIN)}/get_edge_config?service_name=_cisco-uds`, {
    authorization: basicOf(MDUDE.id, MDUDE.password),
  });
  cookie = /X-Auth=[0-9a-f-]{36}/.exec(String(r.headers['set-cookie']))![0];
});
after(async () => rig?.close());

test('a slow upstream does not delay other requests through the tunnel', async () => {
  const done: string[] = [];
  const slow = rig.get(`/${rig.route('uds')}/cucm-uds/servers?labDelayMs=1500`, { cookie }).then((r) => {
    done.push('slow');
    return r;
  });
  // The slow request is in the tunnel before the quick ones start.
  while (!rig.inside.seen.some((l) => l.includes('labDelayMs'))) await new Promise((r) => setTimeout(r, 10));
  const quick = await Promise.all(
    Array.from({ length: 40 }, async () => {
      const r = await rig.get(`/${rig.route('uds')}/cucm-uds/user/mdude`, { cookie });
      done.push('quick');
      return r.status;
    }),
  );
  assert.deepEqual([...new Set(quick)], [200]);
  assert.equal(done.includes('slow'), false, 'all 40 quick answers came while the slow one was still pending');
  assert.equal((await slow).status, 200);
});

test('HTTP/2 on the edge port: one connection carries the sign-in and concurrent requests, bodies included', async () => {
  const session: ClientHttp2Session = h2connect(rig.base, { ca: rig.ca, servername: EDGE_NAME });
  session.on('error', () => {});
  try {
    await once(session, 'connect');
    assert.equal((session.socket as unknown as { alpnProtocol: string }).alpnProtocol, 'h2');
    const h2get = (path: string, headers: Record<string, string> = {}, body?: string) =>
      new Promise<{ status: number; headers: Record<string, unknown>; text: string }>((resolve, reject) => {
        const s = session.request(
          { ':path': path, ':method': body === undefined ? 'GET' : 'POST', ...headers },
          { endStream: body === undefined },
        );
        let text = '';
        let head: Record<string, unknown> = {};
        s.setEncoding('utf8');
        s.on('response', (h) => (head = h));
        s.on('data', (d: string) => (text += d));
        s.on('end', () => resolve({ status: Number(head[':status']), headers: head, text }));
        s.on('error', reject);
        if (body !== undefined) s.end(body);
      });
    const cfg = await h2get(`/${b64(DOMAIN)}/get_edge_config?service_name=_cisco-uds`, {
      authorization: basicOf(MDUDE.id, MDUDE.password),
    });
    assert.equal(cfg.status, 200, cfg.text);
    const h2cookie = /X-Auth=[0-9a-f-]{36}/.exec(String(cfg.headers['set-cookie']))![0];
    const many = await Promise.all(
      Array.from({ length: 20 }, () => h2get(`/${rig.route('uds')}/cucm-uds/user/mdude`, { cookie: h2cookie })),
    );
    for (const r of many) assert.equal(xmlValue(r.text, 'user/userName'), 'mdude');
    const soap = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><login><username>mdude</username><password>${MDUDE.password}</password></login></soapenv:Body></soapenv:Envelope>`;
    const login = await h2get(
      `/${rig.route('uds')}/EPASSoap/service/v80`,
      { cookie: h2cookie, 'content-type': 'text/xml' },
      soap,
    );
    assert.equal(login.status, 200, login.text);
    const seenBefore = rig.inside.seen.filter((l) => l.includes('EPASSoap')).length;
    const big = await h2get(`/${rig.route('uds')}/EPASSoap/service/v80`, { cookie: h2cookie }, 'x'.repeat(10_000));
    assert.equal(big.status, 413, 'a body over the limit without a length is refused');
    assert.equal(rig.inside.seen.filter((l) => l.includes('EPASSoap')).length, seenBefore, 'and never reached IM&P');
  } finally {
    session.close();
  }
});

test("SNI: a client asking for the domain gets the domain certificate, any other name the edge's own", async () => {
  const peer = async (servername: string) => {
    const s = tlsConnect({
      host: '127.0.0.1',
      port: rig.httpsPort,
      ca: rig.ca,
      servername,
      checkServerIdentity: () => undefined,
    });
    s.on('error', () => {});
    await once(s, 'secureConnect');
    const c: PeerCertificate = s.getPeerCertificate();
    s.destroy();
    return c.subjectaltname ?? '';
  };
  assert.match(await peer(DOMAIN), new RegExp(`DNS:${DOMAIN.replace(/\./g, '\\.')}`));
  assert.match(await peer(`conf.${DOMAIN}`), /DNS:conf\.lab\.example\.com/);
  assert.ok(
    nameCovers('*.lab.example.com', 'conf.lab.example.com') &&
      !nameCovers('*.lab.example.com', 'a.conf.lab.example.com'),
    'a wildcard covers one label',
  );
  assert.match(await peer(EDGE_NAME), /DNS:edge\.lab\.example\.com/);
  assert.doesNotMatch(await peer('other.example.org'), /DNS:lab\.example\.com/);
});

test('the tunnel drops and comes back: clients see only answers or a retryable 502/503, never a hang', async () => {
  const statuses: number[] = [];
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const r = await rig.get(`/${rig.route('uds')}/cucm-uds/servers`, { cookie });
      statuses.push(r.status);
      if (r.status === 502 || r.status === 503) assert.equal(r.headers['retry-after'], '2', 'told when to retry');
      // A client told 401 signs in again before its next request, as Jabber does; hammering with the stale session
      // would run into rate control's limit on authorizations (429) instead.
      if (r.status === 401) {
        const stale = cookie;
        while (!stop && cookie === stale) await new Promise((w) => setTimeout(w, 5));
      }
    }
  })();
  while (statuses.length < 5) await new Promise((r) => setTimeout(r, 5));
  await rig.stopCore();
  const down = statuses.length;
  while (statuses.length < down + 5) await new Promise((r) => setTimeout(r, 5));
  await rig.restartCore();
  const up = statuses.length;
  // Sessions lived in the stopped core; signing in again is what a client does after a 401.
  const r = await rig.get(`/${b64(DOMAIN)}/get_edge_config?service_name=_cisco-uds`, {
    authorization: basicOf(MDUDE.id, MDUDE.password),
  });
  assert.equal(r.status, 200, r.text);
  cookie = /X-Auth=[0-9a-f-]{36}/.exec(String(r.headers['set-cookie']))![0];
  while (!statuses.slice(up).includes(200)) await new Promise((r) => setTimeout(r, 5));
  stop = true;
  await loop;
  const kinds = new Set(statuses);
  for (const s of kinds) assert.ok([200, 401, 502, 503].includes(s), `unexpected status ${s}: ${[...kinds]}`);
  // Until the tunnel was back: 502/503 only (401s are the stale session once it is back, before `up` was read).
  const away = statuses.slice(down + 1, up);
  const back = away.indexOf(401) < 0 ? away.length : away.indexOf(401);
  assert.ok(
    away.slice(0, back).every((s) => s === 502 || s === 503) && away.slice(back).every((s) => s === 401),
    `while core was away: ${away}`,
  );
  assert.ok(kinds.has(503), 'the tunnel-down answer was seen');
});
