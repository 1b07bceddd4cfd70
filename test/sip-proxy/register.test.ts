import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPair, type Pair } from './pair.js';
import { waitFor } from '../support/log-capture.js';
import { audioSdp } from '../support/sdp.js';

let pair: Pair;
before(async () => {
  pair = await startPair({ logLevel: 'debug' });
});
after(async () => pair?.close());

test('a client registers through edge and core, is challenged, and gets 200 with its binding and Path', async () => {
  const alice = await pair.client('alice');
  const r = await alice.register();
  assert.equal(alice.challenged, 1, 'the registrar challenged the first REGISTER');
  assert.equal(r.status, 200, r.reason);
  const contact = r.response!.header('contact')!;
  assert.match(contact, /^<sip:alice@127\.0\.0\.1:\d+;transport=tls;ob>;expires=\d+$/);
  const path = r.response!.header('path')!;
  // RFC 3327 §4.2: each proxy puts itself on top, so the registrar sees core (nearest) first, then the edge.
  assert.match(
    path,
    /^<sip:mra-core1@127\.0\.0\.1:\d+;transport=tcp;lr;ob>, <sip:[A-Za-z0-9_-]+@127\.0\.0\.1:\d+;transport=tls;lr;ob>$/,
  );
  assert.equal(r.response!.vias().length, 1, 'the hops took their own Vias off');
  const again = await alice.register();
  assert.equal(again.status, 200, 'a refresh with the same credentials passes without a new challenge');
  assert.equal(alice.challenged, 1);
  await waitFor('the edge to count the registration', () => pair.edgeStatus().registrations === 1);
});

test('the inside reaches the registered client over its own TLS connection (OPTIONS, MESSAGE)', async () => {
  const bob = await pair.client('bob');
  assert.equal((await bob.register()).status, 200);
  const options = await pair.callControl.request('bob@example.com', 'OPTIONS');
  assert.equal(options.status, 200, options.reason);
  const message = await pair.callControl.request('bob@example.com', 'MESSAGE', 'hello from the inside');
  assert.equal(message.status, 200, message.reason);
  assert.equal(bob.received.get('OPTIONS'), 1);
  assert.equal(bob.received.get('MESSAGE'), 1);
  const invite = await pair.callControl.request('bob@example.com', 'INVITE', audioSdp(), 'application/sdp');
  assert.equal(invite.status, 486, "the client's own answer to an INVITE comes back unchanged");
  assert.equal(bob.received.get('INVITE'), 1);
});

test('a domain-table NOTIFY relayed from the inside is refused and the edge keeps its table', async () => {
  const forged = JSON.stringify([{ name: 'evil.example.net', sip_registrations: true }]);
  const bob = await pair.client('bob');
  assert.equal((await bob.register()).status, 200);
  const r = await pair.callControl.request('bob@example.com', 'NOTIFY', forged, 'application/json', 8000, [
    ['Event', 'x-mra-domains'],
    ['Subscription-State', 'active'],
  ]);
  assert.equal(r.status, 403);
  const probe = await pair.client('bob', { domain: 'evil.example.net' });
  assert.equal((await probe.register()).status, 404, 'the edge still holds the table core sent');
  assert.equal(bob.received.get('NOTIFY'), undefined);
  assert.ok(pair.coreLog.lines().some((l) => l.msg === 'sip request refused: domain-table event from call control'));
});

test('one registration is followed across edge and core by one correlation id', async () => {
  const alice = await pair.client('alice');
  const r = await alice.register();
  assert.equal(r.status, 200);
  const callId = r.response!.callId();
  const bound = (log: Pair['edgeLog']) =>
    waitFor('the registration to be logged', () =>
      log.lines().find((l) => l.msg === 'sip registration bound' && l.callId === callId),
    );
  const [atEdge, atCore] = [await bound(pair.edgeLog), await bound(pair.coreLog)];
  assert.match(String(atEdge.corr), /^[A-Za-z0-9_-]{10}$/);
  assert.equal(atCore.corr, atEdge.corr, 'both nodes log the registration under the same id');
  // The challenge round and the answer: two REGISTERs through each node, both under the registration's id.
  const hops = (log: Pair['edgeLog'], msg: string) =>
    log.lines().filter((l) => l.msg === msg && l.corr === atEdge.corr).length;
  assert.equal(hops(pair.edgeLog, 'sip request to core'), 2);
  assert.equal(hops(pair.coreLog, 'sip request to call control'), 2);
  assert.equal((await alice.register()).status, 200);
  assert.equal(hops(pair.coreLog, 'sip request to call control'), 3, 'a refresh keeps the id');
});
