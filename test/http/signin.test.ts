import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MDUDE, b64, basicOf, DOMAIN, EDGE_NAME, startRig, type Rig } from './rig.js';
import { xmlValue, xmlValues } from './xml.js';

let rig: Rig;
before(async () => {
  rig = await startRig();
});
after(async () => rig?.close());

/** Jabber's sequence after get_edge_config (seed 002 §1.3), each answer checked where it matters. */
async function signInSequence(headers: Record<string, string>): Promise<void> {
  const uds = rig.route('uds');
  let r = await rig.get(`/${uds}/cucm-uds/clusterUser?username=mdude`, headers);
  assert.equal(r.status, 200, r.text);
  assert.equal(xmlValue(r.text, 'getUserResult/user/homeCluster'), '127.0.0.1');

  r = await rig.get(`/${uds}/cucm-uds/servers`, headers);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(xmlValues(r.text, 'servers/server'), ['127.0.0.1']);

  r = await rig.get(`/${rig.route('uds', { padded: true })}/cucm-uds/user/mdude`, headers);
  assert.equal(r.status, 200, r.text);
  assert.equal(xmlValue(r.text, 'user/userName'), 'mdude');
  assert.equal(xmlValue(r.text, 'user/firstName'), 'Mobile');
  assert.equal(xmlValue(r.text, 'user/lastName'), 'Dude');
  assert.equal(xmlValue(r.text, 'user/phoneNumber'), '+15551001');
  assert.equal(xmlValue(r.text, 'user/email'), 'mdude@lab.example.com');

  r = await rig.get(`/${rig.route('uds', { urlSafe: true })}/cucm-uds/user/mdude/devices`, headers);
  assert.equal(r.status, 200, r.text);
  assert.equal(xmlValue(r.text, 'devices/device/name'), 'CSFMDUDE');
  assert.equal(xmlValue(r.text, 'devices/device/model'), 'Cisco Unified Client Services Framework');

  const tftp = rig.route('tftp');
  r = await rig.get(`/${tftp}/CSFMDUDE.cnf.xml`, headers);
  assert.equal(r.status, 200, r.text);
  assert.equal(xmlValue(r.text, 'device/name'), 'CSFMDUDE');
  assert.equal(xmlValue(r.text, 'device/sipProfile/sipLines/line/authName'), 'mdude');
  r = await rig.get(`/${tftp}/global-settings.xml`, headers);
  assert.equal(xmlValue(r.text, 'globalSettings/domain'), DOMAIN);
  r = await rig.get(`/${tftp}/jabber-config.xml`, headers);
  assert.equal(r.status, 200, r.text);
  assert.equal(xmlValue(r.text, 'config/Policies/EnableTelephony'), 'true');

  const soap = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><login><username>mdude</username><password>${MDUDE.password}</password></login></soapenv:Body></soapenv:Envelope>`;
  r = await rig.get(
    `/${uds}/EPASSoap/service/v80`,
    { ...headers, 'content-type': 'text/xml' },
    undefined,
    'POST',
    soap,
  );
  assert.equal(r.status, 200, r.text);
  assert.equal(xmlValue(r.text, 'soapenv:Envelope/soapenv:Body/loginResponse/success/userid'), 'mdude');
  assert.ok(xmlValue(r.text, 'soapenv:Envelope/soapenv:Body/loginResponse/success/sessionkey').length > 8);

  r = await rig.get(`/${rig.route('voicemail')}/vmrest/mailbox`, {
    ...headers,
    authorization: basicOf(MDUDE.id, MDUDE.password),
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(xmlValue(r.text, 'Mailbox/Alias'), 'mdude');
}

function checkEdgeConfig(xml: string): void {
  const root = 'getEdgeConfigResponse';
  for (const kind of ['sipEdgeServer', 'xmppEdgeServer', 'httpEdgeServer']) {
    assert.deepEqual(xmlValues(xml, `${root}/edgeConfig/${kind}/server/address`), [EDGE_NAME], kind);
  }
  assert.deepEqual(xmlValues(xml, `${root}/edgeConfig/httpEdgeServer/server/tlsPort`), [String(rig.edge.ports.https)]);
  assert.equal(xmlValues(xml, `${root}/edgeConfig/sipRequest/route`).length, 1, 'one route string per core node');
  assert.match(
    xmlValue(xml, `${root}/edgeConfig/sipRequest/route`),
    /^&lt;sip:core1@edge\.lab\.example\.com:\d+;transport=tls;lr&gt;$/,
  );
  assert.deepEqual(xmlValues(xml, `${root}/serviceConfig/service/name`), ['_cisco-uds', '_cuplogin']);
  assert.deepEqual(xmlValues(xml, `${root}/serviceConfig/service/server/port`), [
    String(rig.inside.ports.uds),
    String(rig.inside.ports.uds),
  ]);
  assert.equal(xmlValue(xml, `${root}/userUdsServer/server/address`), '127.0.0.1');
  assert.equal(xmlValue(xml, `${root}/userUdsServer/server/tlsPort`), String(rig.inside.ports.uds));
}

test('sign-in with Basic credentials: edge config, X-Auth session, then UDS, TFTP files, EPASSoap and voicemail', async () => {
  const r = await rig.get(`/${b64(DOMAIN)}/get_edge_config?service_name=_cisco-uds&service_name=_cuplogin`, {
    authorization: basicOf(MDUDE.id, MDUDE.password),
  });
  assert.equal(r.status, 200, r.text);
  checkEdgeConfig(r.text);
  const setCookie = String(r.headers['set-cookie']);
  const m = /^X-Auth=([0-9a-f-]{36});/.exec(setCookie);
  assert.ok(m, `X-Auth cookie set: ${setCookie}`);
  assert.match(setCookie, /Secure/);
  assert.match(setCookie, /HttpOnly/);
  await signInSequence({ cookie: `X-Auth=${m[1]}` });
});

test('padded and url-safe routing segments name the same domain', async () => {
  for (const seg of [b64(DOMAIN, true), b64(DOMAIN)]) {
    const r = await rig.get(`/${seg}/get_edge_config?service_name=_cisco-uds`, {
      authorization: basicOf(MDUDE.id, MDUDE.password),
    });
    assert.equal(r.status, 200, `${seg}: ${r.text}`);
  }
});

test('sign-in with an OAuth token: the token authorizes every request, a forged or expired one is 401', async () => {
  const token = rig.inside.tokens.accessToken('mdude');
  const r = await rig.get(`/${b64(DOMAIN)}/get_edge_config?service_name=_cisco-uds`, {
    authorization: `Bearer ${token}`,
  });
  assert.equal(r.status, 200, r.text);
  checkEdgeConfig(r.text);
  await signInSequence({ authorization: `Bearer ${token}` });

  // Expired two minutes ago: beyond the 30 s of clock skew core allows (http.authorization.token_clock_skew_s).
  const expired = rig.inside.tokens.accessToken('mdude', -120);
  const e = await rig.get(`/${rig.route('uds')}/cucm-uds/servers`, { authorization: `Bearer ${expired}` });
  assert.equal(e.status, 401);
  assert.match(e.text, /expired/);
  const [h, , s] = token.split('.');
  const forged = `${h}.${Buffer.from(JSON.stringify({ sub: 'jdoe', exp: Date.now() / 1000 + 3600 })).toString('base64url')}.${s}`;
  const f = await rig.get(`/${rig.route('uds')}/cucm-uds/servers`, { authorization: `Bearer ${forged}` });
  assert.equal(f.status, 401);
  assert.match(f.text, /signature/);
});

test('a token got through the edge from call control (password grant) and refreshed works', async () => {
  const form = (o: Record<string, string>) => new URLSearchParams(o).toString();
  const path = `/${rig.route('uds')}/ssosp/oauth/token`;
  // The token endpoint itself needs an authorized caller: Basic here, as a client would during sign-in.
  const auth = {
    authorization: basicOf(MDUDE.id, MDUDE.password),
    'content-type': 'application/x-www-form-urlencoded',
  };
  const r = await rig.get(
    path,
    auth,
    undefined,
    'POST',
    form({ grant_type: 'password', username: 'mdude', password: MDUDE.password }),
  );
  assert.equal(r.status, 200, r.text);
  const t = JSON.parse(r.text) as { access_token: string; refresh_token: string };
  const again = await rig.get(
    path,
    auth,
    undefined,
    'POST',
    form({ grant_type: 'refresh_token', refresh_token: t.refresh_token }),
  );
  assert.equal(again.status, 200, again.text);
  const fresh = (JSON.parse(again.text) as { access_token: string }).access_token;
  const u = await rig.get(`/${rig.route('uds')}/cucm-uds/user/mdude`, { authorization: `Bearer ${fresh}` });
  assert.equal(u.status, 200, u.text);
});

test('wrong password is 401, and the edge never sees a session for it', async () => {
  const r = await rig.get(`/${b64(DOMAIN)}/get_edge_config?service_name=_cisco-uds`, {
    authorization: basicOf('mdude', 'wrong'),
  });
  assert.equal(r.status, 401);
  assert.equal(r.headers['set-cookie'], undefined);
  const s = await rig.get(`/${rig.route('uds')}/cucm-uds/servers`, {
    cookie: 'X-Auth=00000000-0000-4000-8000-000000000000',
  });
  assert.equal(s.status, 401);
  assert.match(s.text, /X-Auth session is unknown/);
});

test('get_edge_sso answers from the settings', async () => {
  const r = await rig.get(`/${b64(DOMAIN)}/get_edge_sso`);
  assert.equal(r.status, 200);
  assert.equal(xmlValue(r.text, 'getEdgeSsoResponse/sso'), 'false');
});
