// Edits and proxy helpers: untouched fields keep their exact bytes (folding, odd spacing, compact names),
// edited ones are re-serialized, and the result parses back to what was intended.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  SipError,
  type SipRequest,
  type SipResponse,
  addPath,
  addRecordRoute,
  addVia,
  createResponse,
  decrementMaxForwards,
  generateBranch,
  parseMessage,
  parseUri,
  removeTopVia,
  tagOf,
  unescapeUri,
  type SipUri,
} from '../../src/sip/message/index.js';
import { torture } from './fixtures.js';

function lines(b: Buffer): string[] {
  return b.toString('latin1').split('\r\n');
}

test('a proxy hop (Via, Path, Record-Route, Max-Forwards) rewrites only what it touches', () => {
  const original = torture('wsinv');
  const m = parseMessage(original) as SipRequest;
  addVia(m, {
    protocolName: 'SIP',
    protocolVersion: '2.0',
    transport: 'TLS',
    host: 'edge.example.com',
    port: 5061,
    params: [{ name: 'branch', value: 'z9hG4bKedge1' }],
  });
  addPath(m, parseUri('sip:edge.example.com:5061;transport=tls') as SipUri, [{ name: 'ob', value: null }]);
  addRecordRoute(m, parseUri('sip:edge.example.com') as SipUri);
  assert.equal(decrementMaxForwards(m), 67);
  const out = m.serialize();
  const again = parseMessage(out) as SipRequest;
  assert.equal(again.vias().length, 4);
  assert.equal(again.topVia().host, 'edge.example.com');
  const path = again.paths()[0]!;
  assert.deepEqual(
    (path.uri as SipUri).params.map((p) => p.name),
    ['transport', 'lr'],
  );
  assert.deepEqual(path.params, [{ name: 'ob', value: null }]);
  assert.equal(again.recordRoutes().length, 1);
  assert.equal(again.maxForwards(), 67);
  assert.deepEqual(again.body, m.body);
  // Folded, oddly spaced fields nobody touched are still there byte for byte.
  const text = out.toString('latin1');
  for (const raw of [
    'TO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n',
    'NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n',
    'v:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n',
  ]) {
    assert.ok(text.includes(raw), raw);
  }
  assert.ok(!text.includes('MaX-fOrWaRdS: 0068'));
  assert.equal(lines(out)[0], lines(original)[0]);
});

test('removeTopVia takes the first value of a comma list and leaves the rest in place', () => {
  const m = parseMessage(torture('wsinv')) as SipRequest;
  // Put a two-value Via on top: the removal must split it, not drop both.
  m.addHeader('via', 'SIP/2.0/TCP a.example.com;branch=z9hG4bKa, SIP/2.0/TCP b.example.com;branch=z9hG4bKb', 'top');
  const removed = removeTopVia(m);
  assert.equal(removed?.host, 'a.example.com');
  assert.deepEqual(
    m.vias().map((v) => v.host),
    ['b.example.com', '192.0.2.2', 'spindle.example.com', '192.168.255.111'],
  );
  assert.equal(parseMessage(m.serialize()).vias().length, 4);
});

test('Max-Forwards 0 is 483; absent it is set to 70 (RFC 3261 §16.6 step 3)', () => {
  const zero = parseMessage(torture('zeromf')) as SipRequest;
  assert.throws(
    () => decrementMaxForwards(zero),
    (e: unknown) => e instanceof SipError && e.status === 483 && e.reason === 'Too Many Hops',
  );
  const none = parseMessage(torture('inv2543')) as SipRequest;
  assert.equal(decrementMaxForwards(none), 70);
  assert.equal(none.header('max-forwards'), '70');
});

test('createResponse copies Via/From/To/Call-ID/CSeq, adds a To tag above 100, and parses back', () => {
  const req = parseMessage(torture('transports')) as SipRequest;
  const res = createResponse(req, 200, { toTag: 'abc' });
  const back = parseMessage(res.serialize()) as SipResponse;
  assert.equal(back.status, 200);
  assert.equal(back.reason, 'OK');
  assert.deepEqual(back.vias(), req.vias());
  assert.deepEqual(back.from(), req.from());
  assert.equal(tagOf(back.to()), 'abc');
  assert.equal(back.callId(), req.callId());
  assert.deepEqual(back.cseq(), req.cseq());
  assert.equal(back.contentLength(), 0);
  assert.equal(tagOf(createResponse(req, 100).to()), null);
  assert.match(tagOf(createResponse(req, 486).to())!, /^[0-9a-f]{12}$/);
  // A To that already has a tag (a request inside a dialog) keeps it.
  req.setHeader('to', '<sip:user@example.com>;tag=dialog1');
  assert.equal(tagOf(createResponse(req, 200).to()), 'dialog1');
});

test('setting a body updates Content-Length; a new request line replaces only the start line', () => {
  const m = parseMessage(torture('esc02')) as SipRequest;
  m.body = Buffer.from('hello');
  m.uri = parseUri('sip:other@example.org') as SipUri;
  const back = parseMessage(m.serialize(), { stream: true }) as SipRequest;
  assert.equal(back.uriText, 'sip:other@example.org');
  assert.equal(back.contentLength(), 5);
  assert.equal(back.body.toString(), 'hello');
  assert.equal(back.header('C%6Fntact'), '<sip:alias2@host2.example.com>');
});

test('generated branches carry the magic cookie and are unique', () => {
  const seen = new Set(Array.from({ length: 1000 }, () => generateBranch()));
  assert.equal(seen.size, 1000);
  for (const b of seen) assert.match(b, /^z9hG4bK[0-9a-f]{16}$/);
});

test('IPv6 references (RFC 5118): in URIs with and without a port, in Via sent-by and in received', () => {
  const data = Buffer.from(
    [
      'REGISTER sip:[2001:db8::10]:5070;transport=tcp SIP/2.0',
      'Via: SIP/2.0/TCP [2001:db8::9:1]:5061;branch=z9hG4bKas3-111;received=2001:db8::9:255',
      'Max-Forwards: 70',
      'From: "Caller" <sip:caller@[2001:db8::1]>;tag=1',
      'To: <sip:user@[2001:db8::10:5070]>',
      'Contact: <sip:user@[::ffff:192.0.2.1]:5060>',
      'Call-ID: v6.1',
      'CSeq: 1 REGISTER',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
  const m = parseMessage(data) as SipRequest;
  m.validate();
  const ruri = m.uri as SipUri;
  assert.deepEqual([ruri.host, ruri.port], ['[2001:db8::10]', 5070]);
  assert.deepEqual([m.topVia().host, m.topVia().port], ['[2001:db8::9:1]', 5061]);
  assert.equal(m.topVia().params[1]!.value, '2001:db8::9:255');
  // Without a port after the bracket, the last group belongs to the address.
  assert.deepEqual([(m.to().uri as SipUri).host, (m.to().uri as SipUri).port], ['[2001:db8::10:5070]', null]);
  const contact = m.contacts();
  assert.ok(contact !== '*' && (contact[0]!.uri as SipUri).port === 5060);
  assert.throws(() => parseMessage(Buffer.from(data.toString().replace('[2001:db8::10]:5070', '[2001:db8::10:5070'))), {
    status: 400,
  });
});

test('escapes decode to bytes, so multi-octet UTF-8 survives', () => {
  assert.equal(unescapeUri('caf%C3%A9%20%F0%9F%93%9E'), 'café 📞');
  assert.equal(unescapeUri('100%'), '100%');
});
