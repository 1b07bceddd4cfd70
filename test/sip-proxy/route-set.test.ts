// Route sets in dialogs: the edge and core record themselves on a dialog-forming request toward a client,
// so the client's in-dialog requests pass (edge first, then core); a route set that leads anywhere else is
// refused, by the edge out of a dialog and by core in one, before anything reaches the inside.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPair, type Pair } from './pair.js';
import { rawConnect, type RawConnection } from './raw.js';
import type { SipRequest } from '../../src/sip/message/index.js';
import { audioSdp } from '../support/sdp.js';

let pair: Pair;
let raw: RawConnection;
let recorded: string[] = [];
before(async () => {
  pair = await startPair();
  raw = await rawConnect(pair.edge.ports.sipTls!, pair.ca);
});
after(async () => {
  raw?.close();
  await pair?.close();
});

/** A MESSAGE from bob to alice with the given Route values, in a dialog (To tag) or not. */
function message(routes: string[], inDialog: boolean): string {
  const body = 'in the dialog';
  return [
    'MESSAGE sip:alice@example.com SIP/2.0',
    `Via: SIP/2.0/TLS 192.0.2.20:5061;branch=z9hG4bK${Math.random().toString(36).slice(2)}`,
    'Max-Forwards: 70',
    'From: <sip:bob@example.com>;tag=b1',
    `To: <sip:alice@example.com>${inDialog ? ';tag=a1' : ''}`,
    `Call-ID: ${Math.random().toString(36).slice(2)}@192.0.2.20`,
    'CSeq: 2 MESSAGE',
    ...routes.map((r) => `Route: ${r}`),
    'Content-Type: text/plain',
    `Content-Length: ${body.length}`,
    '',
    body,
  ].join('\r\n');
}

test('an INVITE from the inside reaches the client with the edge and core recorded in its route', async () => {
  const alice = await pair.client('alice');
  assert.equal((await alice.register()).status, 200);
  const seen = new Promise<SipRequest>((r) => alice.onRequest((req) => req.method === 'INVITE' && r(req)));
  assert.equal(
    (await pair.callControl.request('alice@example.com', 'INVITE', audioSdp(), 'application/sdp')).status,
    486,
  );
  recorded = (await seen).headerList('record-route');
  assert.equal(recorded.length, 2, recorded.join(' | '));
  assert.match(
    recorded[0]!,
    /^<sip:[A-Za-z0-9_-]+@127\.0\.0\.1:\d+;transport=tls;lr;ob>$/,
    "the edge, naming alice's flow",
  );
  assert.match(recorded[1]!, /^<sip:mra-core1@127\.0\.0\.1:\d+;transport=tcp;lr;ob>$/, 'then core');
});

test("a client's in-dialog request along the recorded route passes the edge and core", async () => {
  assert.equal(recorded.length, 2, 'needs the route the previous test recorded');
  raw.send(message(recorded, true));
  const got = await raw.next();
  assert.notEqual(got, 'closed');
  if (got !== 'closed') assert.equal(got.status, 200, got.text);
  // Call control recorded itself too (a real cluster does): core sends the request to the node it names.
  raw.send(message([...recorded, `<sip:127.0.0.1:${pair.callControl.ports.tcp};transport=tcp;lr>`], true));
  const again = await raw.next();
  assert.notEqual(again, 'closed');
  if (again !== 'closed') assert.equal(again.status, 200, again.text);
});

test('in a dialog, a Route past the edge to an inside host is refused by core', async () => {
  raw.send(message([recorded[0]!, '<sip:10.0.0.5:5060;lr>'], true));
  const got = await raw.next();
  assert.notEqual(got, 'closed');
  if (got !== 'closed') {
    assert.equal(got.status, 403);
    assert.match(got.text, /text="Route to a host that is not call control"/);
  }
  assert.ok(
    pair.coreLog
      .lines()
      .some((l) => l.msg === 'sip request refused' && l.reason === 'Route to a host that is not call control'),
  );
});

test('out of a dialog, any Route past the edge is refused by the edge', async () => {
  raw.send(message(recorded, false));
  const got = await raw.next();
  assert.notEqual(got, 'closed');
  if (got !== 'closed') {
    assert.equal(got.status, 403);
    assert.match(got.text, /text="Route to a host other than the edge"/);
  }
});

test("a Route naming the edge by any of its names passes: its certificate's DNS name and IP address, a domain it serves; any other name is refused", async () => {
  assert.equal(recorded.length, 2, 'needs alice registered by the first test');
  const port = pair.edge.ports.sipTls!;
  for (const name of ['edge.example.com', 'EDGE.example.com', '127.0.0.1', 'example.com']) {
    raw.send(message([`<sip:${name}:${port};transport=tls;lr>`], false));
    const got = await raw.next();
    assert.notEqual(got, 'closed');
    if (got !== 'closed') assert.equal(got.status, 200, `Route by ${name}: ${got.text}`);
  }
  // The route get_edge_config hands out names a core as the user part: it is still the edge's own entry.
  raw.send(message([`<sip:core1@edge.example.com:${port};transport=tls;lr>`], false));
  const viaRoute = await raw.next();
  if (viaRoute !== 'closed') assert.equal(viaRoute.status, 200, viaRoute.text);
  for (const other of [
    `<sip:other.example.com:${port};transport=tls;lr>`,
    `<sip:edge.example.com:${port + 1};transport=tls;lr>`,
    '<sip:edge.example.com;transport=tls;lr>',
  ]) {
    raw.send(message([other], false));
    const got = await raw.next();
    assert.notEqual(got, 'closed');
    if (got !== 'closed') assert.equal(got.status, 403, `Route ${other}: ${got.text}`);
  }
});

test('in a dialog between two remote clients (edge, core, call control, core, edge), core passes the far half on to call control', async () => {
  assert.equal(recorded.length, 2, 'needs the route the first test recorded');
  const cc = `<sip:127.0.0.1:${pair.callControl.ports.tcp};transport=tcp;lr;lab-cc>`;
  // The second half is the way back out to the other client (alice again here): call control follows it through core.
  raw.send(message([...recorded, cc, recorded[1]!, recorded[0]!], true));
  const got = await raw.next();
  assert.notEqual(got, 'closed');
  if (got !== 'closed') assert.equal(got.status, 200, got.text);
});
