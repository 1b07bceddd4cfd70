// RFC 4475 §3.1.2 and the malformed cases of §3.3: each yields a SipError with the status to answer
// (400 with a reason naming the fault, 505), and nothing else is ever thrown.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SipError, SipStreamFramer, parseMessage } from '../../src/sip/message/index.js';
import { torture } from './fixtures.js';

function faultOf(name: string, stream = false): SipError {
  try {
    parseMessage(torture(name), { stream }).validate();
  } catch (err) {
    assert.ok(err instanceof SipError, `${name}: threw ${String(err)}`);
    return err;
  }
  assert.fail(`${name} was accepted`);
}

const CASES: Array<[name: string, status: number, fault: RegExp]> = [
  ['badinv01', 400, /parameter name in Via/],
  ['clerr', 400, /Content-Length larger than the body/],
  ['ncl', 400, /Malformed Content-Length/],
  ['scalar02', 400, /CSeq/],
  ['scalarlg', 400, /CSeq/],
  ['quotbal', 400, /Unterminated quoted string in To/],
  ['ltgtruri', 400, /Request-URI/],
  ['lwsruri', 400, /Request-Line/],
  ['lwsstart', 400, /Request-Line/],
  ['trws', 400, /Request-Line/],
  ['escruri', 400, /Request-URI with headers/],
  ['regbadct', 400, /addr-spec in Contact/],
  ['badaspec', 400, /To/],
  ['baddn', 400, /empty line|display name/],
  ['badvers', 505, /Version Not Supported/],
  ['mismatch01', 400, /CSeq method/],
  ['mismatch02', 400, /CSeq method/],
  ['bigcode', 400, /Status-Line/],
  ['insuf', 400, /Missing (From|To|Call-ID)/],
  ['multi01', 400, /Multiple/],
  ['mcl01', 400, /Multiple Content-Length/],
];

for (const [name, status, fault] of CASES) {
  test(`${name} is refused with ${status}`, () => {
    const err = faultOf(name);
    assert.equal(err.status, status);
    assert.match(err.reason, fault);
    if (status === 400) assert.match(err.reason, /^Bad Request - /);
  });
}

test('clerr on a stream: the framer waits for the rest of the body instead of failing', () => {
  assert.deepEqual(new SipStreamFramer().push(torture('clerr')), []);
});

test('ncl and mcl01 on a stream: framing cannot continue, the connection must close', () => {
  for (const name of ['ncl', 'mcl01']) {
    const events = new SipStreamFramer().push(torture(name));
    assert.deepEqual(
      events.map((e) => e.kind),
      ['error'],
      name,
    );
  }
});

test('parser limits: header bytes, header count and body size are 513, never a crash', () => {
  const big = torture('longreq');
  assert.throws(
    () => parseMessage(big, { limits: { maxHeaderBytes: 1024 } }),
    (e: unknown) => e instanceof SipError && e.status === 513 && /header section/.test(e.reason),
  );
  assert.throws(
    () => parseMessage(big, { limits: { maxHeaders: 20 } }),
    (e: unknown) => e instanceof SipError && e.status === 513 && /too many header fields/.test(e.reason),
  );
  assert.throws(
    () => parseMessage(torture('mpart01'), { limits: { maxBodyBytes: 500 } }),
    (e: unknown) => e instanceof SipError && e.status === 513 && /body/.test(e.reason),
  );
  assert.doesNotThrow(() => parseMessage(big));
});
