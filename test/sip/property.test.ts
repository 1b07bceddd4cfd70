// Property tests (fast-check): generated messages survive serialize → parse unchanged, and no input —
// random or a mutated torture message — makes the parser throw anything but its own SipError.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  SipError,
  SipRequest,
  fields,
  formatNameAddr,
  formatVia,
  parseMessage,
  type NameAddr,
  type Param,
  type SipUri,
  type Via,
} from '../../src/sip/message/index.js';
import { torture } from './fixtures.js';

const token = fc.stringMatching(/^[A-Za-z0-9\-.!%*_+`'~]{1,12}$/);
const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?$/);
const hostname = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6().map((a) => `[${a}]`);
const host = fc.oneof(hostname, ipv4, ipv6);
const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: null });
const userChars = fc.stringMatching(/^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-F]{2}){1,12}$/);
const paramChars = fc.stringMatching(/^(?:[A-Za-z0-9\-_.!~*'()[\]/:&+$]|%[0-9A-F]{2}){1,12}$/);
const uriParam: fc.Arbitrary<Param> = fc.record(
  { name: paramChars, value: fc.option(paramChars, { nil: null }) },
  { noNullPrototype: true },
);
const printable = fc.string({ unit: fc.constantFrom(...'abcXYZ 09,;:<>@"\\/?=é€\t'.split('')), maxLength: 16 });
const headerParam: fc.Arbitrary<Param> = fc.oneof(
  fc.record({ name: token, value: fc.option(token, { nil: null }) }, { noNullPrototype: true }),
  fc.record({ name: token, value: printable, quoted: fc.constant(true) }, { noNullPrototype: true }),
);

const sipUri: fc.Arbitrary<SipUri> = fc.record(
  {
    kind: fc.constant('sip' as const),
    scheme: fc.constantFrom('sip' as const, 'sips' as const),
    user: fc.option(userChars, { nil: null }),
    password: fc.constant(null),
    host,
    port,
    params: fc.array(uriParam, { maxLength: 3 }),
    headers: fc.constant(null),
  },
  { noNullPrototype: true },
);

const display = fc.oneof(
  fc.constant({ displayName: null, displayQuoted: false }),
  fc.array(token, { minLength: 1, maxLength: 3 }).map((w) => ({ displayName: w.join(' '), displayQuoted: false })),
  printable.map((d) => ({ displayName: d, displayQuoted: true })),
);

const nameAddr: fc.Arbitrary<NameAddr> = fc
  .tuple(display, sipUri, fc.array(headerParam, { maxLength: 3 }))
  .map(([d, uri, params]) => ({ ...d, uri, params, angle: true }));

const via: fc.Arbitrary<Via> = fc.record(
  {
    protocolName: fc.constant('SIP'),
    protocolVersion: fc.constant('2.0'),
    transport: fc.constantFrom('UDP', 'TCP', 'TLS', 'WSS', 'SCTP'),
    host,
    port,
    params: fc
      .tuple(token, fc.array(headerParam, { maxLength: 2 }))
      .map(([b, rest]) => [{ name: 'branch', value: `z9hG4bK${b}` }, ...rest]),
  },
  { noNullPrototype: true },
);

const request = fc.record(
  {
    method: token,
    uri: sipUri,
    vias: fc.array(via, { minLength: 1, maxLength: 4 }),
    from: nameAddr,
    to: nameAddr,
    callId: fc.stringMatching(/^[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]{1,20}(?:@[A-Za-z0-9.]{1,10})?$/),
    seq: fc.integer({ min: 0, max: 0x7fffffff }),
    maxForwards: fc.integer({ min: 0, max: 255 }),
    contacts: fc.array(nameAddr, { maxLength: 3 }),
    extra: fc.array(
      fc.tuple(fc.stringMatching(/^X-[A-Za-z0-9-]{1,10}$/), fc.stringMatching(/^[!-~](?:[ -~]{0,20}[!-~])?$/)),
      { maxLength: 3 },
    ),
    body: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  },
  { noNullPrototype: true },
);

test('parse(serialize(m)) == m for generated requests', () => {
  fc.assert(
    fc.property(request, (r) => {
      const pairs: Array<[string, string]> = [
        ...r.vias.map((v): [string, string] => ['Via', formatVia(v)]),
        ['From', formatNameAddr(r.from)],
        ['To', formatNameAddr(r.to)],
        ['Call-ID', r.callId],
        ['CSeq', `${r.seq} ${r.method}`],
        ['Max-Forwards', String(r.maxForwards)],
        ...r.contacts.map((c): [string, string] => ['Contact', formatNameAddr(c)]),
        ...r.extra,
        ['Content-Length', String(r.body.length)],
      ];
      const built = new SipRequest(r.method, r.uri, fields(pairs), r.body);
      const wire = built.serialize();
      const m = parseMessage(wire, { stream: true });
      m.validate();
      assert.ok(m instanceof SipRequest);
      assert.equal(m.method, r.method);
      assert.deepEqual(m.uri, r.uri);
      assert.deepEqual(m.vias(), r.vias);
      assert.deepEqual(m.from(), r.from);
      assert.deepEqual(m.to(), r.to);
      assert.equal(m.callId(), r.callId);
      assert.deepEqual(m.cseq(), { seq: r.seq, method: r.method });
      assert.equal(m.maxForwards(), r.maxForwards);
      assert.deepEqual(r.contacts.length ? m.contacts() : [], r.contacts);
      for (const [name, value] of r.extra) assert.ok(m.headerValues(name).includes(value));
      assert.deepEqual(m.body, r.body);
      // And the parsed message, untouched, is the same bytes again.
      assert.deepEqual(m.serialize(), wire);
    }),
    { numRuns: 400 },
  );
});

function neverThrowsForeign(data: Buffer): void {
  try {
    const m = parseMessage(data);
    m.validate();
    m.headerList('accept');
    m.serialize();
  } catch (err) {
    if (!(err instanceof SipError)) throw err;
    assert.ok([400, 505, 513].includes(err.status), `status ${err.status}`);
  }
}

test('random bytes never throw anything but SipError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (b) => neverThrowsForeign(Buffer.from(b))),
    { numRuns: 2000 },
  );
});

const NAMES = [
  'wsinv',
  'intmeth',
  'esc01',
  'escnull',
  'esc02',
  'longreq',
  'mpart01',
  'unreason',
  'escruri',
  'regescrt',
  'inv2543',
  'multi01',
];

test('mutated torture messages never throw anything but SipError', () => {
  const mutation = fc.record({
    at: fc.nat(),
    op: fc.constantFrom('flip', 'insert', 'delete', 'dup'),
    byte: fc.constantFrom(0, 9, 10, 13, 32, 34, 44, 58, 59, 60, 62, 64, 91, 92, 93, 255, 37),
    len: fc.integer({ min: 1, max: 40 }),
  });
  fc.assert(
    fc.property(fc.constantFrom(...NAMES), fc.array(mutation, { minLength: 1, maxLength: 6 }), (name, muts) => {
      let b = Buffer.from(torture(name));
      for (const m of muts) {
        const at = m.at % (b.length + 1);
        if (m.op === 'flip' && at < b.length) b[at] = m.byte;
        else if (m.op === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from([m.byte]), b.subarray(at)]);
        else if (m.op === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
        else b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + m.len), b.subarray(at)]);
      }
      neverThrowsForeign(b);
    }),
    { numRuns: 3000 },
  );
});
