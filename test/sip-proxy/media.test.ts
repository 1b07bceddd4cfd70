// Media through the pair, real UDP and real SRTP on loopback: the inside's plain RTP reaches the client as SRTP
// under core's key (checked with werift, not libsrtp), the client's SRTP reaches the inside as RTP, both call
// directions and a delayed offer (the offer in the 200, the answer in the ACK); the edge's SDP names its own ports
// and passes a=crypto untouched; unencrypted or unusable offers get 488 and malformed ones 400, each with a Warning; a forged packet counts an auth failure and
// reaches nobody; every port is back when the call ends.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { SrtpSession } from 'werift-rtp';
import { clientSrtp, protect } from '../support/client-srtp.js';
import { Sdp, parseCrypto } from '../../src/sdp/index.js';
import { tagOf, type SipRequest, type SipResponse } from '../../src/sip/message/index.js';
import { startPair, type Pair } from './pair.js';
import type { Dialog } from '../../src/lab/call-control.js';
import { waitFor } from '../support/log-capture.js';
import { Peer, rtcpRr, rtp } from '../media/helpers.js';
import { uasResponse } from '../../src/lab/uas.js';
import { ReferenceSrtp } from '../media/srtp-reference.js';
import { SRTP_SUITE, audioSdp } from '../support/sdp.js';
import { mediaRange } from '../support/media-range.js';

let pair: Pair;
before(async () => {
  pair = await startPair();
});
after(async () => pair?.close());

type Media = { calls: number; relays: number; portPairsInUse: number; authFailures: number; offersRefused: number };
const edgeMedia = () => (pair.edge.status() as { media: Media }).media;
const coreMedia = () => (pair.core.status() as { media: Media }).media;
type Leg = {
  client: string;
  media: Array<{ a: Record<string, number | string>; b: Record<string, number | string> }> | null;
};
const edgeLegs = () => (pair.edge.status() as { sip: { callList: Leg[] } }).sip.callList;
const coreLegs = () => (pair.core.status() as { sip: { callList: Leg[] } }).sip.callList;

const SUITE = SRTP_SUITE;
const sdp = audioSdp;

const stream = (ssrc: number, n: number, from = 1) =>
  Array.from({ length: n }, (_, i) => rtp(from + i, ssrc, { fill: i }));

/**
 * Five packets each way on a live call: the inside's plain RTP to `insideTo` reaches the client under core's key,
 * and the client's SRTP to `clientTo` reaches the inside as the plain RTP it protected.
 */
async function bothWays(
  session: SrtpSession,
  inside: Peer,
  client: Peer,
  insideTo: number,
  clientTo: number,
  ssrcs: [number, number],
): Promise<void> {
  const sent = stream(ssrcs[0], 5);
  for (const p of sent) await inside.send(p, insideTo);
  await client.waitFor(5);
  assert.deepEqual(
    client.received.map((x) => session.decrypt(x.data)),
    sent,
  );
  const back = stream(ssrcs[1], 5);
  for (const p of back) await client.send(protect(session, p), clientTo);
  await inside.waitFor(5);
  assert.deepEqual(
    inside.received.map((x) => x.data),
    back,
  );
}

/** The dialog a client's answered INVITE formed, as the inside party sees it (to send the BYE from the inside). */
const insideDialog = (res: SipResponse) => ({
  callId: res.callId(),
  fromTag: tagOf(res.to())!,
  toTag: tagOf(res.from())!,
  cseq: 10,
});

/** No call and no relay on either node and, given the pools' figures from before, every port back (a relay's ports return as its close completes). */
async function idle(ports?: number[]): Promise<void> {
  await waitFor(
    'no call and no relay left on either node',
    () => edgeMedia().calls === 0 && coreMedia().calls === 0 && edgeMedia().relays === 0 && coreMedia().relays === 0,
  );
  if (ports)
    await waitFor(
      'every port back in both pools',
      () => edgeMedia().portPairsInUse === ports[0] && coreMedia().portPairsInUse === ports[1],
    );
}

/** The inside hangs up (`dialog` as the inside knows it): the BYE is answered 200, and then nothing is left on either node. */
async function hangUp(aor: string, dialog: Dialog, basePorts?: number[]): Promise<void> {
  assert.equal((await pair.callControl.request(aor, 'BYE', '', 'text/plain', 5000, [], dialog)).status, 200);
  await idle(basePorts);
}

/** A call's start: nothing left of the last test, the pools' figures now, and UDP peers for an inside phone and a client. */
async function callStart(t: TestContext): Promise<{ basePorts: number[]; inside: Peer; client: Peer }> {
  await idle();
  const basePorts = [edgeMedia().portPairsInUse, coreMedia().portPairsInUse];
  const inside = await Peer.open();
  const client = await Peer.open();
  t.after(() => {
    inside.close();
    client.close();
  });
  return { basePorts, inside, client };
}

test("a call from the inside: plain RTP in, SRTP under core's key out to the client, and back; BYE frees every port", async (t) => {
  const { basePorts, inside, client } = await callStart(t);
  const clientKey = randomBytes(30);
  let offer: Sdp | undefined;
  const alice = await pair.client('alice', {
    answer: (req: SipRequest) => {
      if (req.method !== 'INVITE') return 200;
      offer = Sdp.parse(req.body);
      return { status: 200, body: sdp(client.port, { proto: 'RTP/SAVP', key: clientKey }) };
    },
  });
  t.after(() => alice.close());
  assert.equal((await alice.register()).status, 200);
  const invite = await pair.callControl.request(
    'alice@example.com',
    'INVITE',
    sdp(inside.port, { extra: 'a=x-vendor:kept as it was' }),
    'application/sdp',
  );
  assert.equal(invite.status, 200, invite.reason);

  // What the client was offered: the edge's address and an external port, RTP/SAVP, core's key, the rest untouched.
  const m = offer!.media[0]!;
  assert.equal(m.proto, 'RTP/SAVP');
  assert.equal(m.address, '127.0.0.1');
  assert.ok(m.port !== inside.port && m.port > 0);
  const cryptos = m.attributes('crypto').map((v) => parseCrypto(v, 'offer'));
  assert.deepEqual(
    cryptos.map((c) => [c.tag, c.suite, c.keySalt.length]),
    [[1, SUITE, 30]],
  );
  assert.deepEqual(m.attributes('x-vendor'), ['kept as it was']);
  assert.deepEqual(m.attributes('rtpmap'), ['0 PCMU/8000', '101 telephone-event/8000']);
  // What the inside got back: core's plain RTP leg, no key.
  const answer = Sdp.parse(invite.body!).media[0]!;
  assert.equal(answer.proto, 'RTP/AVP');
  assert.equal(answer.attributes('crypto').length, 0);
  assert.ok(answer.port !== client.port);

  // Inside -> client: the inside sends first (core opens the traversal flow), the client decrypts with core's key.
  const session = clientSrtp(clientKey, cryptos[0]!.keySalt);
  const sent = stream(0x1111, 10);
  for (const p of sent) await inside.send(p, answer.port);
  await client.waitFor(10);
  for (const [i, r] of client.received.entries()) {
    assert.equal(r.port, m.port, 'from the edge port the client was told');
    assert.ok(r.data.length > sent[i]!.length, 'with an SRTP tag');
    assert.deepEqual(session.decrypt(r.data), sent[i], "decrypts under core's key to what the inside sent");
  }
  // Client -> inside: SRTP under the client's key, plain RTP at the inside, from core's port.
  const back = stream(0x2222, 10);
  for (const p of back) await client.send(protect(session, p), m.port);
  await inside.waitFor(10);
  assert.deepEqual(
    inside.received.map((r) => r.data),
    back,
  );
  assert.ok(inside.received.every((r) => r.port === answer.port));

  await waitFor('both nodes to list the leg with its media', () => {
    const [e, c] = [edgeLegs()[0]?.media?.[0], coreLegs()[0]?.media?.[0]];
    return (
      e &&
      c &&
      Number(e.a.packetsIn) === 10 &&
      Number(e.b.packetsIn) === 10 &&
      Number(c.a.packetsIn) === 10 &&
      Number(c.b.packetsIn) === 10
    );
  });
  assert.equal(edgeLegs()[0]!.media![0]!.a.latched, `127.0.0.1:${client.port}`);
  assert.deepEqual(
    [edgeMedia().portPairsInUse, coreMedia().portPairsInUse],
    [basePorts[0]! + 1, basePorts[1]! + 2],
    'the edge opens one pair (the mux is shared), core two',
  );

  // A re-INVITE moves the inside's media to another port: the same relays (no new port), the same key for the client.
  const moved = await Peer.open();
  t.after(() => moved.close());
  const reinvite = await pair.callControl.request(
    'alice@example.com',
    'INVITE',
    sdp(moved.port),
    'application/sdp',
    5000,
    [],
    invite.dialog,
  );
  assert.equal(reinvite.status, 200);
  const m2 = offer!.media[0]!;
  assert.equal(m2.port, m.port, 'the client keeps the edge port');
  assert.deepEqual(parseCrypto(m2.attributes('crypto')[0]!, 're-offer').keySalt, cryptos[0]!.keySalt, "and core's key");
  assert.equal(Sdp.parse(reinvite.body!).media[0]!.port, answer.port, "the inside keeps core's port");
  // Packet 13 never leaves the inside: each hop downstream counts it lost (RFC 3550 sequence numbers), none upstream.
  const later = stream(0x1111, 5, 11).filter((_, i) => i !== 2);
  for (const p of later) await moved.send(p, answer.port);
  await client.waitFor(14);
  assert.deepEqual(
    client.received.slice(10).map((r) => session.decrypt(r.data)),
    later,
  );
  for (const p of stream(0x2222, 5, 11)) await client.send(protect(session, p), m.port);
  await moved.waitFor(5);
  await waitFor(
    'both nodes to count the lost packet',
    () =>
      Number(coreLegs()[0]?.media?.[0]?.a.rtpExpected) === 15 &&
      Number(edgeLegs()[0]?.media?.[0]?.b.rtpExpected) === 15,
  );
  const loss = (l: Record<string, number | string>) => [l.rtpExpected, l.rtpLost, l.lossPercent];
  const [edgeStream, coreStream] = [edgeLegs()[0]!.media![0]!, coreLegs()[0]!.media![0]!];
  assert.deepEqual(loss(coreStream.a), [15, 1, 6.7], 'core, from the inside');
  assert.deepEqual(loss(edgeStream.b), [15, 1, 6.7], 'the edge, from core');
  assert.deepEqual(loss(edgeStream.a), [15, 0, 0], 'the edge, from the client');
  assert.deepEqual(loss(coreStream.b), [15, 0, 0], 'core, from the edge');
  assert.deepEqual([edgeMedia().portPairsInUse, coreMedia().portPairsInUse], [basePorts[0]! + 1, basePorts[1]! + 2]);

  await hangUp('alice@example.com', reinvite.dialog!, basePorts);
  assert.equal((await alice.register(0)).status, 200);
});

test("a 2xx the client sends again, and a re-INVITE that keeps the keys, leave core's SRTP sessions running: the SRTCP index the client sees goes on", async (t) => {
  const { basePorts, inside, client } = await callStart(t);
  const clientKey = randomBytes(30);
  const answerSdp = sdp(client.port, { proto: 'RTP/SAVP', key: clientKey, extra: 'a=rtcp-mux' });
  let invited: SipRequest | undefined;
  const alice = await pair.client('alice', {
    answer: (req: SipRequest) => {
      if (req.method !== 'INVITE') return 200;
      invited = req;
      return { status: 200, body: answerSdp };
    },
  });
  t.after(() => alice.close());
  assert.equal((await alice.register()).status, 200);
  const invite = await pair.callControl.request(
    'alice@example.com',
    'INVITE',
    sdp(inside.port, { extra: 'a=rtcp-mux' }),
    'application/sdp',
  );
  assert.equal(invite.status, 200, invite.reason);
  const toCore = Sdp.parse(invite.body!).media[0]!;
  // RTCP from the inside reaches the client as SRTCP under core's key: E flag and 31-bit index before the 10-byte tag.
  const srtcpIndex = async (): Promise<number> => {
    const before = client.received.length;
    await inside.send(rtcpRr(0x3333), toCore.port);
    await client.waitFor(before + 1);
    const p = client.received[before]!.data;
    return p.readUInt32BE(p.length - 14) & 0x7fffffff;
  };
  const first = await srtcpIndex();
  assert.equal(await srtcpIndex(), first + 1);
  // A UAS sends its 2xx again until the ACK comes (RFC 3261 §13.3.1.4): the same answer passes core again.
  alice.sendRaw(
    uasResponse(
      invited!,
      { status: 200, body: answerSdp },
      '<sip:alice@127.0.0.1;transport=tls>',
      invite.dialog!.toTag!,
    ).serialize(),
  );
  // Edge and core handle the client's messages in order: once an OPTIONS sent after it is answered, core has read the 2xx.
  assert.equal((await alice.request('OPTIONS', 'sip:example.com')).status, 200);
  assert.equal(
    await srtcpIndex(),
    first + 2,
    "a repeated 2xx must not start core's session over (the client would drop what follows as replayed)",
  );
  const reinvite = await pair.callControl.request(
    'alice@example.com',
    'INVITE',
    sdp(inside.port, { extra: 'a=rtcp-mux' }),
    'application/sdp',
    5000,
    [],
    invite.dialog,
  );
  assert.equal(reinvite.status, 200);
  assert.equal(await srtcpIndex(), first + 3, 'nor a re-INVITE whose answer keeps the key');
  await hangUp('alice@example.com', reinvite.dialog!, basePorts);
  assert.equal((await alice.register(0)).status, 200);
});

test("a delayed offer from the inside (an INVITE without SDP, as in Unified CM's re-INVITEs): the client offers in its 200, the inside answers in the ACK, media flows", async (t) => {
  const { basePorts, inside, client } = await callStart(t);
  const clientKey = randomBytes(30);
  const acks: SipRequest[] = [];
  const alice = await pair.client('alice', {
    answer: (req: SipRequest) =>
      req.method === 'INVITE' ? { status: 200, body: sdp(client.port, { proto: 'RTP/SAVP', key: clientKey }) } : 200,
  });
  alice.onRequest((req) => req.method === 'ACK' && acks.push(req));
  t.after(() => alice.close());
  assert.equal((await alice.register()).status, 200);

  const ackedSdp = async (n: number) => {
    await waitFor(`ACK ${n} at the client`, () => acks.length >= n);
    return Sdp.parse(acks[n - 1]!.body).media[0]!;
  };
  const invite = await pair.callControl.request('alice@example.com', 'INVITE', '', 'application/sdp');
  assert.equal(invite.status, 200, invite.reason);
  // The client's offer reaches the inside as core's plain RTP leg, without a key.
  const offered = Sdp.parse(invite.body!).media[0]!;
  assert.deepEqual([offered.proto, offered.attributes('crypto').length], ['RTP/AVP', 0]);
  assert.ok(offered.port !== client.port);
  // The inside's answer, in the ACK, reaches the client as the edge's port with core's key.
  assert.ok(pair.callControl.ack('alice@example.com', invite.dialog!, sdp(inside.port)));
  const m = await ackedSdp(1);
  assert.deepEqual([m.proto, m.address], ['RTP/SAVP', '127.0.0.1']);
  assert.ok(m.port !== inside.port);
  const coreKey = parseCrypto(m.attributes('crypto')[0]!, 'ack');
  const session = clientSrtp(clientKey, coreKey.keySalt);
  await bothWays(session, inside, client, offered.port, m.port, [0x1111, 0x2222]);
  assert.ok(client.received.every((r) => r.port === m.port));

  // A re-INVITE without SDP on the live call: the same ports and key each way, no new relay.
  const reinvite = await pair.callControl.request(
    'alice@example.com',
    'INVITE',
    '',
    'application/sdp',
    5000,
    [],
    invite.dialog,
  );
  assert.equal(reinvite.status, 200);
  assert.equal(Sdp.parse(reinvite.body!).media[0]!.port, offered.port);
  assert.ok(pair.callControl.ack('alice@example.com', reinvite.dialog!, sdp(inside.port)));
  const m2 = await ackedSdp(2);
  assert.equal(m2.port, m.port);
  assert.deepEqual(parseCrypto(m2.attributes('crypto')[0]!, 'ack 2').keySalt, coreKey.keySalt);
  assert.deepEqual([edgeMedia().portPairsInUse, coreMedia().portPairsInUse], [basePorts[0]! + 1, basePorts[1]! + 2]);

  await hangUp('alice@example.com', reinvite.dialog!, basePorts);
  assert.equal((await alice.register(0)).status, 200);
});

test("a delayed offer from the client: the inside offers in its 200, which reaches the client as SRTP, and the client's answer in the ACK reaches the inside as plain RTP", async (t) => {
  const { basePorts, inside, client } = await callStart(t);
  let ack: SipRequest | undefined;
  t.after(() => pair.callControl.phones.delete('desk'));
  pair.callControl.phones.set('desk', (req) => {
    if (req.method === 'ACK') ack = req;
    return req.method === 'INVITE' ? { status: 200, body: sdp(inside.port) } : { status: 200 };
  });
  const carol = await pair.client('carol');
  t.after(() => carol.close());
  assert.equal((await carol.register()).status, 200);
  const r = await carol.request('INVITE', 'sip:desk@example.com', '', 'application/sdp');
  assert.equal(r.status, 200, r.reason);
  // The inside's plain offer reaches the client as the edge's port under core's key.
  const offered = Sdp.parse(r.response!.body).media[0]!;
  assert.deepEqual([offered.proto, offered.address], ['RTP/SAVP', '127.0.0.1']);
  const coreKey = parseCrypto(offered.attributes('crypto')[0]!, 'offer');
  const clientKey = randomBytes(30);
  assert.ok(carol.ack('sip:desk@example.com', r.response!, sdp(client.port, { proto: 'RTP/SAVP', key: clientKey })));
  await waitFor('the ACK at the inside', () => ack !== undefined);
  const answered = Sdp.parse(ack!.body).media[0]!;
  assert.deepEqual(
    [answered.proto, answered.attributes('crypto').length],
    ['RTP/AVP', 0],
    "the client's key stays with core",
  );
  const session = clientSrtp(clientKey, coreKey.keySalt);
  await bothWays(session, inside, client, answered.port, offered.port, [0x4444, 0x5555]);
  await hangUp('carol@example.com', insideDialog(r.response!), basePorts);
  assert.equal((await carol.register(0)).status, 200);
});

test("a call from the client: its SRTP offer reaches the inside as plain RTP/AVP, the answer carries core's key", async (t) => {
  const { basePorts, inside, client } = await callStart(t);
  t.after(() => pair.callControl.phones.delete('desk'));
  let offered: Sdp | undefined;
  pair.callControl.phones.set('desk', (req) => {
    if (req.method !== 'INVITE') return { status: 200 };
    offered = Sdp.parse(req.body);
    return { status: 200, body: sdp(inside.port) };
  });
  const carol = await pair.client('carol');
  t.after(() => carol.close());
  assert.equal((await carol.register()).status, 200);
  const clientKey = randomBytes(30);
  const r = await carol.request(
    'INVITE',
    'sip:desk@example.com',
    sdp(client.port, { proto: 'RTP/SAVP', key: clientKey }),
    'application/sdp',
  );
  assert.equal(r.status, 200, r.reason);
  const toInside = offered!.media[0]!;
  assert.equal(toInside.proto, 'RTP/AVP');
  assert.equal(toInside.attributes('crypto').length, 0, 'no key goes to the inside');
  const answer = Sdp.parse(r.response!.body).media[0]!;
  assert.equal(answer.proto, 'RTP/SAVP');
  const coreKey = parseCrypto(answer.attributes('crypto')[0]!, 'answer');
  assert.equal(coreKey.tag, 1);
  assert.notDeepEqual(coreKey.keySalt, clientKey);
  const session = clientSrtp(clientKey, coreKey.keySalt);

  // The inside sends first: core's first packet opens the way through the traversal mux.
  await bothWays(session, inside, client, toInside.port, answer.port, [0x3333, 0x4444]);

  // Forged packets from the internet at the edge's port (right SSRC, wrong key; garbage): from another source the
  // edge drops them (it relays only the latched client); with the client's own source (spoofed) they pass the edge,
  // which holds no key, and core's authentication drops and counts them. The inside gets nothing either way.
  const forger = await Peer.open();
  t.after(() => forger.close());
  const forged = protect(clientSrtp(randomBytes(30), randomBytes(30)), rtp(6, 0x4444));
  await forger.send(forged, answer.port);
  await forger.send(randomBytes(40), answer.port);
  await waitFor('the edge to drop both', () => Number(edgeLegs()[0]?.media?.[0]?.a.dropped) === 2);
  await client.send(forged, answer.port);
  await waitFor(
    'core to count the auth failure',
    () => coreMedia().authFailures === 1 && Number(coreLegs()[0]?.media?.[0]?.b.authFailures) === 1,
  );
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(inside.received.length, 5, 'nothing more reached the inside');

  // The desk phone hangs up (call control sends BYE towards carol).
  const dialog = insideDialog(r.response!);
  await hangUp('carol@example.com', dialog, basePorts);
  assert.equal((await carol.register(0)).status, 200);
});

test('core answers a client under the tag and suite of the first a=crypto it can run (AES-256 here, an MKI line skipped)', async (t) => {
  await idle();
  const inside = await Peer.open();
  t.after(() => {
    inside.close();
    pair.callControl.phones.delete('desk');
  });
  pair.callControl.phones.set('desk', (req) =>
    req.method === 'INVITE' ? { status: 200, body: sdp(inside.port) } : { status: 200 },
  );
  const carol = await pair.client('carol');
  t.after(() => carol.close());
  assert.equal((await carol.register()).status, 200);
  const key = randomBytes(46);
  const lines = [
    `a=crypto:7 AES_256_CM_HMAC_SHA1_80 inline:${randomBytes(46).toString('base64')}|2^31|1:4`,
    `a=crypto:8 AES_256_CM_HMAC_SHA1_80 inline:${key.toString('base64')}`,
    `a=crypto:9 ${SUITE} inline:${randomBytes(30).toString('base64')}`,
  ];
  const r = await carol.request(
    'INVITE',
    'sip:desk@example.com',
    sdp(40000, { proto: 'RTP/SAVP', extra: lines.join('\r\n') }),
    'application/sdp',
  );
  assert.equal(r.status, 200, r.reason);
  const answer = Sdp.parse(r.response!.body).media[0]!;
  const chosen = answer.attributes('crypto').map((v) => parseCrypto(v, 'answer'));
  assert.deepEqual(
    chosen.map((c) => [c.tag, c.suite, c.keySalt.length]),
    [[8, 'AES_256_CM_HMAC_SHA1_80', 46]],
  );
  // The client's SRTP under its AES-256 key (an RFC 3711/6188 reference on node:crypto, not libsrtp) arrives as RTP.
  const ref = new ReferenceSrtp({ keyLength: 32, tagLength: 10 }, key);
  const sent = stream(0x5555, 5);
  const client = await Peer.open();
  t.after(() => client.close());
  for (const p of sent) await client.send(ref.protect(p), answer.port);
  await inside.waitFor(5);
  assert.deepEqual(
    inside.received.map((x) => x.data),
    sent,
  );
  const dialog = insideDialog(r.response!);
  await hangUp('carol@example.com', dialog);
  assert.equal((await carol.register(0)).status, 200);
});

test('offers a call cannot use get 488, malformed ones 400, each with the reason and a Warning, and leave no relay or port behind', async (t) => {
  await idle();
  const basePorts = [edgeMedia().portPairsInUse, coreMedia().portPairsInUse];
  const baseRefused = [edgeMedia().offersRefused, coreMedia().offersRefused];
  const carol = await pair.client('carol');
  t.after(() => carol.close());
  assert.equal((await carol.register()).status, 200);
  // RFC 3261 §20.43: Warning: 399 <the refusing node> "<why>", besides the Reason (RFC 3326); the pair's edge is
  // known by its public address, core by its name.
  const EDGE_HOST = '127.0.0.1';
  const refused = async (body: string, status: number, reason: RegExp, agent: string) => {
    const r = await carol.request('INVITE', 'sip:bob@example.com', body, 'application/sdp');
    assert.equal(r.status, status, r.reason);
    assert.match(r.response?.header('reason') ?? '', reason);
    const warning = r.response?.header('warning') ?? '';
    assert.match(
      warning,
      new RegExp(`^399 ${agent.replace(/\./g, '\\.')} "`),
      `the Warning names who refused: ${warning}`,
    );
    assert.match(warning, reason, 'and says why');
  };
  await refused(sdp(40000), 488, /media encryption is forced/, 'core1');
  await refused(
    sdp(40000, {
      proto: 'RTP/SAVP',
      extra: 'a=crypto:1 F8_128_HMAC_SHA1_80 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj',
    }),
    488,
    /media encryption is forced/,
    'core1',
  );
  // Malformed (RFC 8866 requires o=, s=, t=): 400, distinct from SDP that is well-formed but unusable.
  await refused('v=0\r\ns=-\r\n', 400, /no o= line/, EDGE_HOST);
  await refused(
    sdp(40000, { key: randomBytes(30), proto: 'RTP/SAVP' }).replace('c=IN IP4 127.0.0.1', 'c=IN IP6 ::1'),
    488,
    /IPv6 media is not supported/,
    EDGE_HOST,
  );
  // A stream without any c= breaks a MUST of RFC 8866 §5.7: core answers the inside 400 with the line named.
  const inside = await pair.callControl.request(
    'carol@example.com',
    'INVITE',
    'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n',
    'application/sdp',
  );
  assert.equal(inside.status, 400, "core refuses the inside's malformed offer too");
  await idle(basePorts);
  // The edge refuses what does not parse; core what is not encrypted, and the inside's offer without c=.
  assert.deepEqual([edgeMedia().offersRefused - baseRefused[0]!, coreMedia().offersRefused - baseRefused[1]!], [2, 3]);
  assert.equal((await carol.register(0)).status, 200);
});

test("relays go with the leg: a refused INVITE frees both nodes' at once, a client whose connection closes frees the edge's", async (t) => {
  await idle();
  const basePorts = [edgeMedia().portPairsInUse, coreMedia().portPairsInUse];
  const bob = await pair.client('bob', { answer: (req) => (req.method === 'INVITE' ? 486 : 200) });
  t.after(() => bob.close());
  assert.equal((await bob.register()).status, 200);
  assert.equal(
    (await pair.callControl.request('bob@example.com', 'INVITE', sdp(40000), 'application/sdp')).status,
    486,
  );
  await idle(basePorts);

  const client = await Peer.open();
  t.after(() => client.close());
  const alice = await pair.client('alice', {
    answer: (req) =>
      req.method === 'INVITE'
        ? { status: 200, body: sdp(client.port, { proto: 'RTP/SAVP', key: randomBytes(30) }) }
        : 200,
  });
  assert.equal((await alice.register()).status, 200);
  const invite = await pair.callControl.request('alice@example.com', 'INVITE', sdp(40000), 'application/sdp');
  assert.equal(invite.status, 200);
  await waitFor(
    "the edge to hold the call's relay",
    () => edgeMedia().relays === 1 && edgeMedia().portPairsInUse === basePorts[0]! + 1,
  );
  alice.close();
  await waitFor(
    'the edge to free it with the flow',
    () => edgeMedia().relays === 0 && edgeMedia().portPairsInUse === basePorts[0],
  );
  assert.equal(coreMedia().relays, 1, "core learns nothing of the flow: its leg ends with call control's BYE");
  assert.equal(
    (await pair.callControl.request('alice@example.com', 'BYE', '', 'text/plain', 5000, [], invite.dialog)).status,
    430,
  );
  await idle(basePorts);
});

test('a node at capacity.calls answers a new call 503 with Retry-After; a silent answered call is reported, not ended', async (t) => {
  const small = await startPair({
    core: { capacity: { calls: 1 }, media: { ...mediaRange(), address: '127.0.0.1', timeout_s: 0.3 } },
  });
  t.after(() => small.close());
  const alice = await small.client('alice', {
    answer: (req) =>
      req.method === 'INVITE' ? { status: 200, body: sdp(40010, { proto: 'RTP/SAVP', key: randomBytes(30) }) } : 200,
  });
  assert.equal((await alice.register()).status, 200);
  const first = await small.callControl.request('alice@example.com', 'INVITE', sdp(40000), 'application/sdp');
  assert.equal(first.status, 200);
  const second = await small.callControl.request('alice@example.com', 'INVITE', sdp(40002), 'application/sdp');
  assert.equal(second.status, 503);
  const third = await alice.request(
    'INVITE',
    'sip:bob@example.com',
    sdp(40004, { proto: 'RTP/SAVP', key: randomBytes(30) }),
    'application/sdp',
  );
  assert.equal(third.status, 503);
  assert.equal(third.response?.header('retry-after'), '5');
  assert.match(third.response?.header('reason') ?? '', /Call capacity reached/);
  const media = (small.core.status() as { media: { calls: number; capacity: number } }).media;
  assert.deepEqual([media.calls, media.capacity], [1, 1]);
  const alarms = (small.core.status() as { alarms: Array<{ id: string }> }).alarms.map((a) => a.id);
  assert.ok(alarms.includes('media.capacity'), `the capacity alarm is raised: ${alarms.join(', ')}`);
  // Nobody sends on the answered call: core's relay legs time out, which is logged and counted; the call stays.
  await waitFor(
    'core to report the media timeout',
    () => (small.core.status() as { media: { mediaTimeouts: number } }).media.mediaTimeouts >= 1,
  );
  assert.ok(small.coreLog.lines().some((l) => l.msg === 'media timeout on an answered call'));
  assert.equal((small.core.status() as { media: { calls: number } }).media.calls, 1);
});
