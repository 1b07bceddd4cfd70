// The call model driven without SDP text: core's SRTP B2BUA and the edge's relay policy over neutral streams, on a
// real media engine. Hold keeps ports and keys, a second m= line gets its own relay, a client's new key re-keys only
// what it receives, a leg serialises to plain data, and ending it closes every relay.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CallRegistry, type Leg, type SessionDescription, type StreamDescription } from '../../src/calls/index.js';
import { CoreMedia, DialogKeeper, EdgeMedia } from '../../src/sip/b2bua/index.js';
import { SdpError } from '../../src/sdp/index.js';
import type { MediaEngine } from '../../src/media/index.js';
import { createLogger } from '../../src/log/index.js';
import { startEngine } from '../media/helpers.js';
import { mediaRange } from '../support/media-range.js';

const log = createLogger({ level: 'silent' });
const at = { inside: '127.0.0.1', edge: '127.0.0.1', edgeHost: '127.0.0.1' };
let engine: MediaEngine;
let registry: CallRegistry;
let core: CoreMedia;
before(async () => {
  engine = await startEngine(mediaRange().port_min);
  registry = new CallRegistry();
  core = new CoreMedia({ engine, log, keepaliveMs: 15_000 });
});
after(async () => {
  registry.close();
  await engine.close();
});

const crypto = (tag: number, key = randomBytes(30)) =>
  `${tag} AES_CM_128_HMAC_SHA1_80 inline:${key.toString('base64')}`;
function stream(index: number, media: string, port: number, extra: Partial<StreamDescription> = {}): StreamDescription {
  return {
    index,
    media,
    address: '127.0.0.1',
    port,
    proto: 'RTP/AVP',
    formats: ['0'],
    rtcpMux: false,
    direction: 'sendrecv',
    crypto: [],
    ...extra,
  };
}
const session = (...streams: StreamDescription[]): SessionDescription => ({ address: '127.0.0.1', streams });
let n = 0;
const newLeg = (): Leg =>
  registry.open({
    callId: `call-${++n}`,
    client: 'alice@example.com',
    peer: 'desk@example.com',
    direction: 'to client',
    flow: null,
  });

test("an inside offer and the client's answer: core keys what it sends the client, takes the client's key, and plain RTP stays inside", () => {
  const leg = newLeg();
  const toClient = core.offerFromInside(leg, session(stream(0, 'audio', 40000)), at);
  const s = toClient.streams[0]!;
  assert.equal(s.proto, 'RTP/SAVP');
  assert.equal(s.port, leg.streams[0]!.relay.ports.b.rtp, "the client is offered core's edge leg");
  assert.match(s.crypto[0]!, /^1 AES_CM_128_HMAC_SHA1_80 inline:/);
  const clientKey = crypto(1);
  const toInside = core.answerFromEdge(
    leg,
    session(stream(0, 'audio', 36000, { proto: 'RTP/SAVP', crypto: [clientKey] })),
    at,
  );
  assert.deepEqual(
    [toInside.streams[0]!.proto, toInside.streams[0]!.crypto, toInside.streams[0]!.port],
    ['RTP/AVP', [], leg.streams[0]!.relay.ports.a.rtp],
  );
  const data = leg.toData().streams[0]!;
  assert.equal(
    data.legs.b.recv?.key,
    clientKey.split('inline:')[1],
    "what core receives from the client: the client's key",
  );
  assert.equal(data.legs.b.send?.key, data.keys.edge!.key, 'what it sends: its own');
  assert.equal(data.legs.a.recv, null, 'inside: plain');
  assert.equal(leg.answered, true);
});

test('hold and resume (a=sendonly, then sendrecv): the same relay, ports and key; the direction passes as the phone said it', () => {
  const leg = newLeg();
  const first = core.offerFromInside(leg, session(stream(0, 'audio', 40000)), at);
  const relay = leg.streams[0]!.relay;
  const held = core.offerFromInside(leg, session(stream(0, 'audio', 40000, { direction: 'sendonly' })), at);
  assert.equal(leg.streams[0]!.relay, relay, 'no new relay for a hold');
  assert.equal(held.streams[0]!.direction, 'sendonly');
  assert.deepEqual(
    [held.streams[0]!.port, held.streams[0]!.crypto],
    [first.streams[0]!.port, first.streams[0]!.crypto],
    'the client keeps port and key',
  );
  const resumed = core.offerFromInside(leg, session(stream(0, 'audio', 40002)), at);
  assert.equal(leg.streams[0]!.relay, relay);
  assert.equal(resumed.streams[0]!.direction, 'sendrecv');
  assert.equal(leg.toData().streams[0]!.legs.a.options.remote?.port, 40002, 'the phone moved: core sends there now');
});

test('a second m= line (video) gets its own relay; the audio one is untouched; an answer that turns video off closes only its relay', () => {
  const leg = newLeg();
  core.offerFromInside(leg, session(stream(0, 'audio', 40000)), at);
  const audio = leg.streams[0]!.relay;
  const both = core.offerFromInside(
    leg,
    session(stream(0, 'audio', 40000), stream(1, 'video', 40010, { formats: ['96'] })),
    at,
  );
  assert.equal(leg.relays, 2);
  assert.equal(leg.streams[0]!.relay, audio);
  assert.notEqual(both.streams[1]!.port, both.streams[0]!.port);
  assert.notEqual(both.streams[1]!.crypto[0], both.streams[0]!.crypto[0], 'each stream its own key');
  core.answerFromEdge(
    leg,
    session(
      stream(0, 'audio', 36000, { proto: 'RTP/SAVP', crypto: [crypto(1)] }),
      stream(1, 'video', 0, { proto: 'RTP/SAVP' }),
    ),
    at,
  );
  assert.equal(leg.relays, 1);
  assert.equal(leg.streams[0]!.relay, audio);
  assert.equal(leg.streams[1], undefined);
});

test('a re-key: the client answers a re-offer with a new key; core takes it for what it receives and keeps its own', () => {
  const leg = newLeg();
  core.offerFromInside(leg, session(stream(0, 'audio', 40000)), at);
  core.answerFromEdge(leg, session(stream(0, 'audio', 36000, { proto: 'RTP/SAVP', crypto: [crypto(1)] })), at);
  const before = leg.toData().streams[0]!;
  const newKey = crypto(1);
  core.offerFromInside(leg, session(stream(0, 'audio', 40000)), at);
  core.answerFromEdge(leg, session(stream(0, 'audio', 36000, { proto: 'RTP/SAVP', crypto: [newKey] })), at);
  const after = leg.toData().streams[0]!;
  assert.equal(after.legs.b.recv?.key, newKey.split('inline:')[1]);
  assert.notEqual(after.legs.b.recv?.key, before.legs.b.recv?.key);
  assert.equal(after.legs.b.send?.key, before.legs.b.send?.key, "core's own key stays");
});

test('an offer without a key core can use is refused with the reason, and leaves no relay on a new leg', () => {
  const leg = newLeg();
  assert.throws(
    () => core.offerFromClient(leg, session(stream(0, 'audio', 36000)), at),
    (e: unknown) => e instanceof SdpError && /media encryption is forced/.test((e as Error).message),
  );
  assert.equal(leg.relays, 0);
  assert.throws(
    () =>
      core.offerFromClient(
        leg,
        session(stream(0, 'audio', 36000, { proto: 'RTP/SAVP', crypto: ['1 AES_CM_128_HMAC_SHA1_80 inline:***'] })),
        at,
      ),
    /m= line 1, a=crypto 1: a=crypto key is not base64/,
  );
});

test("the edge: a client's offer waits for core's answer, which opens the relay on the mux pair; the leg serialises and closes with its relays", async (t) => {
  const edgeEngine = await startEngine(mediaRange().port_min, { muxPairs: 1 });
  t.after(() => edgeEngine.close());
  const edge = new EdgeMedia({ engine: edgeEngine, log, muxAddress: '127.0.0.1', publicAddress: '198.51.100.7' });
  const leg = newLeg();
  const toCore = edge.offerFromClient(
    leg,
    session(stream(0, 'audio', 50000, { proto: 'RTP/SAVP', crypto: [crypto(1)] })),
  );
  assert.equal(leg.relays, 0);
  assert.equal(toCore.streams[0]!.port, edgeEngine.info.muxPorts[leg.muxPair!]);
  assert.deepEqual(toCore.streams[0]!.crypto, leg.pendingOffer![0]!.crypto, 'a=crypto passes untouched');
  const toClient = edge.answerToClient(
    leg,
    session(stream(0, 'audio', 40020, { proto: 'RTP/SAVP', crypto: [crypto(1)] })),
    '127.0.0.1',
  );
  assert.equal(leg.relays, 1);
  assert.deepEqual([toClient.address, toClient.streams[0]!.address], ['198.51.100.7', '198.51.100.7']);
  const data = JSON.parse(JSON.stringify(leg.toData()));
  assert.equal(data.streams[0].legs.b.options.mux.pair, leg.muxPair);
  assert.equal(data.streams[0].fixedRemote, '127.0.0.1:40020');
  assert.deepEqual(data.streams[0].keys, {}, 'the edge holds no key');
  const relay = leg.streams[0]!.relay;
  registry.end(leg.key, 'bye');
  assert.equal(relay.closed, true);
  assert.equal(edge.counters.relaysClosed, 1);
});

test('a leg as plain data is restored on another node: its state and dialog, its relays on the same ports with the same keys, its session timer running on', async () => {
  const leg = newLeg();
  core.offerFromInside(leg, session(stream(0, 'audio', 40000)), at);
  core.answerFromEdge(leg, session(stream(0, 'audio', 36000, { proto: 'RTP/SAVP', crypto: [crypto(1)] })), at);
  leg.state = 'active';
  leg.dialog = {
    client: { uri: '<sip:alice@example.com>', tag: 'c', contact: 'sip:alice@192.0.2.1', cseq: 2 },
    inside: { uri: '<sip:desk@example.com>', tag: 'i', contact: 'sip:desk@192.0.2.2', cseq: 1 },
    toClient: [],
    toInside: [],
    insideConnection: null,
    sessionExpires: 1,
    refreshedAt: Date.now() - 800,
  };
  const data = leg.toData(true);
  assert.deepEqual(data.streams[0]!.srtp, { a: { recv: [], send: [] }, b: { recv: [], send: [] } });
  // The first node dies: its relays and ports are gone before the next node opens them.
  const relay = leg.streams[0]!.relay;
  registry.discard(leg.key);
  await relay.close();
  const elsewhere = new CallRegistry();
  const restored = elsewhere.restore(data)!;
  assert.equal(elsewhere.restore(data), null, 'a leg it has already is not restored twice');
  core.restore(restored, data, null);
  const again = restored.toData();
  assert.deepEqual(
    { ...again, streams: undefined, lastSeen: 0 },
    { ...leg.toData(), streams: undefined, lastSeen: 0 },
    'the same leg, dialog included',
  );
  const [was, now] = [data.streams[0]!, again.streams[0]!];
  assert.deepEqual(now.ports, was.ports, 'the same ports');
  assert.deepEqual([now.keys, now.legs.b.recv, now.legs.b.send], [was.keys, was.legs.b.recv, was.legs.b.send]);
  const ended: string[] = [];
  const keeper = new DialogKeeper({
    ownUser: 'mra-core2',
    node: 'core2',
    toEdge: () => true,
    toInside: () => false,
    end: (l, why) => {
      ended.push(why);
      elsewhere.end(l.key, why);
    },
    log,
  });
  keeper.resume(restored);
  const until = Date.now() + 3000;
  while (ended.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(ended, ['sessionExpired'], 'the session it was not refreshed in ends on the new node');
  assert.equal(elsewhere.size, 0);
  keeper.close();
  elsewhere.close();
});
