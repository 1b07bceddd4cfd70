// Debian's Prosody as IM and Presence behind the pair, in place of the lab's server: core's STARTTLS to it,
// and a client's SASL, bind, messages and directed presence end to end through edge and core.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { x } from '../../src/xmpp/index.js';
import { SM } from '../../src/lab/index.js';
import { waitFor } from '../support/log-capture.js';
import type { Rig } from '../http/rig.js';
import { DOMAIN } from '../http/rig.js';
import { startXmppRig, client, edgeXmpp, coreXmpp, MDUDE, JDOE } from '../xmpp/helpers.js';
import { prosodyMissing, startProsody, type Prosody } from './prosody.js';

const missing = prosodyMissing();
let rig: Rig | undefined;
let prosody: Prosody | undefined;
before(async () => {
  if (missing) return;
  rig = await startXmppRig({
    // Short, so the resumption test proves a resumed stream is not cut off as unfinished.
    edgeXmpp: { handshake_timeout_s: 3 },
    imp: async (ca) => {
      const cert = await ca.issue({
        commonName: `imp.${DOMAIN}`,
        dnsNames: [`imp.${DOMAIN}`],
        ipAddresses: ['127.0.0.1'],
      });
      prosody = await startProsody({ address: '127.0.0.1', domain: DOMAIN, tls: cert, users: [MDUDE, JDOE] });
      return prosody.port;
    },
  });
});
after(async () => {
  await rig?.close();
  await prosody?.close();
});

test('two users sign in to Prosody through the pair (SASL PLAIN over the STARTTLS core opens), exchange a message and directed presence', async (t) => {
  if (missing) return t.skip(missing);
  const a = client(rig!, MDUDE, { resource: 'interop-a' });
  const b = client(rig!, JDOE, { resource: 'interop-b' });
  assert.equal(await a.connect(), `mdude@${DOMAIN}/interop-a`);
  assert.equal(await b.connect(), `jdoe@${DOMAIN}/interop-b`);
  b.send(x('presence'));
  a.send(x('presence', { to: b.jid }, x('show', {}, 'away')));
  const p = await b.waitFor((el) => el.is('presence') && el.attrs.from === a.jid);
  assert.equal(p.child('show')?.text, 'away');
  a.send(x('message', { to: b.jid, type: 'chat', id: 'i1' }, x('body', {}, 'hello Prosody & co')));
  const m = await b.waitFor((el) => el.is('message') && el.attrs.id === 'i1');
  assert.equal(m.attrs.from, a.jid);
  assert.equal(m.child('body')?.text, 'hello Prosody & co');
  b.send(x('iq', { type: 'get', id: 'ping1', to: DOMAIN }, x('ping', { xmlns: 'urn:xmpp:ping' })));
  assert.equal((await b.waitFor((el) => el.attrs.id === 'ping1')).attrs.type, 'result');
  const listed = edgeXmpp(rig!)
    .streamList.map((s) => s.jid)
    .sort();
  assert.deepEqual(listed, [a.jid, b.jid].sort());
  assert.equal(coreXmpp(rig!).streams, 2);
  await a.close();
  await b.close();
  await waitFor(
    'both streams closed at both nodes',
    () => edgeXmpp(rig!).streams === 0 && coreXmpp(rig!).streams === 0,
    5000,
  );
});

test("a wrong password is Prosody's SASL failure, and the edge counts it for intrusion protection", async (t) => {
  if (missing) return t.skip(missing);
  const before = (rig!.edge.status() as { intrusion: { failures: { xmpp: number } } }).intrusion.failures.xmpp;
  const c = client(rig!, { id: MDUDE.id, password: 'not-it' });
  await assert.rejects(c.connect(), /SASL failure: not-authorized/);
  c.destroy();
  assert.equal(
    (rig!.edge.status() as { intrusion: { failures: { xmpp: number } } }).intrusion.failures.xmpp,
    before + 1,
  );
});

test('a session Prosody keeps (XEP-0198) resumes through the pair after the connection drops, and stays past the handshake timeout', async (t) => {
  if (missing) return t.skip(missing);
  const a = client(rig!, MDUDE, { resource: 'mobile' });
  const jid = await a.connect();
  a.send(x('enable', { xmlns: SM, resume: 'true' }));
  const enabled = await a.waitFor((el) => el.is('enabled', SM));
  assert.equal(enabled.attrs.resume, 'true');
  // The phone loses its network: no </stream:stream>, the TCP connection just goes.
  a.destroy();
  await a.whenClosed();
  const again = client(rig!, MDUDE, { resource: 'mobile' });
  assert.equal(await again.connect({ previd: enabled.attrs.id!, h: 0, jid }), jid);
  await new Promise((r) => setTimeout(r, 3500));
  again.send(x('iq', { type: 'get', id: 'after', to: DOMAIN }, x('ping', { xmlns: 'urn:xmpp:ping' })));
  assert.equal((await again.waitFor((el) => el.attrs.id === 'after')).attrs.type, 'result');
  assert.equal(again.streamError, undefined);
  await again.close();
});
