// RFC 3261 §17 transactions over a real TCP connection: INVITE and non-INVITE, client and server,
// retransmission absorption, the non-2xx ACK, CANCEL matching (§9.2, §17.2.3) and the RFC-named timers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type SipRequest, createResponse, type SipResponse } from '../../src/sip/message/index.js';
import type {
  InviteClientTransaction,
  ClientTransactionUser,
  ServerTransaction,
} from '../support/sip-transaction/index.js';
import { pair, request, until } from './peer.js';

function collector(): ClientTransactionUser & {
  responses: number[];
  timeouts: number;
  errors: Error[];
  ended: boolean;
} {
  const c = {
    responses: [] as number[],
    timeouts: 0,
    errors: [] as Error[],
    ended: false,
    onResponse(res: SipResponse) {
      c.responses.push(res.status);
    },
    onTimeout() {
      c.timeouts++;
    },
    onTransportError(err: Error) {
      c.errors.push(err);
    },
    onTerminated() {
      c.ended = true;
    },
  };
  return c;
}

test('non-INVITE: request, 200, both transactions end at once (Timers J and K are zero on TCP)', async (t) => {
  const seen: ServerTransaction[] = [];
  const p = await pair({
    onRequest: (txn) => {
      seen.push(txn);
      txn.respond(createResponse(txn.request, 200));
    },
  });
  t.after(() => p.close());
  const user = collector();
  const txn = p.client.layer.sendRequest(request('OPTIONS'), p.client.send, user);
  await until(() => user.ended);
  assert.deepEqual(user.responses, [200]);
  assert.equal(txn.state, 'terminated');
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.state, 'terminated');
  assert.deepEqual(p.client.layer.counts, { client: 0, server: 0 });
  assert.deepEqual(p.server.layer.counts, { client: 0, server: 0 });
});

test('server absorbs retransmissions: the TU sees the request once, the last response is replayed', async (t) => {
  const seen: ServerTransaction[] = [];
  const p = await pair({ onRequest: (txn) => seen.push(txn) }, { server: { timers: { J: 2000 } } });
  t.after(() => p.close());
  const req = request('REGISTER');
  p.client.socket.write(req.serialize());
  p.client.socket.write(req.serialize()); // Trying: dropped, nothing to replay yet
  await until(() => seen.length === 1 && p.server.received.length === 2);
  seen[0]!.respond(createResponse(req, 100));
  p.client.socket.write(req.serialize()); // Proceeding: the 100 again
  await until(() => p.client.received.length === 2);
  seen[0]!.respond(createResponse(req, 200, { toTag: 't' }));
  p.client.socket.write(req.serialize()); // Completed (Timer J running): the 200 again
  await until(() => p.client.received.length === 4);
  assert.deepEqual(
    p.client.received.map((m) => (m as SipResponse).status),
    [100, 100, 200, 200],
  );
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.state, 'completed');
  assert.throws(() => seen[0]!.respond(createResponse(req, 500)), /cannot respond in completed/);
});

test('INVITE rejected: the client transaction ACKs the 486 itself and the server absorbs that ACK', async (t) => {
  let acksToTu = 0;
  const p = await pair({
    onRequest: (txn) => {
      txn.respond(createResponse(txn.request, 180, { toTag: 'b1' }));
      txn.respond(createResponse(txn.request, 486, { toTag: 'b1' }));
    },
    onAck: () => acksToTu++,
  });
  t.after(() => p.close());
  const user = collector();
  const invite = request('INVITE');
  p.client.layer.sendRequest(invite, p.client.send, user);
  await until(() => user.ended && p.server.layer.counts.server === 0);
  assert.deepEqual(user.responses, [180, 486]);
  const ack = p.server.received[1] as SipRequest;
  assert.equal(ack.method, 'ACK');
  assert.equal(
    ack.topVia().params[0]!.value,
    invite.topVia().params[0]!.value,
    'same branch as the INVITE (§17.1.1.3)',
  );
  assert.equal(ack.to().params[0]!.value, 'b1', 'To tag of the response');
  assert.deepEqual(ack.cseq(), { seq: 1, method: 'ACK' });
  assert.equal(acksToTu, 0);
});

test('INVITE accepted: 2xx goes to the TU, its ACK (new branch) goes to the TU, INVITE retransmissions are absorbed', async (t) => {
  const acks: SipRequest[] = [];
  let invites = 0;
  const p = await pair({
    onRequest: (txn) => {
      invites++;
      txn.respond(createResponse(txn.request, 200, { toTag: 'b2' }));
    },
    onAck: (ack) => acks.push(ack),
  });
  t.after(() => p.close());
  const user = collector();
  const invite = request('INVITE');
  const txn = p.client.layer.sendRequest(invite, p.client.send, user);
  await until(() => user.responses.length === 1);
  assert.equal(txn.state, 'accepted');
  p.client.socket.write(invite.serialize()); // retransmitted INVITE in Accepted: silently absorbed
  const ack = request('ACK', { callId: invite.callId() });
  p.client.send(ack);
  await until(() => acks.length === 1);
  assert.equal(invites, 1);
  assert.equal(p.client.received.length, 1, 'no replay of the 2xx by the transaction');
});

test('CANCEL matches its INVITE by branch and sent-by; the TU answers 200 and 487', async (t) => {
  let pending: ServerTransaction | undefined;
  const p = await pair({
    onRequest: (txn) => {
      pending = txn;
      txn.respond(createResponse(txn.request, 180, { toTag: 'c1' }));
    },
    onCancel: (cancelTxn, invite) => {
      assert.equal(invite, pending);
      cancelTxn.respond(createResponse(cancelTxn.request, 200));
      invite.respond(createResponse(invite.request, 487, { toTag: 'c1' }));
    },
  });
  t.after(() => p.close());
  const inviteUser = collector();
  const cancelUser = collector();
  const txn = p.client.layer.sendRequest(request('INVITE'), p.client.send, inviteUser) as InviteClientTransaction;
  assert.equal(p.client.layer.cancel(txn, p.client.send, cancelUser), null, 'no CANCEL before a provisional');
  await until(() => inviteUser.responses.length === 1);
  const cancel = p.client.layer.cancel(txn, p.client.send, cancelUser);
  assert.ok(cancel);
  assert.equal(cancel.request.topVia().params[0]!.value, txn.request.topVia().params[0]!.value);
  await until(() => inviteUser.ended && cancelUser.ended);
  assert.deepEqual(cancelUser.responses, [200]);
  assert.deepEqual(inviteUser.responses, [180, 487]);
});

test('CANCEL with no matching INVITE is answered 481 by the layer', async (t) => {
  const p = await pair({ onRequest: () => assert.fail('the TU must not see it') });
  t.after(() => p.close());
  const user = collector();
  p.client.layer.sendRequest(request('CANCEL'), p.client.send, user);
  await until(() => user.ended);
  assert.deepEqual(user.responses, [481]);
});

test('Timer F: a non-INVITE with no answer times out after 64*T1', async (t) => {
  const p = await pair({ onRequest: () => {} }, { client: { timers: { T1: 5 } } });
  t.after(() => p.close());
  const user = collector();
  const started = Date.now();
  p.client.layer.sendRequest(request('OPTIONS'), p.client.send, user);
  await until(() => user.ended);
  assert.equal(user.timeouts, 1);
  assert.ok(Date.now() - started >= 5 * 64 - 20);
});

test('Timer B: an INVITE with no response at all times out; a provisional stops it', async (t) => {
  let held: ServerTransaction | undefined;
  const p = await pair(
    {
      onRequest: (txn) => {
        if (txn.request.cseq().seq === 2) {
          held = txn;
          txn.respond(createResponse(txn.request, 183, { toTag: 'x' }));
        }
      },
    },
    { client: { timers: { T1: 5 } }, server: { timers: { trying: 10_000 } } },
  );
  t.after(() => p.close());
  const silent = collector();
  const ringing = collector();
  p.client.layer.sendRequest(request('INVITE', { cseq: 1 }), p.client.send, silent);
  const waiting = p.client.layer.sendRequest(request('INVITE', { cseq: 2 }), p.client.send, ringing);
  await until(() => silent.ended);
  assert.equal(silent.timeouts, 1);
  assert.equal(waiting.state, 'proceeding');
  assert.equal(ringing.timeouts, 0);
  held!.respond(createResponse(held!.request, 603, { toTag: 'x' }));
  await until(() => ringing.ended);
  assert.deepEqual(ringing.responses, [183, 603]);
});

test('Timer H: a non-2xx final that is never ACKed ends the server transaction with a timeout', async (t) => {
  let timedOut = false;
  const p = await pair(
    {
      onRequest: (txn) => {
        txn.events = {
          onTimeout: () => {
            timedOut = true;
          },
        };
        txn.respond(createResponse(txn.request, 404));
      },
    },
    { server: { timers: { T1: 5 } } },
  );
  t.after(() => p.close());
  p.client.socket.write(request('INVITE').serialize()); // raw: nobody will ACK
  await until(() => timedOut);
  assert.equal(p.server.layer.counts.server, 0);
});

test('the INVITE server sends 100 Trying itself when the TU is slow (§17.2.1)', async (t) => {
  const p = await pair({ onRequest: () => {} }, { server: { timers: { trying: 20 } } });
  t.after(() => p.close());
  p.client.socket.write(request('INVITE').serialize());
  await until(() => p.client.received.length === 1);
  assert.equal((p.client.received[0] as SipResponse).status, 100);
});

test('a transport failure is reported to the TU and ends the transaction', async (t) => {
  const p = await pair({ onRequest: () => {} });
  t.after(() => p.close());
  const user = collector();
  const txn = p.client.layer.sendRequest(
    request('OPTIONS'),
    () => {
      throw new Error('flow gone');
    },
    user,
  );
  assert.equal(txn.state, 'terminated');
  assert.equal(user.errors[0]?.message, 'flow gone');
  assert.deepEqual(p.client.layer.counts, { client: 0, server: 0 });
});

test('a second transaction with the same branch, or an ACK as a client transaction, is refused', async (t) => {
  const p = await pair({ onRequest: () => {} });
  t.after(() => p.close());
  const req = request('OPTIONS', { branch: 'z9hG4bKsame' });
  p.client.layer.sendRequest(req, p.client.send, collector());
  assert.throws(() => p.client.layer.sendRequest(req, p.client.send, collector()), /already exists/);
  assert.throws(() => p.client.layer.sendRequest(request('ACK'), p.client.send, collector()), /ACK/);
});
