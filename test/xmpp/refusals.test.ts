// What the edge refuses, and that a refusal or a fault ends only the stream it concerns: unknown domain, no
// TLS, bad XML, an oversized stanza, maintenance mode, and the traversal link dropping under live streams.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { x } from '../../src/xmpp/index.js';
import { waitFor } from '../support/log-capture.js';
import type { Rig } from '../http/rig.js';
import { DOMAIN } from '../http/rig.js';
import { startXmppRig, waitForXmppReady, client, edgeXmpp, coreXmpp, setMaintenance, MDUDE, JDOE } from './helpers.js';

let rig: Rig;
before(async () => {
  rig = await startXmppRig({
    edgeXmpp: { max_stanza_chars: 4096, max_stanzas_per_s: 20, handshake_timeout_s: 3 },
    edgeHttp: { intrusion: { xmpp: { trigger: 2 } } },
  });
});
after(async () => {
  await rig?.close();
});

/** The stream error a client got before its connection closed. */
async function refusedWith(c: ReturnType<typeof client>, act: () => Promise<unknown>): Promise<string> {
  await act().catch(() => {});
  await c.whenClosed();
  return c.streamError?.condition ?? 'none';
}

const ping = (id: string) => x('iq', { type: 'get', id }, x('ping', { xmlns: 'urn:xmpp:ping' }));

test('a domain the pair does not serve for IM and Presence is refused with host-unknown', async () => {
  const c = client(rig, MDUDE, { domain: 'elsewhere.example.net' });
  assert.equal(await refusedWith(c, () => c.open()), 'host-unknown');
  assert.equal(edgeXmpp(rig).refused['host-unknown'], 1);
});

test('anything but STARTTLS on the plain stream is refused with policy-violation', async () => {
  const c = client(rig, MDUDE);
  await c.open();
  assert.equal(
    await refusedWith(c, async () =>
      c.send(x('auth', { xmlns: 'urn:ietf:params:xml:ns:xmpp-sasl', mechanism: 'PLAIN' }, 'AG1kdWRlAHg=')),
    ),
    'policy-violation',
  );
  assert.equal(edgeXmpp(rig).refused['no-tls'], 1);
});

test("bad XML ends that client's stream with not-well-formed; another user's session carries on", async () => {
  const good = client(rig, JDOE);
  await good.connect();
  const bad = client(rig, MDUDE);
  await bad.connect();
  await waitFor('both online at IM&P', () => rig.inside.imp.online().length === 2, 5000);
  assert.equal(
    await refusedWith(bad, async () => bad.sendRaw("<message to='jdoe@lab.example.com'><body>oops</bdy></message>")),
    'not-well-formed',
  );
  await waitFor('IM&P session of the bad client gone', () => rig.inside.imp.online().length === 1, 5000);
  good.send(ping('p1'));
  assert.equal((await good.waitFor((el) => el.attrs.id === 'p1')).attrs.type, 'result');
  assert.equal(edgeXmpp(rig).streams, 1);
  await good.close();
});

test('a stanza over xmpp.max_stanza_chars ends the stream with policy-violation; not a byte of it reaches IM&P', async () => {
  const c = client(rig, MDUDE);
  await c.connect();
  await waitFor('the bind answer passed', () => rig.inside.imp.online().length === 1, 5000);
  const before = rig.inside.imp.received;
  // In pieces, as a large stanza arrives: the edge holds an element back until it is whole and checked.
  const refused = refusedWith(c, async () => {
    c.sendRaw(`<message to='jdoe@${DOMAIN}'><body>`);
    for (let i = 0; i < 3 && !c.streamError; i++) {
      c.sendRaw('x'.repeat(2000));
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  assert.equal(await refused, 'policy-violation');
  assert.equal(rig.inside.imp.received, before);
});

test('more than xmpp.max_stanzas_per_s stanzas in a second end the stream with policy-violation', async () => {
  const c = client(rig, MDUDE);
  await c.connect();
  assert.equal(
    await refusedWith(c, async () =>
      c.sendRaw(Array.from({ length: 25 }, (_, i) => ping(`r${i}`).toString()).join('')),
    ),
    'policy-violation',
  );
  assert.equal(edgeXmpp(rig).refused.rate, 1);
});

test('a client that does not get to a bound resource within xmpp.handshake_timeout_s is closed with connection-timeout', async () => {
  const c = client(rig, MDUDE);
  const t0 = Date.now();
  assert.equal(await refusedWith(c, async () => c.open()), 'connection-timeout');
  assert.ok(Date.now() - t0 >= 2500, 'not before the timeout');
  assert.equal(edgeXmpp(rig).refused['handshake-timeout'], 1);
});

test('repeated SASL failures from one address block it (intrusion protection, category xmpp); other addresses go on', async () => {
  const from = { localAddress: '127.0.0.9' };
  const first = client(rig, { id: MDUDE.id, password: 'guess-1' }, from);
  await assert.rejects(first.connect(), /SASL failure/);
  first.destroy();
  // The failure that reaches the trigger ends its stream as well.
  const second = client(rig, { id: MDUDE.id, password: 'guess-2' }, from);
  assert.equal(await refusedWith(second, () => second.connect()), 'policy-violation');
  const intrusion = (rig.edge.status() as { intrusion: { blocked: Array<{ address: string; category: string }> } })
    .intrusion;
  assert.deepEqual(
    intrusion.blocked.map((b) => [b.address, b.category]),
    [['127.0.0.9', 'xmpp']],
  );
  // New connections from it are dropped before a byte is read, even with the right password.
  const third = client(rig, MDUDE, from);
  await assert.rejects(third.connect());
  assert.equal(third.streamError, undefined, 'dropped, not answered');
  assert.equal(edgeXmpp(rig).refused.blocked, 2);
  const other = client(rig, MDUDE);
  await other.connect();
  await other.close();
});

for (const where of ['edge', 'core'] as const) {
  const when = where === 'edge' ? 'at its first header' : 'after STARTTLS, core answering the tunnel stream 503';
  test(`maintenance mode on ${where} refuses a new stream with system-shutdown (${when}), keeps the existing one and drains on it`, async () => {
    const node = rig[where];
    const drain = () => (node.status() as { drain: { active: Record<string, number>; drained: boolean } }).drain;
    const old = client(rig, JDOE);
    await old.connect();
    await setMaintenance(node, true);
    try {
      const fresh = client(rig, MDUDE);
      assert.equal(await refusedWith(fresh, () => fresh.connect()), 'system-shutdown');
      assert.equal((where === 'edge' ? edgeXmpp(rig) : coreXmpp(rig)).refused.maintenance, 1);
      old.send(ping(`m-${where}`));
      assert.equal((await old.waitFor((el) => el.attrs.id === `m-${where}`)).attrs.type, 'result');
      assert.equal(drain().active['xmpp.streams'], 1, 'drain waits for the stream still up');
      await old.close();
      await waitFor('drained', () => drain().drained, 5000);
    } finally {
      await setMaintenance(node, false);
    }
  });
}

test('the traversal link dropping closes each live stream with remote-connection-failed; after it is back, sign-in works', async () => {
  const a = client(rig, MDUDE);
  const b = client(rig, JDOE);
  await a.connect();
  await b.connect();
  await waitFor('core relays both', () => coreXmpp(rig).streams === 2, 5000);
  await rig.stopCore();
  await Promise.all([a.whenClosed(), b.whenClosed()]);
  assert.equal(a.streamError?.condition, 'remote-connection-failed');
  assert.equal(b.streamError?.condition, 'remote-connection-failed');
  await waitFor('no stream left at the edge', () => edgeXmpp(rig).streams === 0, 5000);
  assert.equal(edgeXmpp(rig).refused['link-lost'], 2);
  // While core is away a new client hears why, at once.
  const c = client(rig, MDUDE);
  await c.open().catch(() => {});
  await c.startTls().catch(() => {});
  await c.whenClosed();
  assert.equal(c.streamError?.condition, 'remote-connection-failed');
  await rig.restartCore();
  await waitForXmppReady(rig);
  const d = client(rig, MDUDE);
  await d.connect();
  await d.close();
});

test('no IM&P node answering: core answers the tunnel stream 502 and the client hears remote-connection-failed', async () => {
  await rig.inside.imp.close();
  const c = client(rig, MDUDE);
  assert.equal(await refusedWith(c, () => c.connect()), 'remote-connection-failed');
  assert.equal(edgeXmpp(rig).refused['inside-unreachable'], 1);
  assert.equal(coreXmpp(rig).refused['imp-unreachable'], 1);
});
