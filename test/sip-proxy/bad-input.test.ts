// Bad input at the edge: each case gets a clear answer (or a close), is logged, and the edge keeps serving.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPair, type Pair } from './pair.js';
import { rawConnect, register, type RawConnection } from './raw.js';
import { waitFor } from '../support/log-capture.js';

let pair: Pair;
let raw: RawConnection;
before(async () => {
  pair = await startPair({ edge: { sip: { header_timeout_s: 0.5 } }, logLevel: 'debug' });
  raw = await rawConnect(pair.edge.ports.sipTls!, pair.ca);
});
after(async () => {
  raw?.close();
  await pair?.close();
});

const refusals = () =>
  pair.edgeLog.lines().filter((l) => l.msg === 'sip request refused' || l.msg === 'sip message refused');

async function expectAnswer(bytes: string, status: number, reason: RegExp): Promise<void> {
  const before = refusals().length;
  raw.send(bytes);
  const got = await raw.next();
  assert.notEqual(got, 'closed', 'the edge answered instead of hanging up');
  if (got === 'closed') return;
  assert.equal(got.status, status, got.text);
  assert.match(got.text, reason);
  await waitFor('the refusal to be logged', () => refusals().length > before);
}

test('a malformed request gets 400 with a Reason phrase naming the fault', async () => {
  await expectAnswer(
    register({ extra: ['CSeq: 1 REGISTER'] }),
    400,
    /^SIP\/2\.0 400 Bad Request - Multiple CSeq header fields/,
  );
  await expectAnswer(
    register().replace('From: <sip:alice@example.com>;tag=abc', 'From: <sip:alice@exa mple.com'),
    400,
    /^SIP\/2\.0 400 Bad Request - /,
  );
});

test('a too-large request gets 513', async () => {
  await expectAnswer(
    register({ body: 'x'.repeat(100_000), extra: ['Content-Type: text/plain'] }),
    513,
    /^SIP\/2\.0 513 Message Too Large/,
  );
});

test('Max-Forwards 0 gets 483 and is not forwarded', async () => {
  await expectAnswer(register({ maxForwards: 0 }), 483, /^SIP\/2\.0 483 Too Many Hops/);
});

test('an unknown domain gets 404, a domain without SIP registrations 403, each with a Reason', async () => {
  await expectAnswer(
    register({ domain: 'unknown.example.org' }),
    404,
    /Reason: SIP;cause=404;text="Domain not served: unknown\.example\.org"/,
  );
  await expectAnswer(
    register({ domain: 'closed.example.com' }),
    403,
    /Reason: SIP;cause=403;text="SIP registrations not enabled for closed\.example\.com"/,
  );
});

test('a REGISTER with a forged Path or a Route to an inside host is refused 403', async () => {
  await expectAnswer(
    register({ extra: ['Path: <sip:127.0.0.1:5060;lr>'] }),
    403,
    /text="Path header not accepted from a client"/,
  );
  await expectAnswer(
    register({ extra: ['Route: <sip:10.0.0.5:5060;lr>'] }),
    403,
    /text="Route to a host other than the edge"/,
  );
  assert.equal(pair.callControl.bindings.size, 0, 'nothing reached the registrar');
});

test('a slowloris on 5061 is closed after the header timeout, and the edge keeps serving others', async () => {
  const slow = await rawConnect(pair.edge.ports.sipTls!, pair.ca);
  const bytes = register();
  slow.send(bytes.slice(0, 40));
  const drip = setInterval(() => slow.socket.writable && slow.send('X'), 100);
  try {
    await slow.closed;
  } finally {
    clearInterval(drip);
  }
  await waitFor('the slowloris close to be logged', () =>
    pair.edgeLog.lines().some((l) => l.msg === 'sip connection closed' && /header timeout/.test(String(l.reason))),
  );
  const alice = await pair.client('alice');
  assert.equal((await alice.register()).status, 200, 'another client still registers');
  await expectAnswer(register({ maxForwards: 0 }), 483, /483/);
});

test('a request for a client whose connection is gone gets 430 Flow Failed', async () => {
  const bob = await pair.client('bob');
  assert.equal((await bob.register()).status, 200);
  const closes = () => pair.edgeLog.lines().filter((l) => l.msg === 'sip connection closed').length;
  const before = closes();
  bob.close();
  await waitFor('the edge to see the connection go', () => closes() > before);
  const r = await pair.callControl.request('bob@example.com', 'MESSAGE', 'are you there?');
  assert.equal(r.status, 430);
  assert.ok(pair.edgeLog.lines().some((l) => l.msg === 'sip flow failed: client connection gone'));
});
