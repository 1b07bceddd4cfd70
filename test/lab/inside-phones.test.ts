// The lab's inside phones as endpoints a remote client calls through the edge and core: the room endpoint answers
// audio and video (RTP on each stream, reaching the client as SRTP under core's key), answers a hold with a=recvonly
// and the resume with a=sendrecv on the same ports, hears the client's RFC 4733 digits, and ends with the client's
// BYE; the desk phone (no camera) answers the audio and turns the video line off.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RtpPacket } from 'werift-rtp';
import { clientSrtp, protect } from '../support/client-srtp.js';
import type { Lab } from '../../src/lab/index.js';
import { SipClient } from '../../src/lab/sip-client.js';
import { digitPackets } from '../../src/lab/dtmf.js';
import { Sdp, parseCrypto } from '../../src/sdp/index.js';
import { Peer, rtp } from '../media/helpers.js';
import { waitFor } from '../support/log-capture.js';
import { startTestLab } from '../support/lab.js';
import { SRTP_SUITE } from '../support/sdp.js';

let dir: string;
let lab: Lab;
let client: SipClient;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mra-inside-phones-'));
  // The scheduled calls are off: this test places its own.
  lab = await startTestLab(dir, { deskPhone: false });
  client = new SipClient({
    host: lab.configs.edge.public.address,
    port: lab.edge.ports.sipTls!,
    servername: 'edge.lab.example.com',
    ca: readFileSync(lab.configs.edge.tls.ca_file, 'utf8'),
    user: 'carol',
    password: 'carol-pw',
    domain: 'lab.example.com',
    expiresS: 300,
    timeoutMs: 5000,
  });
  await client.connect();
  // The traversal link comes up on its own time: register once core answers for the domain.
  await waitFor('carol registered through the edge', async () => (await client.register()).status === 200, 30_000, 300);
});

after(async () => {
  client?.close();
  await lab?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The client's offer: audio (PCMU, telephone-event) and H.264 video, each RTP/SAVP with its own key. */
function offer(ports: [number, number], keys: [Buffer, Buffer], direction = 'sendrecv'): string {
  return [
    'v=0',
    'o=carol 1 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${ports[0]} RTP/SAVP 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    `a=${direction}`,
    `a=crypto:1 ${SRTP_SUITE} inline:${keys[0].toString('base64')}`,
    `m=video ${ports[1]} RTP/SAVP 97`,
    'a=rtpmap:97 H264/90000',
    `a=${direction}`,
    `a=crypto:1 ${SRTP_SUITE} inline:${keys[1].toString('base64')}`,
    '',
  ].join('\r\n');
}

/** Sends to where an answer's m= line points (the lab's edge is on its own alias, not 127.0.0.1). */
const sendTo = (peer: Peer, data: Buffer, m: { address: string; port: number }) =>
  new Promise<void>((resolve, reject) =>
    peer.socket.send(data, m.port, m.address, (err) => (err ? reject(err) : resolve())),
  );

const directions = (body: Buffer) =>
  Sdp.parse(body).media.map((m) => ['sendrecv', 'sendonly', 'recvonly', 'inactive'].find((d) => m.hasAttribute(d)));

/** carol calls `user`@ the lab's domain with audio and video from two sockets of her own, and ACKs its 200. */
async function callPhone(t: TestContext, user: string) {
  const peers = [await Peer.open(), await Peer.open()] as const;
  t.after(() => peers.forEach((p) => p.close()));
  const keys: [Buffer, Buffer] = [randomBytes(30), randomBytes(30)];
  const ports: [number, number] = [peers[0].port, peers[1].port];
  const uri = `sip:${user}@lab.example.com`;
  const r = await client.request('INVITE', uri, offer(ports, keys), 'application/sdp');
  assert.equal(r.status, 200, r.reason);
  assert.ok(client.ack(uri, r.response!));
  return { peers, keys, ports, uri, response: r.response!, answer: Sdp.parse(r.response!.body).media };
}

test('the room endpoint answers audio and video with RTP on each, answers hold and resume, hears DTMF, and the call ends with BYE', async (t) => {
  const { peers, keys, ports, uri, response, answer } = await callPhone(t, 'room');
  assert.deepEqual(
    answer.map((m) => [m.media, m.proto, m.port > 0]),
    [
      ['audio', 'RTP/SAVP', true],
      ['video', 'RTP/SAVP', true],
    ],
  );
  const coreKeys = answer.map((m) => parseCrypto(m.attributes('crypto')[0]!, 'answer').keySalt);
  const sessions = [clientSrtp(keys[0], coreKeys[0]!), clientSrtp(keys[1], coreKeys[1]!)] as const;
  const call = await waitFor('the phone to hold the call', () => lab.phones.room.calls.find((c) => !c.outgoing));
  assert.equal(call.peer, 'carol@lab.example.com');
  assert.equal(call.kind, 'video');

  // The phone's RTP reaches the client on both streams as SRTP under core's key: PCMU-sized audio, video frames.
  await Promise.all([peers[0].waitFor(2, 10_000), peers[1].waitFor(2, 10_000)]);
  const audio = RtpPacket.deSerialize(sessions[0].decrypt(peers[0].received[0]!.data));
  assert.deepEqual([audio.header.payloadType, audio.payload.length], [0, 160]);
  const video = RtpPacket.deSerialize(sessions[1].decrypt(peers[1].received[0]!.data));
  assert.deepEqual([video.header.payloadType, video.payload.length], [97, 1000]);
  // ...and the client's SRTP reaches the phone as RTP on each.
  for (const i of [0, 1] as const)
    for (let seq = 1; seq <= 3; seq++) await sendTo(peers[i], protect(sessions[i], rtp(seq, 0x7000 + i)), answer[i]!);
  await waitFor('the phone receiving on both streams', () =>
    call.streams.every((s) => s !== undefined && s.received >= 3),
  );

  // Hold: the client's a=sendonly is answered a=recvonly on both streams, same ports; the resume a=sendrecv.
  const held = await client.inDialog('INVITE', response, offer(ports, keys, 'sendonly'));
  assert.equal(held.status, 200, held.reason);
  assert.ok(client.ack(uri, held.response!));
  assert.deepEqual(directions(held.response!.body), ['recvonly', 'recvonly']);
  assert.deepEqual(
    Sdp.parse(held.response!.body).media.map((m) => m.port),
    answer.map((m) => m.port),
  );
  assert.equal(call.heldByPeer, true);
  const resumed = await client.inDialog('INVITE', response, offer(ports, keys));
  assert.equal(resumed.status, 200, resumed.reason);
  assert.ok(client.ack(uri, resumed.response!));
  assert.deepEqual(directions(resumed.response!.body), ['sendrecv', 'sendrecv']);
  assert.equal(call.heldByPeer, false);

  // DTMF: the client's telephone-events, under its key, reach the phone through both nodes and are heard.
  let seq = 10;
  let ts = 16_000;
  for (const digit of '159#') {
    for (const p of digitPackets(digit, { seq: () => seq++, ssrc: 0x7000, ts }))
      await sendTo(peers[0], protect(sessions[0], p), answer[0]!);
    ts += 1600;
  }
  await waitFor('the phone hearing 159#', () => call.heard === '159#', 10_000);

  // The client hangs up: the phone's call is over, no leg or relay left on either node.
  const bye = await client.inDialog('BYE', response);
  assert.equal(bye.status, 200, bye.reason);
  assert.equal(call.over, true);
  assert.equal(call.endedByPeer, true);
  const media = (n: Lab['core']) => (n.status() as { media: { calls: number; relays: number } }).media;
  await waitFor('no call left on core and edge', () =>
    [lab.core, lab.edge].every((n) => media(n).calls === 0 && media(n).relays === 0),
  );
});

test('the desk phone (no camera) answers the audio and turns the video line off with port 0', async (t) => {
  const { peers, response, answer } = await callPhone(t, 'desk');
  assert.equal(answer.length, 2, 'an answer line for each offered line');
  assert.ok(answer[0]!.port > 0);
  assert.deepEqual([answer[1]!.media, answer[1]!.port], ['video', 0]);
  const call = await waitFor('the desk phone in the call', () => lab.phones.desk.calls[0]);
  assert.equal(call.kind, 'audio');
  await peers[0].waitFor(1, 10_000);
  // One m= line relayed: an audio call (the call list follows the call model a moment later).
  const legs = () =>
    (lab.core.status() as { sip: { callList: Array<{ kind: string; peer: string }> } }).sip.callList.map((l) => [
      l.peer,
      l.kind,
    ]);
  assert.deepEqual(await waitFor("the call in core's call list", () => (legs().length ? legs() : undefined)), [
    ['desk@lab.example.com', 'audio'],
  ]);
  assert.equal((await client.inDialog('BYE', response)).status, 200);
  assert.equal(call.over, true);
});
