// Real XMPP over real TLS: a client signs in through edge and core to the lab's IM and Presence, and two
// users see each other's presence and exchange a message end to end.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { x, NS } from '../../src/xmpp/index.js';
import { waitFor } from '../support/log-capture.js';
import type { Rig } from '../http/rig.js';
import { DOMAIN } from '../http/rig.js';
import { startXmppRig, client, edgeXmpp, coreXmpp, MDUDE, JDOE } from './helpers.js';

let rig: Rig;
before(async () => {
  rig = await startXmppRig();
});
after(async () => {
  await rig?.close();
});

test('two users sign in through the pair, see each other online and exchange a message', async () => {
  const a = client(rig, MDUDE, { resource: 'jabber-a' });
  const b = client(rig, JDOE, { resource: 'jabber-b' });
  assert.equal(await a.connect(), `mdude@${DOMAIN}/jabber-a`);
  assert.equal(await b.connect(), `jdoe@${DOMAIN}/jabber-b`);
  a.send(x('presence', {}, x('status', {}, 'at the airport')));
  b.send(x('presence'));
  // b came online after a: the service tells b about a, and a about b.
  const seenByB = await b.waitFor((el) => el.is('presence') && el.attrs.from === a.jid);
  assert.equal(seenByB.child('status')?.text, 'at the airport');
  await a.waitFor((el) => el.is('presence') && el.attrs.from === b.jid);

  a.send(x('message', { to: `jdoe@${DOMAIN}`, type: 'chat', id: 'm1' }, x('body', {}, 'boarding now <3 & more')));
  const got = await b.waitFor((el) => el.is('message'));
  assert.equal(got.attrs.from, a.jid);
  assert.equal(got.child('body')?.text, 'boarding now <3 & more');

  const st = edgeXmpp(rig);
  assert.equal(st.streams, 2);
  const listed = st.streamList.find((s) => s.jid === a.jid);
  assert.ok(
    listed && listed.remote === '127.0.0.1' && listed.stanzasIn >= 4 && listed.stanzasOut >= 4,
    JSON.stringify(st.streamList),
  );
  assert.equal(coreXmpp(rig).streams, 2);
  assert.match(coreXmpp(rig).streamList[0]!.imp, /^127\.0\.0\.1:\d+$/);
  // The same figures in Prometheus text, through the status document.
  const metrics = await (await fetch(`http://127.0.0.1:${rig.edge.ports.admin}/metrics`)).text();
  assert.match(metrics, /^mra_xmpp_streams\{role="edge"\} 2$/m);

  await a.close();
  assert.equal(a.streamError, undefined, "an ordinary end: IM&P's </stream:stream>, no stream error");
  await b.waitFor((el) => el.is('presence') && el.attrs.type === 'unavailable' && el.attrs.from === a.jid);
  await b.close();
  await waitFor('streams gone at both nodes', () => edgeXmpp(rig).streams === 0 && coreXmpp(rig).streams === 0, 5000);
  assert.deepEqual(rig.inside.imp.online(), []);
});

test("a wrong password is the IM&P service's SASL failure, passed through and counted by intrusion protection", async () => {
  const c = client(rig, { id: MDUDE.id, password: 'wrong' });
  await assert.rejects(c.connect(), /SASL failure: not-authorized/);
  c.destroy();
  await waitFor('stream gone', () => edgeXmpp(rig).streams === 0, 5000);
  assert.equal((rig.edge.status() as { intrusion: { failures: { xmpp: number } } }).intrusion.failures.xmpp, 1);
});

test('a client signs in with the OAuth access token call control issued (SASL X-OAUTH2); an expired or foreign one is refused', async () => {
  const good = client(rig, { id: MDUDE.id, password: '' }, { token: rig.inside.tokens.accessToken(MDUDE.id) });
  assert.equal(await good.connect(), `mdude@${DOMAIN}/lab`);
  await good.close();
  const expired = client(rig, { id: MDUDE.id, password: '' }, { token: rig.inside.tokens.accessToken(MDUDE.id, -60) });
  await assert.rejects(expired.connect(), /SASL failure: not-authorized/);
  expired.destroy();
  // A valid token of another user does not sign in as this one.
  const foreign = client(rig, { id: MDUDE.id, password: '' }, { token: rig.inside.tokens.accessToken(JDOE.id) });
  await assert.rejects(foreign.connect(), /SASL failure: not-authorized/);
  foreign.destroy();
});

test('a stanza to a user not online comes back as service-unavailable from IM&P', async () => {
  const a = client(rig, MDUDE);
  await a.connect();
  a.send(x('message', { to: `nobody@${DOMAIN}`, id: 'x1' }, x('body', {}, 'hello?')));
  const err = await a.waitFor((el) => el.is('message') && el.attrs.type === 'error');
  assert.ok(err.child('error')?.child('service-unavailable', NS.stanzas));
  await a.close();
});
