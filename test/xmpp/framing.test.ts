// The XMPP stream reader on its own: whole elements however the bytes are cut, restarts exactly after the
// element that asks for one, and each kind of bad input refused with the stream error RFC 6120 names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { XmppFramer, XmppFramingError } from '../../src/xmpp/index.js';
import { ElementGate } from '../../src/xmpp/element-gate.js';

const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>`;
const SESSION =
  `${HEADER}<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHB3</auth>  ` +
  `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>${HEADER}` +
  `<message to='b@example.com' type='chat'><body>héllo 😀 &amp; &lt;b&gt; ]]&gt;</body></message>\n</stream:stream>`;

function read(chunks: Buffer[], max?: number) {
  const events: string[] = [];
  const f: XmppFramer = new XmppFramer(
    {
      streamStart: (a, ns) => events.push(`start ${a.to} ${ns}`),
      element: (el) => {
        events.push(`${el.ns} ${el.toString()}`);
        if (el.is('success')) f.restart();
      },
      streamEnd: () => events.push('end'),
    },
    max,
  );
  let text = '';
  const gate = new ElementGate();
  const released: string[] = [];
  for (const c of chunks) {
    const t = f.write(c);
    text += t;
    const out = gate.take(t, f.completed);
    if (out) released.push(out);
  }
  return { events, text, f, released };
}

test('a session read in one piece: header, elements with their namespaces, a restart after success, the end', () => {
  const { events, text, f } = read([Buffer.from(SESSION)]);
  assert.deepEqual(events, [
    'start example.com jabber:client',
    'urn:ietf:params:xml:ns:xmpp-sasl <auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">AGFsaWNlAHB3</auth>',
    'urn:ietf:params:xml:ns:xmpp-sasl <success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>',
    'start example.com jabber:client',
    'jabber:client <message to="b@example.com" type="chat"><body>héllo 😀 &amp; &lt;b&gt; ]]&gt;</body></message>',
    'end',
  ]);
  assert.equal(text, SESSION);
  assert.equal(f.completed, SESSION.length, 'everything complete, counted in characters across the restart');
  assert.ok(f.ended);
});

test('the same events however the bytes are cut (inside tags, entities, multi-byte characters)', () => {
  const bytes = Buffer.from(SESSION);
  const whole = read([bytes]).events;
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 30 }), (cuts) => {
      const at = [0, ...cuts.sort((a, b) => a - b), bytes.length];
      const chunks = at.slice(1).map((end, i) => bytes.subarray(at[i], end));
      const r = read(chunks);
      assert.deepEqual(r.events, whole);
      assert.equal(r.text, SESSION);
      // The gate releases whole elements and whitespace only: together, exactly what came.
      assert.equal(r.released.join(''), SESSION);
      for (const piece of r.released)
        assert.match(piece, /(>|^)\s*$/, `released mid-element: ${JSON.stringify(piece)}`);
    }),
    { numRuns: 300 },
  );
});

const refusal = (input: string, max?: number): XmppFramingError => {
  try {
    read([Buffer.from(input)], max);
  } catch (err) {
    assert.ok(err instanceof XmppFramingError, String(err));
    return err;
  }
  assert.fail(`accepted: ${input}`);
};

test('bad input is refused with the condition RFC 6120 names, and stays refused', () => {
  assert.equal(refusal(`${HEADER}<message><body>x</bdy></message>`).condition, 'not-well-formed');
  assert.equal(refusal(`${HEADER}<message><body>&nbsp;</body></message>`).condition, 'not-well-formed');
  assert.equal(refusal(`${HEADER}<x:message/>`).condition, 'not-well-formed', 'an unbound prefix');
  assert.equal(refusal(`${HEADER}<!-- note -->`).condition, 'restricted-xml');
  assert.equal(refusal(`${HEADER}<?pi data?>`).condition, 'restricted-xml');
  assert.equal(refusal(`<!DOCTYPE x [<!ENTITY a "b">]>${HEADER}`).condition, 'restricted-xml');
  assert.equal(refusal(`<message/>`).condition, 'bad-format');
  assert.equal(refusal(`<stream:stream xmlns:stream='urn:other'>`).condition, 'invalid-namespace');
  assert.equal(refusal(`${HEADER}free text<presence/>`).condition, 'bad-format');
  assert.equal(
    refusal(`${HEADER}<message><body>${'x'.repeat(2000)}</body></message>`, 1024).condition,
    'policy-violation',
  );
  assert.equal(
    refusal(`${HEADER}<message><body>${'x'.repeat(2000)}`, 1024).condition,
    'policy-violation',
    'an element never closed is cut off at the limit too',
  );
  const { f } = read([Buffer.from(HEADER)]);
  assert.throws(() => f.write(Buffer.from('<a></b>')), XmppFramingError);
  assert.throws(() => f.write(Buffer.from('<a/>')), XmppFramingError, 'a failed reader keeps failing');
});

test('whitespace keepalives between stanzas are fine and small stanzas under the limit pass', () => {
  const many = `${HEADER}${' \n'.repeat(50)}${'<presence/> '.repeat(200)}`;
  const { events } = read([Buffer.from(many)], 1024);
  assert.equal(events.length, 201);
});
