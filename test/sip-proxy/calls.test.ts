// Calls through the pair: each node lists the legs of the INVITE dialogs it carries (one per remote client),
// from the INVITE to the BYE, a failed answer, or the client's connection closing; maintenance mode drains on them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPair, type Pair } from './pair.js';
import { waitFor } from '../support/log-capture.js';
import { clientOffer } from '../support/sdp.js';

// SRTP, as a client must offer it (core refuses a client's offer without a=crypto: media encryption is forced).
const SDP = clientOffer();
const answerInvites = (status: number) => (req: { method: string }) => (req.method === 'INVITE' ? status : 200);

let pair: Pair;
before(async () => {
  pair = await startPair();
});
after(async () => pair?.close());

type Sip = { calls: number; callList: Array<Record<string, unknown>>; callsEnded: Record<string, number> };
const edgeSip = () => pair.edgeStatus() as unknown as Sip;
const coreDoc = () => pair.core.status() as { sip: Sip; drain?: { drained: boolean; active: Record<string, number> } };
const coreSip = () => coreDoc().sip;

async function setMaintenance(on: boolean): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${pair.core.ports.admin}/api/maintenance`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ on }),
  });
  assert.equal(res.status, 200, await res.text());
}

test('a call from the inside is one leg on edge and core from its INVITE to its BYE, and maintenance mode waits for it', async () => {
  const alice = await pair.client('alice', { answer: answerInvites(200) });
  assert.equal((await alice.register()).status, 200);
  const invite = await pair.callControl.request('alice@example.com', 'INVITE', SDP, 'application/sdp');
  assert.equal(invite.status, 200, invite.reason);
  assert.ok(invite.dialog?.toTag, 'alice answered with a To tag');

  await waitFor('both nodes to list the answered call', () => edgeSip().calls === 1 && coreSip().calls === 1);
  for (const sip of [edgeSip(), coreSip()]) {
    const [leg] = sip.callList;
    assert.equal(leg?.client, 'alice@example.com');
    assert.equal(leg?.peer, 'callcontrol@example.com');
    assert.equal(leg?.direction, 'to client');
    assert.equal(leg?.state, 'active');
    assert.equal(leg?.callId, invite.dialog!.callId);
  }

  await setMaintenance(true);
  try {
    await waitFor('core to report it is draining on the call', () => coreDoc().drain?.drained === false);
    assert.equal(coreDoc().drain!.active['sip.calls'], 1);
    const bye = await pair.callControl.request('alice@example.com', 'BYE', '', 'text/plain', 5000, [], invite.dialog);
    assert.equal(bye.status, 200, bye.reason);
    await waitFor('both nodes to end the leg', () => edgeSip().calls === 0 && coreSip().calls === 0);
    assert.equal(edgeSip().callsEnded.bye, 1);
    assert.equal(coreSip().callsEnded.bye, 1);
    await waitFor('core to report it is drained', () => coreDoc().drain?.drained === true);
  } finally {
    await setMaintenance(false);
  }
  // The next test registers its own alice: this one leaves the registrar's bindings.
  assert.equal((await alice.register(0)).status, 200);
  alice.close();
});

test('a refused INVITE ends both legs at once; a client that disconnects ends its leg on the edge', async () => {
  const carol = await pair.client('carol', { answer: answerInvites(200) });
  const bob = await pair.client('bob', { answer: answerInvites(486) });
  assert.equal((await carol.register()).status, 200);
  assert.equal((await bob.register()).status, 200);
  const failedBefore = edgeSip().callsEnded.failed ?? 0;

  // carol calls bob through edge, core and call control and back: a leg for each client on each node.
  assert.equal((await carol.request('INVITE', 'sip:bob@example.com', SDP, 'application/sdp')).status, 486);
  await waitFor('the edge to end both legs as failed', () => edgeSip().callsEnded.failed === failedBefore + 2);
  assert.equal(edgeSip().calls, 0);

  const alice = await pair.client('alice', { answer: answerInvites(200) });
  assert.equal((await alice.register()).status, 200);
  assert.equal((await carol.request('INVITE', 'sip:alice@example.com', SDP, 'application/sdp')).status, 200);
  await waitFor('both legs active on the edge', () => edgeSip().calls === 2);
  const directions = edgeSip()
    .callList.map((l) => `${String(l.client)} ${String(l.direction)}`)
    .sort();
  assert.deepEqual(directions, ['alice@example.com to client', 'carol@example.com from client']);
  await waitFor('core to list both legs', () => coreSip().calls === 2);

  const flowClosedBefore = edgeSip().callsEnded.flowClosed ?? 0;
  alice.close();
  await waitFor('the edge to end the leg of the connection that closed', () => edgeSip().calls === 1);
  assert.equal(edgeSip().callsEnded.flowClosed, flowClosedBefore + 1);
  assert.equal(edgeSip().callList[0]?.client, 'carol@example.com');
});
