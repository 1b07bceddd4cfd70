// RFC 4475 §3.1.1 (valid messages) and the syntactically valid ones of §3.2–§3.4: each parses, the
// fields the RFC calls out have the right values, and an untouched message serializes byte-for-byte.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  SipRequest,
  SipResponse,
  SipStreamFramer,
  decrementMaxForwards,
  getParam,
  parseMessage,
  tagOf,
  unescapeUri,
  type NameAddr,
  type SipMessage,
  type SipUri,
  type Uri,
} from '../../src/sip/message/index.js';
import { torture } from './fixtures.js';

function load(name: string): SipMessage {
  const msg = parseMessage(torture(name));
  msg.validate();
  return msg;
}

function req(name: string): SipRequest {
  const m = load(name);
  assert.ok(m instanceof SipRequest);
  return m;
}

function sip(u: Uri): SipUri {
  assert.equal(u.kind, 'sip');
  return u as SipUri;
}

function contacts(m: SipMessage): NameAddr[] {
  const c = m.contacts();
  assert.notEqual(c, '*');
  return c as NameAddr[];
}

test('3.1.1.1 wsinv: folding, compact forms, odd whitespace, escapes in quotes', () => {
  const m = req('wsinv');
  assert.equal(m.method, 'INVITE');
  assert.deepEqual(sip(m.uri).params, [{ name: 'unknownparam', value: null }]);
  assert.equal(tagOf(m.to()), '1918181833n');
  assert.equal(m.from().displayName, 'J Rosenberg \\"');
  assert.equal(tagOf(m.from()), '98asjd8');
  assert.equal(m.maxForwards(), 68);
  assert.deepEqual(m.cseq(), { seq: 9, method: 'INVITE' });
  assert.deepEqual(
    m.vias().map((v) => [v.transport, v.host, getParam(v.params, 'branch')]),
    [
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ],
  );
  assert.equal(m.header('subject'), '');
  assert.equal(m.header('NewFangledHeader'), 'newfangled value continued newfangled value');
  assert.equal(m.header('UnknownHeaderWithUnusualValue'), ';;,,;;,;');
  const [c] = contacts(m);
  assert.equal(c!.displayName, 'Quoted string ""');
  assert.equal(getParam(c!.params, 'newparam'), 'newvalue');
  assert.equal(getParam(c!.params, 'secondparam'), null);
  assert.equal(getParam(c!.params, 'q'), '0.33');
  assert.equal(sip(m.routes()[0]!.uri).host, 'services.example.com');
  assert.equal(m.body.length, 150);
  const data = torture('wsinv');
  // Nothing was edited, so the received buffer itself goes back out: no copy, byte-for-byte.
  assert.equal(parseMessage(data).serialize(), data);
});

test('3.1.1.2 intmeth: the whole token and word alphabets, NUL in a quoted string, UTF-8 values', () => {
  const m = req('intmeth');
  assert.equal(m.method, "!interesting-Method0123456789_*+`.%indeed'~");
  const u = sip(m.uri);
  assert.equal(u.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
  assert.equal(u.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
  assert.equal(getParam(m.topVia().params, 'branch'), "z9hG4bK-.!%66*_+`'~");
  assert.equal(m.to().displayName, 'BEL:\x07 NUL:\x00 DEL:\x7f');
  assert.equal(m.from().displayName, "token1~` token2'+_ token3*%!.-");
  assert.equal(getParam(m.from().params, "fromParam''~+*_!.-%"), 'работающий');
  assert.equal(tagOf(m.from()), "_token~1'+`*%!-.");
  assert.equal(m.callId(), 'intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
  assert.equal(m.cseq().seq, 139122385);
  assert.equal(m.maxForwards(), 255);
  assert.equal(m.header("extensionHeader-!.%*+_`'~"), '\ufeff大停電');
});

test('3.1.1.3 esc01 and 3.1.1.4 escnull: escapes kept as written, decoded on request', () => {
  const m = req('esc01');
  assert.equal(unescapeUri(sip(m.uri).user!), 'sips:user@example.com');
  assert.equal(unescapeUri(sip(m.to().uri).user!), 'user');
  assert.equal(unescapeUri(sip(m.from().uri).user!), 'I have spaces');
  const cu = sip(contacts(m)[0]!.uri);
  assert.equal(unescapeUri(cu.user!), 'caller');
  // Unescaping is never recursive: v%61lue%25%34%31 is "value%41", not "valueA".
  assert.equal(unescapeUri(cu.params[1]!.value!), 'value%41');
  assert.equal(m.header('c'), 'application/sdp');

  const n = req('escnull');
  assert.equal(unescapeUri(sip(n.to().uri).user!), 'null-\x00-null');
  assert.deepEqual(
    contacts(n).map((c) => unescapeUri(sip(c.uri).user!)),
    ['\x00', '\x00\x00'],
  );
});

test('3.1.1.5 esc02: % is not an escape in a method, a display name or a header name', () => {
  const m = req('esc02');
  assert.equal(m.method, 'RE%47IST%45R');
  assert.equal(m.to().displayName, '%Z%45');
  assert.equal(contacts(m).length, 2);
  assert.equal(m.header('C%6Fntact'), '<sip:alias2@host2.example.com>');
});

test('3.1.1.6 lwsdisp, 3.1.1.9 semiuri, 3.1.1.10 transports', () => {
  assert.equal(req('lwsdisp').from().displayName, 'caller');
  const s = req('semiuri');
  assert.equal(unescapeUri(sip(s.uri).user!), 'user;par=u@example.net');
  assert.deepEqual(sip(s.uri).params, []);
  assert.equal(s.headerList('accept').length, 6);
  assert.deepEqual(
    req('transports')
      .vias()
      .map((v) => v.transport),
    ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP'],
  );
});

test('3.1.1.7 longreq: 34 Via values across every spelling of the name, long values intact', () => {
  const m = req('longreq');
  const vias = m.vias();
  assert.equal(vias.length, 34);
  assert.equal(vias[0]!.host, 'sip33.example.com');
  assert.equal(vias[33]!.host, 'host.example.com');
  assert.equal(getParam(vias[33]!.params, 'received'), '192.0.2.5');
  assert.equal(sip(m.to().uri).port, 6000);
  assert.equal(sip(m.to().uri).params.length, 3);
  assert.equal(tagOf(m.from())!.length, 155);
  assert.equal(m.body.length, 150);
});

test('3.1.1.8 dblreq: bytes after Content-Length on a datagram are dropped, on a stream they are the next message', () => {
  const data = torture('dblreq');
  const m = parseMessage(data);
  assert.equal(m instanceof SipRequest && m.method, 'REGISTER');
  assert.equal(m.body.length, 0);
  const out = m.serialize().toString('latin1');
  assert.ok(out.endsWith('Content-Length: 0\r\n\r\n') && !out.includes('INVITE'));
  const events = new SipStreamFramer().push(data);
  assert.equal(events[0]!.kind, 'message');
});

test('3.1.1.11 mpart01: a binary body with NULs is framed by Content-Length, untouched', () => {
  const data = torture('mpart01');
  const m = req('mpart01');
  assert.equal(m.body.length, 553);
  assert.ok(m.body.includes(Buffer.from([0x30, 0x82, 0x01, 0x52])));
  assert.equal(m.topVia().port, 5070);
  assert.equal(getParam(m.topVia().params, 'rport'), null);
  const [frame] = new SipStreamFramer().push(data);
  assert.deepEqual(frame, { kind: 'message', data });
});

test('3.1.1.12 unreason and 3.1.1.13 noreason: reason phrases', () => {
  const u = load('unreason');
  assert.ok(u instanceof SipResponse);
  assert.equal(u.status, 200);
  assert.equal(u.reason, '= 2**3 * 5**2 но сто девяносто девять - простое');
  const n = load('noreason');
  assert.ok(n instanceof SipResponse);
  assert.equal(n.status, 100);
  assert.equal(n.reason, '');
});

test('3.2.1 badbranch, 3.3.x application-layer cases parse (the decision belongs to the UAS or proxy)', () => {
  assert.equal(getParam(req('badbranch').topVia().params, 'branch'), 'z9hG4bK');
  const unk = req('unkscm').uri;
  assert.deepEqual(unk, { kind: 'absolute', scheme: 'nobodyKnowsThisScheme', opaque: 'totallyopaquecontent' });
  assert.equal(req('novelsc').uri.scheme, 'soap.beep');
  const u2 = req('unksm2');
  assert.equal(u2.to().uri.scheme, 'isbn');
  assert.equal(u2.from().uri.scheme, 'http');
  assert.equal(contacts(u2)[0]!.uri.scheme, 'name');
  assert.deepEqual(req('bext01').headerList('proxy-require'), ['noProxiesSupportThis', 'norDoAnyProxiesSupportThis']);
  assert.equal(req('invut').header('content-type'), 'application/unknownformat');
  assert.equal(req('regaut01').header('authorization'), 'NoOneKnowsThisScheme opaque-data=here');
  const b = load('bcast');
  assert.equal(b.vias()[1]!.host, '255.255.255.255');
  assert.equal(req('sdp01').header('accept'), 'text/nobodyKnowsThis');
  assert.equal(req('baddate').header('date'), 'Fri, 01 Jan 2010 16:00:00 EST');
});

test('3.3.11 zeromf: Max-Forwards 0 is answered 483 by a proxy', () => {
  const m = req('zeromf');
  assert.equal(m.maxForwards(), 0);
  assert.throws(() => decrementMaxForwards(m), { status: 483 });
});

test("3.3.12/13 cparam01/02: a parameter after an addr-spec is the header's; inside <> it is the URI's", () => {
  const [c1] = contacts(req('cparam01'));
  assert.deepEqual(c1!.params, [{ name: 'unknownparam', value: null }]);
  assert.deepEqual(sip(c1!.uri).params, []);
  const [c2] = contacts(req('cparam02'));
  assert.deepEqual(c2!.params, []);
  assert.deepEqual(sip(c2!.uri).params, [{ name: 'unknownparam', value: null }]);
  assert.equal(sip(c2!.uri).user, '+19725552222');
});

test('3.3.14 regescrt: escaped headers in a Contact URI inside <> are kept', () => {
  assert.equal(sip(contacts(req('regescrt'))[0]!.uri).headers, 'Route=%3Csip:sip.example.com%3E');
});

test('3.4.1 inv2543: an RFC 2543 request without Content-Length is accepted on a datagram, refused on a stream', () => {
  const data = torture('inv2543');
  const m = req('inv2543');
  assert.equal(m.body.length, 105);
  assert.equal(getParam(m.topVia().params, 'branch'), undefined);
  assert.equal(m.maxForwards(), null);
  assert.throws(() => parseMessage(data, { stream: true }), { status: 400 });
  assert.equal(new SipStreamFramer().push(data)[0]!.kind, 'error');
});
