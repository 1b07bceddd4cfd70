// The call table on its own: which messages open, answer and end a leg, and the two timeouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, type SipRequest, type SipResponse } from '../../src/sip/message/index.js';
import { CallTable, legKey } from '../../src/sip/routing/calls.js';

function request(
  method: string,
  opts: { from?: string; to?: string; toTag?: string; callId?: string } = {},
): SipRequest {
  return parseMessage(
    Buffer.from(
      [
        `${method} sip:${opts.to ?? 'bob'}@example.com SIP/2.0`,
        'Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKa1',
        'Max-Forwards: 70',
        `From: <sip:${opts.from ?? 'alice'}@example.com>;tag=f1`,
        `To: <sip:${opts.to ?? 'bob'}@example.com>${opts.toTag ? `;tag=${opts.toTag}` : ''}`,
        `Call-ID: ${opts.callId ?? 'c1'}`,
        `CSeq: 1 ${method}`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    ),
    { stream: true },
  ) as SipRequest;
}

function response(
  status: number,
  method: string,
  opts: { from?: string; to?: string; callId?: string } = {},
): SipResponse {
  return parseMessage(
    Buffer.from(
      [
        `SIP/2.0 ${status} X`,
        'Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKa1',
        `From: <sip:${opts.from ?? 'alice'}@example.com>;tag=f1`,
        `To: <sip:${opts.to ?? 'bob'}@example.com>;tag=t1`,
        `Call-ID: ${opts.callId ?? 'c1'}`,
        `CSeq: 1 ${method}`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    ),
    { stream: true },
  ) as SipResponse;
}

test('an INVITE from a client opens a leg keyed by the caller; its 2xx makes it active; a BYE either way ends it', (t) => {
  let now = 1000;
  const calls = new CallTable({ now: () => now });
  t.after(() => calls.close());
  calls.request(request('REGISTER'), false);
  assert.equal(calls.size, 0, 'REGISTER is no call');
  calls.request(request('INVITE'), false, 'flow-a');
  assert.deepEqual(
    calls.list().map((l) => [l.client, l.peer, l.direction, l.state, l.flow]),
    [['alice@example.com', 'bob@example.com', 'from client', 'setup', 'flow-a']],
  );
  calls.response(response(180, 'INVITE'), false);
  assert.equal(calls.list()[0]!.state, 'setup', 'a provisional answer does not');
  now = 2000;
  calls.response(response(200, 'INVITE'), false);
  assert.equal(calls.list()[0]!.state, 'active');
  assert.equal(calls.list()[0]!.answeredAt, 2000);
  calls.response(response(200, 'REGISTER', { callId: 'c1' }), false);
  assert.equal(calls.size, 1, "another method's answer changes nothing");
  // bob hangs up: the BYE comes from call control toward alice, so alice is in its To.
  calls.request(request('BYE', { from: 'bob', to: 'alice', toTag: 'f1' }), true);
  assert.equal(calls.size, 0);
  assert.equal(calls.ended.bye, 1);
});

test('an INVITE toward a client is keyed by the callee; a failure answer ends a leg only while it is set up', (t) => {
  const calls = new CallTable();
  t.after(() => calls.close());
  calls.request(request('INVITE', { from: 'callcontrol', to: 'alice' }), true);
  assert.equal(calls.list()[0]!.client, 'alice@example.com');
  assert.equal(calls.list()[0]!.direction, 'to client');
  calls.response(response(486, 'INVITE', { from: 'callcontrol', to: 'alice' }), true);
  assert.equal(calls.size, 0);
  assert.equal(calls.ended.failed, 1);

  calls.request(request('INVITE', { callId: 'c2' }), false);
  calls.response(response(200, 'INVITE', { callId: 'c2' }), false);
  calls.response(response(491, 'INVITE', { callId: 'c2' }), false);
  assert.equal(calls.size, 1, 'a re-INVITE refused leaves the call up');
  calls.request(request('INFO', { callId: 'other', toTag: 't' }), false);
  assert.equal(calls.size, 1, 'a request of an unknown dialog is no call');
});

test('a leg never answered ends after the setup time, an answered one after the idle time, and with its flow', (t) => {
  let now = 0;
  const calls = new CallTable({ now: () => now, setupMs: 1000, idleMs: 5000 });
  t.after(() => calls.close());
  calls.request(request('INVITE', { callId: 'ringing' }), false, 'f1');
  calls.request(request('INVITE', { callId: 'talking' }), false, 'f1');
  calls.response(response(200, 'INVITE', { callId: 'talking' }), false);
  calls.request(request('INVITE', { callId: 'other-flow' }), false, 'f2');
  calls.response(response(200, 'INVITE', { callId: 'other-flow' }), false);
  now = 1000;
  calls.sweep();
  assert.deepEqual(
    calls
      .list()
      .map((l) => l.callId)
      .sort(),
    ['other-flow', 'talking'],
  );
  now = 4000;
  calls.request(request('UPDATE', { callId: 'talking', toTag: 't1' }), false);
  now = 5000;
  calls.sweep();
  assert.deepEqual(
    calls.list().map((l) => l.callId),
    ['talking'],
    'an in-dialog request keeps a leg alive',
  );
  assert.equal(calls.ended.timedOut, 2);
  calls.flowClosed('f1');
  assert.equal(calls.size, 0);
  assert.equal(calls.ended.flowClosed, 1);
});

test('an answered leg whose 2xx is never ACKed ends after 64·T1; one whose ACK passed stays', (t) => {
  let now = 0;
  const ended: string[] = [];
  const calls = new CallTable({ now: () => now, ackMs: 32_000, onEnded: (key) => ended.push(key) });
  t.after(() => calls.close());
  for (const callId of ['acked', 'never-acked']) {
    calls.request(request('INVITE', { callId }), false);
    calls.response(response(200, 'INVITE', { callId }), false);
  }
  now = 1000;
  calls.request(request('ACK', { callId: 'acked', toTag: 't1' }), false);
  assert.equal(calls.list().find((l) => l.callId === 'acked')?.confirmed, true);
  now = 31_999;
  calls.sweep();
  assert.equal(calls.size, 2, 'not before 64·T1');
  now = 32_000;
  calls.sweep();
  assert.deepEqual(
    calls.list().map((l) => l.callId),
    ['acked'],
  );
  assert.equal(calls.ended.unconfirmed, 1);
  assert.deepEqual(ended, [legKey('never-acked', 'alice@example.com')], 'its media goes with it');
});

test('a call message whose From or To does not parse is counted, never thrown into the hop that forwarded it', (t) => {
  const calls = new CallTable();
  t.after(() => calls.close());
  // Parsed as a hop parses what it passes on: the fault is found only when the table reads From.
  const broken = (start: string) =>
    parseMessage(
      Buffer.from(
        [
          start,
          'Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKa1',
          'From: <sip:alice@example.com;tag=f1',
          'To: <sip:bob@example.com>;tag=t1',
          'Call-ID: c1',
          'CSeq: 1 INVITE',
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n'),
      ),
      { stream: true, essentials: false },
    );
  assert.doesNotThrow(() => calls.request(broken('INVITE sip:bob@example.com SIP/2.0') as SipRequest, false));
  assert.equal(calls.size, 0);
  calls.request(request('INVITE', { callId: 'c1', from: 'carol', to: 'alice' }), true);
  assert.doesNotThrow(() => calls.response(broken('SIP/2.0 200 OK') as SipResponse, false));
  assert.equal(calls.unreadable, 2);
  assert.equal(calls.list()[0]!.state, 'setup', 'the leg is left as it was');
});

test('every way a leg ends tells onEnded its key (the media relays go with it), and so does close', (t) => {
  let now = 0;
  const ended: string[] = [];
  const calls = new CallTable({ now: () => now, setupMs: 1000, capacity: 3, onEnded: (key) => ended.push(key) });
  t.after(() => calls.close());
  for (const callId of ['bye', 'failed', 'flow'])
    calls.request(request('INVITE', { callId }), false, callId === 'flow' ? 'f1' : null);
  assert.equal(calls.has(legKey('bye', 'alice@example.com')), true);
  assert.equal(calls.atCapacity(request('INVITE', { callId: 'fourth' })), true, 'a fourth call is over capacity');
  assert.equal(calls.atCapacity(request('INVITE', { callId: 'bye', toTag: 't1' })), false, 'a re-INVITE never is');
  calls.request(request('BYE', { callId: 'bye', toTag: 't1' }), false);
  calls.response(response(486, 'INVITE', { callId: 'failed' }), false);
  calls.flowClosed('f1');
  calls.request(request('INVITE', { callId: 'slow' }), false);
  calls.request(request('INVITE', { callId: 'open' }), true);
  now = 1000;
  calls.sweep();
  assert.deepEqual(
    ended,
    ['bye', 'failed', 'flow', 'slow', 'open'].map((c) =>
      legKey(c, 'alice@example.com').replace('open|alice', 'open|bob'),
    ),
  );
  calls.request(request('INVITE', { callId: 'last' }), false);
  calls.close();
  assert.equal(ended.at(-1), legKey('last', 'alice@example.com'));
});
