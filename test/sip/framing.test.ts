// SipStreamFramer: Content-Length framing on streams (RFC 3261 §18.3) and RFC 5626 keepalives, under
// arbitrary chunking, plus its limits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SipStreamFramer, type FramerEvent } from '../../src/sip/message/index.js';
import { torture } from './fixtures.js';

const MESSAGES = ['wsinv', 'esc01', 'mpart01', 'longreq', 'unreason', 'noreason', 'intmeth'].map(torture);
const PING = Buffer.from('\r\n\r\n');
const PONG = Buffer.from('\r\n');

function feed(data: Buffer, cuts: number[]): FramerEvent[] {
  const framer = new SipStreamFramer();
  const events: FramerEvent[] = [];
  let at = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    events.push(...framer.push(data.subarray(at, cut)));
    at = cut;
  }
  events.push(...framer.push(data.subarray(at)));
  return events;
}

test('any chunking of a stream of messages and keepalives yields the same messages and CRLF count', () => {
  const item = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...MESSAGES) },
    { weight: 1, arbitrary: fc.constant(PING) },
  );
  fc.assert(
    fc.property(
      fc.array(item, { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      (items, rawCuts) => {
        const data = Buffer.concat(items);
        const events = feed(
          data,
          rawCuts.map((c) => c % (data.length + 1)),
        );
        const messages = events.filter((e) => e.kind === 'message').map((e) => (e as { data: Buffer }).data);
        assert.deepEqual(
          messages,
          items.filter((b) => b !== PING),
        );
        // A ping cut exactly between its two CRLFs reads as two pongs; the CRLFs are never lost or invented.
        const crlfs = events.reduce((n, e) => n + (e.kind === 'ping' ? 2 : e.kind === 'pong' ? 1 : 0), 0);
        assert.equal(crlfs, 2 * items.filter((b) => b === PING).length);
        assert.ok(!events.some((e) => e.kind === 'error'));
      },
    ),
    { numRuns: 300 },
  );
});

test('byte-at-a-time delivery reassembles a binary body with CR, LF and NUL inside', () => {
  const data = torture('mpart01');
  const events = feed(
    data,
    Array.from({ length: data.length }, (_, i) => i),
  );
  assert.deepEqual(events, [{ kind: 'message', data }]);
});

test('CRLFCRLF between messages is a ping, a lone CRLF a pong (RFC 5626 §3.5.1)', () => {
  const framer = new SipStreamFramer();
  assert.deepEqual(framer.push(PING), [{ kind: 'ping' }]);
  assert.deepEqual(framer.push(PONG), [{ kind: 'pong' }]);
  assert.deepEqual(framer.push(Buffer.concat([PING, PONG, MESSAGES[4]!])), [
    { kind: 'ping' },
    { kind: 'pong' },
    { kind: 'message', data: MESSAGES[4] },
  ]);
  // A CR that may start a ping is held until the next byte decides.
  assert.deepEqual(framer.push(Buffer.from('\r\n\r')), []);
  assert.deepEqual(framer.push(Buffer.from('\n')), [{ kind: 'ping' }]);
});

test('a header section over the limit is 513 even before its end arrives; the stream then stays dead', () => {
  const framer = new SipStreamFramer({ maxHeaderBytes: 200 });
  const events = framer.push(Buffer.from(`OPTIONS sip:a@b SIP/2.0\r\nX: ${'y'.repeat(300)}`));
  assert.deepEqual(events, [{ kind: 'error', status: 513, reason: 'Message Too Large (headers)' }]);
  assert.deepEqual(framer.push(MESSAGES[4]!), []);
});

test('a declared body over the limit is 513 without waiting for the body', () => {
  const framer = new SipStreamFramer({ maxBodyBytes: 100 });
  const [e] = framer.push(Buffer.from('MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 101\r\n\r\n'));
  assert.deepEqual(e, { kind: 'error', status: 513, reason: 'Message Too Large (body)' });
});

test('missing, malformed or repeated Content-Length cannot be framed: 400', () => {
  for (const [head, reason] of [
    ['OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n', 'Missing Content-Length on a stream transport'],
    ['OPTIONS sip:a@b SIP/2.0\r\nl: -1\r\n\r\n', 'Malformed Content-Length'],
    ['OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\n', 'Multiple Content-Length header fields'],
  ] as const) {
    assert.deepEqual(new SipStreamFramer().push(Buffer.from(head)), [{ kind: 'error', status: 400, reason }]);
  }
  const [last] = new SipStreamFramer().push(torture('mcl01'));
  assert.deepEqual(last, { kind: 'error', status: 400, reason: 'Multiple Content-Length header fields' });
});
