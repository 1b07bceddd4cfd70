// The per-message fast paths of the proxies (byte-level Content-Length framing, one-buffer serialization,
// parsed lists kept across pops, in-place setHeader, sliced quoted strings) give the same results as the
// plain way: each case compares against a fresh parse or the text built by hand.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  SipStreamFramer,
  parseMessage,
  parseNameAddr,
  removeTopVia,
  type SipRequest,
} from '../../src/sip/message/index.js';

const REGISTER = [
  'REGISTER sip:example.com SIP/2.0',
  'Via: SIP/2.0/TLS edge.example.com:5061;branch=z9hG4bKedge;mra-edge=tok, SIP/2.0/TLS 192.0.2.7:51234;branch=z9hG4bKc1;rport',
  'Max-Forwards: 70',
  'Route: <sip:edge.example.com;lr>, <sip:cucm.example.com;lr>',
  'From: "Al \\"the\\" B" <sip:alice@example.com>;tag=7f3a',
  'To: <sip:alice@example.com>',
  'Call-ID: c1@192.0.2.7',
  'CSeq: 7 REGISTER',
  'Subject: folded',
  '  across lines',
  'Contact: <sip:alice@192.0.2.7:51234;transport=tls;ob>;+sip.instance="<urn:uuid:1>";expires=600',
  'Content-Length: 4',
  '',
  'body',
].join('\r\n');

function frame(head: string, body = ''): number | string {
  const events = new SipStreamFramer().push(Buffer.from(`${head}\r\n\r\n${body}`, 'latin1'));
  const ev = events[0];
  if (!ev) return 'incomplete';
  return ev.kind === 'message' ? ev.data.length - head.length - 4 : ev.kind === 'error' ? ev.reason : ev.kind;
}

test('Content-Length is found in any case and spacing, compact or long, and only as a whole field name', () => {
  const start = 'OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1';
  assert.equal(frame(`${start}\r\nl: 3`, 'abc'), 3);
  assert.equal(frame(`${start}\r\ncOnTeNt-LeNgTh \t:  2 \t`, 'ab'), 2);
  assert.equal(frame(`${start}\r\nL:0`), 0);
  assert.equal(frame(`${start}\r\nLang: en\r\nContent-Lengthy: 9\r\nContent-Length: 1`, 'x'), 1);
  assert.equal(frame(`${start}\r\nContent\rLength: 1`), 'Missing Content-Length on a stream transport');
  assert.equal(frame(`${start}\r\nl: 1\r\nContent-Length: 1`, 'x'), 'Multiple Content-Length header fields');
  assert.equal(frame(`${start}\r\nl: 12345678901`), 'Malformed Content-Length');
  assert.equal(frame(`${start}\r\nl: 1 2`), 'Malformed Content-Length');
  assert.equal(frame(`${start}\r\nl: 5`, 'ab'), 'incomplete');
});

test('an edited message serializes to exactly the untouched fields, the new ones and the body', () => {
  const m = parseMessage(Buffer.from(REGISTER, 'latin1')) as SipRequest;
  m.setHeader('max-forwards', '69');
  m.addHeader('via', 'SIP/2.0/TLS core.invalid;branch=z9hG4bKcore', 'top');
  m.addHeader('X-Note', 'café ✓');
  const expected = REGISTER.replace('Max-Forwards: 70', 'Max-Forwards: 69')
    .replace(
      'REGISTER sip:example.com SIP/2.0\r\n',
      'REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TLS core.invalid;branch=z9hG4bKcore\r\n',
    )
    .replace('Content-Length: 4\r\n', 'Content-Length: 4\r\nX-Note: café ✓\r\n');
  assert.equal(m.serialize().toString('utf8'), expected);
  m.uri = {
    kind: 'sip',
    scheme: 'sip',
    user: null,
    password: null,
    host: 'registrar.example.com',
    port: null,
    params: [],
    headers: null,
  };
  assert.equal(
    m.serialize().toString('utf8'),
    expected.replace('REGISTER sip:example.com', 'REGISTER sip:registrar.example.com'),
  );
});

test('popping the top Via or Route leaves the parsed lists equal to a fresh parse of the result', () => {
  const m = parseMessage(Buffer.from(REGISTER, 'latin1')) as SipRequest;
  const before = m.vias();
  const removed = removeTopVia(m);
  assert.deepEqual(removed, before[0]);
  assert.equal(m.removeFirstValue('route'), '<sip:edge.example.com;lr>');
  const fresh = parseMessage(m.serialize());
  assert.deepEqual(m.vias(), fresh.vias());
  assert.deepEqual(m.routes(), fresh.routes());
  assert.equal(removeTopVia(m)?.host, '192.0.2.7');
  assert.equal(m.removeFirstValue('route'), '<sip:cucm.example.com;lr>');
  assert.deepEqual(m.vias(), []);
  assert.deepEqual(m.routes(), []);
});

test('setHeader replaces a single field where it stands and folds duplicates into the first position', () => {
  const m = parseMessage(Buffer.from(REGISTER, 'latin1')) as SipRequest;
  const at = m.headers.findIndex((h) => h.key === 'max-forwards');
  m.setHeader('Max-Forwards', '5');
  assert.equal(
    m.headers.findIndex((h) => h.key === 'max-forwards'),
    at,
  );
  assert.equal(m.maxForwards(), 5);
  m.addHeader('x-a', '1');
  m.addHeader('x-b', '2');
  m.addHeader('x-a', '3');
  m.setHeader('x-a', '4');
  assert.deepEqual(
    m.headers.slice(-2).map((h) => [h.name, h.value]),
    [
      ['X-A', '4'],
      ['X-B', '2'],
    ],
  );
});

test('quoted strings keep their escapes unescaped and fail when unterminated', () => {
  assert.equal(parseNameAddr('"Al \\"the\\" B\\\\" <sip:a@example.com>', 'From').displayName, 'Al "the" B\\');
  assert.equal(parseNameAddr('"" <sip:a@example.com>', 'From').displayName, '');
  assert.throws(() => parseNameAddr('"Al <sip:a@example.com>', 'From'), /Unterminated quoted string in From/);
  assert.throws(() => parseNameAddr('"Al\\', 'From'), /Unterminated quoted string in From/);
});
