// The ng codec against a third-party bencode implementation (npm `bencode`): what both encode is the same bytes,
// what both decode is the same value, random and damaged input is a clear NgDecodeError (never another exception),
// and a TCP stream cut anywhere gives the same frames.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import bencode from 'bencode';
import { NgDecodeError, decode, encode, valueEnd, type NgValue } from '../../src/relay/ng/bencode.js';
import { NgFramingError, NgStreamFramer, frame, parseDatagram, requestDict } from '../../src/relay/ng/message.js';

type Plain = string | number | Plain[] | { [k: string]: Plain };
/** Values both sides see alike: byte strings as hex, dictionaries as plain objects. */
function plain(v: unknown): Plain {
  if (typeof v === 'number') return v;
  if (v instanceof Uint8Array) return `hex:${Buffer.from(v).toString('hex')}`;
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  throw new TypeError(`unexpected ${typeof v}`);
}

const asciiKey = fc
  .string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz-_ 0123456789ABCZ'.split('')), maxLength: 12 })
  .filter((k) => k !== '__proto__');
const { value: arbValue } = fc.letrec<{ value: NgValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
    fc.maxSafeInteger(),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(asciiKey, tie('value'), { maxKeys: 5, noNullPrototype: true }),
  ),
}));

const onlyAsciiKeys = (v: NgValue): boolean =>
  Buffer.isBuffer(v) || typeof v === 'number'
    ? true
    : Array.isArray(v)
      ? v.every(onlyAsciiKeys)
      : Object.entries(v).every(([k, x]) => /^[\x20-\x7e]*$/.test(k) && k !== '__proto__' && onlyAsciiKeys(x));

/** Ours either decodes or throws NgDecodeError; when it decodes, the package decodes the same value. */
function agreesOrRefuses(bytes: Buffer): void {
  let ours: NgValue;
  try {
    ours = decode(bytes);
  } catch (err) {
    assert.ok(err instanceof NgDecodeError, `not an NgDecodeError: ${String(err)}`);
    assert.match(err.message, /^malformed bencode at byte \d+: /);
    return;
  }
  if (!onlyAsciiKeys(ours)) return;
  assert.deepEqual(plain(bencode.decode(bytes)), plain(ours));
}

describe('ng bencode codec', () => {
  it('encodes every value byte for byte as the bencode package does, and both decode it back', () => {
    fc.assert(
      fc.property(arbValue, (v) => {
        const ours = encode(v);
        assert.deepEqual(ours, Buffer.from(bencode.encode(v)));
        assert.deepEqual(plain(decode(ours)), plain(v));
        assert.deepEqual(plain(bencode.decode(ours)), plain(v));
        assert.equal(valueEnd(Buffer.concat([ours, Buffer.from('garbage')])), ours.length);
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes what the package encodes', () => {
    fc.assert(
      fc.property(arbValue, (v) => assert.deepEqual(plain(decode(Buffer.from(bencode.encode(v)))), plain(v))),
      { numRuns: 1000 },
    );
  });

  it('random bytes: the same value as the package, or a clear NgDecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (a) => agreesOrRefuses(Buffer.from(a))),
      { numRuns: 5000 },
    );
    const alphabet = fc.constantFrom(...'ilde0123456789:-ab'.split(''));
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 40 }), (s) => agreesOrRefuses(Buffer.from(s, 'latin1'))),
      { numRuns: 5000 },
    );
  });

  it('damaged encodings: a cut is "truncated" or an error, a changed byte agrees or is refused', () => {
    fc.assert(
      fc.property(arbValue, fc.nat(), fc.integer({ min: 0, max: 255 }), (v, at, byte) => {
        const bytes = encode(v);
        const cut = at % bytes.length;
        // Every proper prefix is incomplete, never malformed: a stream waits for more.
        assert.equal(valueEnd(bytes.subarray(0, cut)), -1);
        assert.throws(() => decode(bytes.subarray(0, cut)), NgDecodeError);
        const changed = Buffer.from(bytes);
        changed[cut] = byte;
        agreesOrRefuses(changed);
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses what rtpengine would misread, naming the byte', () => {
    for (const [bad, why] of [
      ['i03e', /bad integer/],
      ['i-0e', /bad integer/],
      ['i99999999999999999e', /out of range|bad integer/],
      ['ie', /bad integer/],
      ['d1:ai1e1:ai2ee', /duplicate key "a"/],
      ['di1ei2ee', /key is not a byte string/],
      ['5:abc', /truncated/],
      ['4:spamx', /trailing bytes/],
      ['x', /unexpected byte 0x78/],
      ['01:a', /bad string length/],
      ['l'.repeat(40) + 'e'.repeat(40), /nested deeper than 32/],
    ] as const)
      assert.throws(
        () => decode(Buffer.from(bad)),
        (err: Error) => err instanceof NgDecodeError && why.test(err.message),
        bad,
      );
  });

  it('leaves byte strings as bytes: an SDP body in latin1 comes out as it went in', () => {
    const sdp = Buffer.from('v=0\r\ns=caf\xe9\r\n', 'latin1');
    const d = decode(encode({ sdp })) as { sdp: Buffer };
    assert.deepEqual(d.sdp, sdp);
    assert.equal(
      Object.getPrototypeOf(decode(Buffer.from('d9:__proto__i1ee'))),
      null,
      'a dictionary has no prototype to pollute',
    );
  });
});

describe('ng framing', () => {
  it('a datagram is a cookie, a space and a dictionary; the reply repeats the cookie', () => {
    const f = parseDatagram(Buffer.from('5323_1 d7:command4:pinge'));
    assert.equal(f.cookie, '5323_1');
    assert.deepEqual(plain(requestDict(f.body)), { command: 'hex:70696e67' });
    assert.equal(frame('5323_1', { result: 'pong' }).toString(), '5323_1 d6:result4:ponge');
    assert.throws(() => parseDatagram(Buffer.from('d7:command4:pinge')), NgFramingError);
    assert.throws(() => parseDatagram(Buffer.from(' d7:command4:pinge')), /no cookie/);
    assert.throws(() => requestDict(Buffer.from('{"command":"ping"}')), /JSON dictionaries are not supported/);
    assert.throws(() => requestDict(Buffer.from('l4:pinge')), /not a bencoded dictionary/);
  });

  it('a stream cut at any points gives the same frames', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.stringMatching(/^[a-z0-9_]{1,12}$/),
            arbValue.map((v) => ({ v })),
          ),
          { minLength: 1, maxLength: 6 },
        ),
        fc.array(fc.nat(), { maxLength: 8 }),
        (msgs, cuts) => {
          const wire = Buffer.concat(msgs.map(([c, d]) => frame(c, d as never)));
          const points = [...new Set(cuts.map((c) => c % wire.length))].sort((a, b) => a - b);
          const framer = new NgStreamFramer(1 << 20);
          const got = [];
          let last = 0;
          for (const p of [...points, wire.length]) {
            got.push(...framer.push(wire.subarray(last, p)));
            last = p;
          }
          assert.deepEqual(
            got.map((f) => [f.cookie, plain(decode(f.body))]),
            msgs.map(([c, d]) => [c, plain(decode(encode(d as never)))]),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a stream that can never frame, or grows past the cap, is an error', () => {
    assert.throws(() => new NgStreamFramer(1000).push(Buffer.from('c1 x')), NgDecodeError);
    assert.throws(() => new NgStreamFramer(1000).push(Buffer.from('x'.repeat(100))), /cookie longer than 64/);
    assert.throws(
      () => new NgStreamFramer(100).push(Buffer.from(`c1 d3:sdp500:${'v'.repeat(200)}`)),
      /larger than 100 bytes/,
    );
  });
});
