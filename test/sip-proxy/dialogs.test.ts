// What real endpoints do in a call, through the pair: offers and answers in UPDATE, early media whose answer changes
// in the 200, hold (by direction and by c=0.0.0.0) keeping ports and keys, a video line with its own relay and BFCP
// turned off, CANCEL (before and crossing the 200), a BYE crossing a re-INVITE, rejections, call forwarding at call
// control, SIP INFO and RFC 4733 DTMF passing the SRTP B2BUA, and core ending a call itself when its session timer
// runs out or its media stops (a BYE each way with the reason, relays freed on both nodes).
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ProtectionProfileAes128CmHmacSha1_80, RtpPacket, SrtpSession } from 'werift-rtp';
import { Sdp, parseCrypto } from '../../src/sdp/index.js';
import type { SipRequest } from '../../src/sip/message/index.js';
import type { SipClient } from '../../src/lab/sip-client.js';
import type { UasAnswer } from '../../src/lab/uas.js';
import { startPair, type Pair } from './pair.js';
import { waitFor } from '../support/log-capture.js';
import { mediaRange } from '../support/media-range.js';
import { Peer, rtp } from '../media/helpers.js';
import { audioSdp } from '../support/sdp.js';

const MEDIA_TIMEOUT_S = 4;
let pair: Pair;
before(async () => {
  // Core ends calls whose media stops instead of only reporting them.
  pair = await startPair({
    core: { media: { ...mediaRange(), address: '127.0.0.1', timeout_s: MEDIA_TIMEOUT_S, timeout_action: 'hangup' } },
  });
});
after(async () => pair?.close());

type Media = { calls: number; relays: number };
type Sip = {
  calls: number;
  callList: Array<{ kind: string; state: string; confirmed: boolean }>;
  callsEnded: Record<string, number>;
};
const media = (n: 'edge' | 'core') => (pair[n].status() as { media: Media }).media;
const sip = (n: 'edge' | 'core') => (pair[n].status() as { sip: Sip }).sip;
const portPairs = (n: 'edge' | 'core') =>
  (pair[n].status() as { media: { portPairsInUse: number } }).media.portPairsInUse;
const NODES = ['edge', 'core'] as const;

async function idle(): Promise<void> {
  await waitFor(
    'no call and no relay on either node',
    () => NODES.every((n) => media(n).calls === 0 && media(n).relays === 0),
    10_000,
  );
}

const key = () => randomBytes(30);
const savp = (port: number, k: Buffer, extra?: string) =>
  audioSdp(port, { proto: 'RTP/SAVP', key: k, ...(extra ? { extra } : {}) });
const mLine = (body: Buffer | string, i = 0) => Sdp.parse(body).media[i]!;
/** `packet` protected as the client protects it, under its own key `k` (werift's SRTP, not libsrtp). */
function protect(k: Buffer, packet: Buffer): Buffer {
  const session = new SrtpSession({
    profile: ProtectionProfileAes128CmHmacSha1_80,
    keys: {
      localMasterKey: k.subarray(0, 16),
      localMasterSalt: k.subarray(16),
      remoteMasterKey: k.subarray(0, 16),
      remoteMasterSalt: k.subarray(16),
    },
  });
  const p = RtpPacket.deSerialize(packet);
  return session.encrypt(p.payload, p.header);
}

/** alice, registered, answering requests from the inside with `answer` (default 200). */
async function alice(t: TestContext, answer: (req: SipRequest) => number | UasAnswer = () => 200): Promise<SipClient> {
  const c = await pair.client('alice', { answer });
  t.after(() => c.close());
  assert.equal((await c.register()).status, 200);
  return c;
}

/** The inside phone `desk` behind call control, answering with `answer`; gone after the test. */
function desk(t: TestContext, answer: (req: SipRequest) => UasAnswer): SipRequest[] {
  const seen: SipRequest[] = [];
  pair.callControl.phones.set('desk', (req) => {
    seen.push(req);
    return answer(req);
  });
  t.after(() => pair.callControl.phones.delete('desk'));
  return seen;
}

test("an offer in UPDATE and its answer in the 2xx are rewritten as an INVITE's: the same relay and key for the client, core's port for the inside", async (t) => {
  await idle();
  const k = key();
  const seen: Sdp[] = [];
  await alice(t, (req) => {
    if (req.method !== 'INVITE' && req.method !== 'UPDATE') return 200;
    seen.push(Sdp.parse(req.body));
    return { status: 200, body: savp(40000, k) };
  });
  const invite = await pair.callControl.request('alice@example.com', 'INVITE', audioSdp(40100), 'application/sdp');
  assert.equal(invite.status, 200);
  assert.ok(pair.callControl.ack('alice@example.com', invite.dialog!));
  const update = await pair.callControl.request(
    'alice@example.com',
    'UPDATE',
    audioSdp(40102),
    'application/sdp',
    5000,
    [],
    invite.dialog,
  );
  assert.equal(update.status, 200, update.reason);
  const [first, second] = [seen[0]!.media[0]!, seen[1]!.media[0]!];
  assert.equal(second.port, first.port, 'the client keeps the edge port');
  assert.equal(second.proto, 'RTP/SAVP');
  assert.deepEqual(
    parseCrypto(second.attributes('crypto')[0]!, 'update').keySalt,
    parseCrypto(first.attributes('crypto')[0]!, 'invite').keySalt,
    "and core's key",
  );
  const answered = mLine(update.body!);
  assert.deepEqual(
    [answered.proto, answered.attributes('crypto').length, answered.port],
    ['RTP/AVP', 0, mLine(invite.body!).port],
    "the inside: plain RTP, core's same port",
  );
  assert.equal(NODES.map((n) => media(n).relays).join(), '1,1', 'no new relay for the UPDATE');
  assert.equal(
    (await pair.callControl.request('alice@example.com', 'BYE', '', 'text/plain', 5000, [], update.dialog)).status,
    200,
  );
  await idle();
});

test("early media: the 183's answer sets media up before the 200, whose different answer is followed", async (t) => {
  await idle();
  const [phoneA, phoneB, client] = await Promise.all([Peer.open(), Peer.open(), Peer.open()]);
  t.after(() => [phoneA, phoneB, client].forEach((p) => p.close()));
  const seen = desk(t, (req) =>
    req.method === 'INVITE'
      ? {
          status: 200,
          body: audioSdp(phoneB.port),
          early: { status: 183, body: audioSdp(phoneA.port) },
          finalAfterMs: 800,
        }
      : { status: 200 },
  );
  const c = await alice(t);
  const early: Sdp[] = [];
  c.onProvisional((res) => res.status === 183 && early.push(Sdp.parse(res.body)));
  const k = key();
  const call = c.request('INVITE', 'sip:desk@example.com', savp(client.port, k), 'application/sdp');
  await waitFor('the 183 with SDP at the client', () => early[0], 5000);
  const edgePort = early[0]!.media[0]!.port;
  // The phone speaks before it answers: core's inside port is where the INVITE the phone got says.
  const corePort = mLine(seen[0]!.body).port;
  for (let i = 1; i <= 5; i++) await phoneA.send(rtp(i, 0xea41), corePort);
  await client.waitFor(5);
  const final = await call;
  assert.equal(final.status, 200, final.reason);
  assert.equal(mLine(final.response!.body).port, edgePort, 'the 200 names the same edge port');
  assert.ok(c.ack('sip:desk@example.com', final.response!));
  // The 200 moved the phone's media: what the client sends (SRTP under its own key) now reaches phone B, not phone A.
  const sent = rtp(1, 0xa11ce);
  await client.send(protect(k, sent), edgePort);
  await phoneB.waitFor(1);
  assert.deepEqual(phoneB.received[0]!.data, sent);
  assert.equal(phoneA.received.length, 0);
  assert.equal((await c.inDialog('BYE', final.response!)).status, 200);
  await idle();
});

test('hold and resume from the client (a=sendonly, then c=0.0.0.0, then sendrecv): the same ports and key; the inside is told with a direction', async (t) => {
  await idle();
  const seen = desk(t, (req) => (req.method === 'INVITE' ? { status: 200, body: audioSdp(40200) } : { status: 200 }));
  const c = await alice(t);
  const k = key();
  const first = await c.request('INVITE', 'sip:desk@example.com', savp(41000, k), 'application/sdp');
  assert.equal(first.status, 200);
  c.ack('sip:desk@example.com', first.response!);
  const reinvite = (body: string) => c.inDialog('INVITE', first.response!, body);
  const held = await reinvite(savp(41000, k, 'a=sendonly'));
  assert.equal(held.status, 200);
  c.ack('sip:desk@example.com', held.response!);
  const byAddress = await reinvite(savp(41000, k).replace(/c=IN IP4 127\.0\.0\.1/g, 'c=IN IP4 0.0.0.0'));
  assert.equal(byAddress.status, 200);
  c.ack('sip:desk@example.com', byAddress.response!);
  const resumed = await reinvite(savp(41000, k));
  assert.equal(resumed.status, 200);
  c.ack('sip:desk@example.com', resumed.response!);
  const offers = seen.filter((r) => r.method === 'INVITE').map((r) => mLine(r.body));
  assert.deepEqual(
    offers.map((m) => [m.hasAttribute('sendonly'), m.address]),
    [
      [false, '127.0.0.1'],
      [true, '127.0.0.1'],
      [true, '127.0.0.1'],
      [false, '127.0.0.1'],
    ],
    "hold by address reaches the inside as a=sendonly at core's address",
  );
  assert.equal(new Set(offers.map((m) => m.port)).size, 1, "core's port never changes");
  assert.equal(
    new Set([first, held, byAddress, resumed].map((r) => mLine(r.response!.body).port)).size,
    1,
    "nor the edge's",
  );
  assert.equal(NODES.map((n) => media(n).relays).join(), '1,1');
  assert.equal((await c.inDialog('BYE', resumed.response!)).status, 200);
  await idle();
});

test('a video call: each stream its own relay, the legs counted as video; BFCP turned off with port 0', async (t) => {
  await idle();
  const seen = desk(t, (req) => {
    if (req.method !== 'INVITE') return { status: 200 };
    return {
      status: 200,
      body: `${audioSdp(40300)}m=video 40310 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nm=application 0 UDP/BFCP *\r\n`,
    };
  });
  const c = await alice(t);
  const offer = `${savp(42000, key())}m=video 42010 RTP/SAVP 96\r\na=rtpmap:96 H264/90000\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key().toString('base64')}\r\nm=application 42020 UDP/BFCP *\r\na=floorctrl:c-s\r\n`;
  const r = await c.request('INVITE', 'sip:desk@example.com', offer, 'application/sdp');
  assert.equal(r.status, 200, r.reason);
  c.ack('sip:desk@example.com', r.response!);
  const inside = Sdp.parse(seen[0]!.body).media;
  assert.deepEqual(
    inside.map((m) => [m.media, m.proto, m.port > 0]),
    [
      ['audio', 'RTP/AVP', true],
      ['video', 'RTP/AVP', true],
      ['application', 'UDP/BFCP', false],
    ],
    'BFCP is turned off towards the inside',
  );
  const answer = Sdp.parse(r.response!.body).media;
  assert.deepEqual(
    answer.map((m) => [m.media, m.proto]),
    [
      ['audio', 'RTP/SAVP'],
      ['video', 'RTP/SAVP'],
      ['application', 'UDP/BFCP'],
    ],
  );
  assert.notEqual(answer[0]!.port, answer[1]!.port);
  for (const n of NODES) {
    assert.equal(media(n).relays, 2, `${n}: a relay per RTP stream`);
    // The sip section is read at most a second ago: wait for it to show the answered call.
    await waitFor(`${n}: the leg listed as a video call`, () => sip(n).callList[0]?.kind === 'video', 3000, 50);
  }
  assert.equal((await c.inDialog('BYE', r.response!)).status, 200);
  await idle();
});

test('CANCEL of a ringing call: 200 to the CANCEL, 487 to the INVITE, nothing left; a CANCEL crossing the 200 leaves the call to its BYE', async (t) => {
  await idle();
  let ringFor = 5000;
  desk(t, (req) =>
    req.method === 'INVITE'
      ? { status: 200, body: audioSdp(40400), early: { status: 180 }, finalAfterMs: ringFor }
      : { status: 200 },
  );
  const c = await alice(t);
  const ringing = new Promise<void>((r) => c.onProvisional((res) => res.status === 180 && r()));
  const call = c.request('INVITE', 'sip:desk@example.com', savp(43000, key()), 'application/sdp');
  await ringing;
  // Core opened its relay with the offer; the edge opens its own with core's answer (none while it rings).
  assert.equal(NODES.map((n) => media(n).relays).join(), '0,1');
  assert.equal((await c.cancel()).status, 200);
  assert.equal((await call).status, 487);
  await idle();
  for (const n of NODES) assert.ok((sip(n).callsEnded.failed ?? 0) >= 1);

  ringFor = 0;
  const answered = await c.request('INVITE', 'sip:desk@example.com', savp(43000, key()), 'application/sdp');
  assert.equal(answered.status, 200);
  const late = await c.cancel();
  assert.ok(
    late.status === 200 || late.status === 481,
    `a CANCEL after the 200 is answered (${late.status}) and changes nothing`,
  );
  c.ack('sip:desk@example.com', answered.response!);
  await waitFor('core to list the call as active', () => sip('core').callList[0]?.state === 'active', 3000, 50);
  assert.equal((await c.inDialog('BYE', answered.response!)).status, 200);
  await idle();
});

test('a BYE crossing a re-INVITE: the BYE is answered and ends the call, the re-INVITE gets a final answer, nothing is left and every port is back', async (t) => {
  await idle();
  const pairs = { edge: portPairs('edge'), core: portPairs('core') };
  let invites = 0;
  // The phone answers the call at once and the re-INVITE only after 1.5 s: the client's BYE overtakes that answer.
  const seen = desk(t, (req) =>
    req.method === 'INVITE'
      ? { status: 200, body: audioSdp(40450), ...(invites++ > 0 ? { finalAfterMs: 1500 } : {}) }
      : { status: 200 },
  );
  const c = await alice(t);
  const k = key();
  const first = await c.request('INVITE', 'sip:desk@example.com', savp(43100, k), 'application/sdp');
  assert.equal(first.status, 200);
  c.ack('sip:desk@example.com', first.response!);
  await waitFor('core to list the call as active', () => sip('core').callList[0]?.state === 'active', 3000, 50);
  const reinvite = c.inDialog('INVITE', first.response!, savp(43100, k, 'a=sendonly'));
  await waitFor('the re-INVITE at the phone', () => seen.filter((r) => r.method === 'INVITE').length === 2, 3000, 20);
  assert.equal(
    (await c.inDialog('BYE', first.response!)).status,
    200,
    'the BYE is answered while the re-INVITE is pending',
  );
  const late = await reinvite;
  t.diagnostic(`the re-INVITE crossed by the BYE was answered ${late.status}`);
  assert.ok(late.status >= 200, `the re-INVITE gets a final answer (${late.status}), never a hang`);
  if (late.status === 200) c.ack('sip:desk@example.com', late.response!);
  assert.equal(seen.filter((r) => r.method === 'BYE').length, 1, 'the BYE reached the phone');
  // The phone's late 200 to the re-INVITE finds no call: it must not open media again.
  await idle();
  await waitFor('every port pair back', () => NODES.every((n) => portPairs(n) === pairs[n]), 5000, 50);
  for (const n of NODES) assert.equal(sip(n).calls, 0, `${n}: no leg left`);
});

test('rejections and forwarding: 486 and 603 free everything; call control forwards a line to another phone', async (t) => {
  await idle();
  let status = 486;
  desk(t, (req) =>
    req.method === 'INVITE' ? (status === 200 ? { status, body: audioSdp(40500) } : { status }) : { status: 200 },
  );
  const c = await alice(t);
  for (const s of [486, 603]) {
    status = s;
    assert.equal((await c.request('INVITE', 'sip:desk@example.com', savp(44000, key()), 'application/sdp')).status, s);
    await idle();
  }
  status = 200;
  pair.callControl.forwards.set('front', 'desk');
  t.after(() => pair.callControl.forwards.delete('front'));
  const r = await c.request('INVITE', 'sip:front@example.com', savp(44000, key()), 'application/sdp');
  assert.equal(r.status, 200, 'the call to the forwarded line reached the desk phone');
  c.ack('sip:front@example.com', r.response!);
  assert.equal((await c.inDialog('BYE', r.response!)).status, 200);
  await idle();
});

test("DTMF: SIP INFO passes both nodes, and RFC 4733 telephone-events pass core's SRTP B2BUA as plain RTP with their payload intact", async (t) => {
  await idle();
  const phone = await Peer.open();
  const client = await Peer.open();
  t.after(() => {
    phone.close();
    client.close();
  });
  const seen = desk(t, (req) =>
    req.method === 'INVITE' ? { status: 200, body: audioSdp(phone.port) } : { status: 200 },
  );
  const c = await alice(t);
  const k = key();
  const r = await c.request('INVITE', 'sip:desk@example.com', savp(client.port, k), 'application/sdp');
  assert.equal(r.status, 200);
  c.ack('sip:desk@example.com', r.response!);
  const info = await c.inDialog('INFO', r.response!, 'Signal=5\r\nDuration=160\r\n', 'application/dtmf-relay');
  assert.equal(info.status, 200);
  assert.equal(seen.find((x) => x.method === 'INFO')?.body.toString(), 'Signal=5\r\nDuration=160\r\n');
  // RFC 4733: digit 5, end bit, volume 10, duration 800, as payload type 101 under the client's own key.
  const event = rtp(1, 0xd7f0, { pt: 101, payload: Buffer.from([5, 0x8a, 0x03, 0x20]) });
  await client.send(protect(k, event), mLine(r.response!.body).port);
  await phone.waitFor(1);
  assert.deepEqual(phone.received[0]!.data, event, 'the event arrives as the client sent it, decrypted');
  assert.equal((await c.inDialog('BYE', r.response!)).status, 200);
  await idle();
});

test('session timers: a call whose session is not refreshed in time is ended by core, a BYE with the reason to each side', async (t) => {
  await idle();
  const byes: SipRequest[] = [];
  desk(t, (req) => {
    if (req.method === 'BYE') byes.push(req);
    return req.method === 'INVITE' || req.method === 'UPDATE'
      ? {
          status: 200,
          body: audioSdp(40600),
          headers: [
            ['Session-Expires', '2;refresher=uac'],
            ['Require', 'timer'],
          ],
        }
      : { status: 200 };
  });
  const c = await alice(t);
  const clientByes: SipRequest[] = [];
  c.onRequest((req) => req.method === 'BYE' && clientByes.push(req));
  const r = await c.request('INVITE', 'sip:desk@example.com', savp(45000, key()), 'application/sdp', [
    ['Session-Expires', '2;refresher=uac'],
    ['Supported', 'timer'],
  ]);
  assert.equal(r.status, 200);
  c.ack('sip:desk@example.com', r.response!);
  // A refresh (an UPDATE, no SDP) within the interval keeps the call.
  await new Promise((res) => setTimeout(res, 1200));
  assert.equal((await c.inDialog('UPDATE', r.response!)).status, 200);
  await new Promise((res) => setTimeout(res, 1200));
  assert.equal(sip('core').calls, 1, 'refreshed: still up after the first interval');
  // Then none: core ends it.
  await waitFor('a BYE at each side', () => clientByes.length === 1 && byes.length === 1, 5000);
  for (const bye of [clientByes[0]!, byes[0]!])
    assert.match(bye.header('reason') ?? '', /text="Session timer expired without a refresh"/);
  await idle();
  assert.equal(sip('core').callsEnded.sessionExpired, 1);
  assert.ok(sip('edge').callsEnded.bye! >= 1, 'the edge saw the BYE to the client go by');
});

test('media timeout with timeout_action hangup: a call whose media stops is ended by core with a BYE each way', async (t) => {
  await idle();
  const byes: SipRequest[] = [];
  desk(t, (req) => {
    if (req.method === 'BYE') byes.push(req);
    return req.method === 'INVITE' ? { status: 200, body: audioSdp(40700) } : { status: 200 };
  });
  const c = await alice(t);
  const clientByes: SipRequest[] = [];
  c.onRequest((req) => req.method === 'BYE' && clientByes.push(req));
  const r = await c.request('INVITE', 'sip:desk@example.com', savp(46000, key()), 'application/sdp');
  assert.equal(r.status, 200);
  c.ack('sip:desk@example.com', r.response!);
  await waitFor('a BYE at each side', () => clientByes.length === 1 && byes.length === 1, (MEDIA_TIMEOUT_S + 6) * 1000);
  assert.match(clientByes[0]!.header('reason') ?? '', /text="Media timeout"/);
  await idle();
  assert.equal(sip('core').callsEnded.mediaTimeout, 1);
});

test('ICE ends at the pair: candidates from either side are removed, and each side is given the relay', async (t) => {
  await idle();
  const ice = (port: number) =>
    `a=ice-ufrag:Fx9q\r\na=ice-pwd:asd88fgpdd777uzjYhagZg4k\r\na=candidate:1 1 UDP 2130706431 10.9.8.7 ${port} typ host`;
  const seen = desk(t, (req) =>
    req.method === 'INVITE' ? { status: 200, body: audioSdp(40800, { extra: ice(40800) }) } : { status: 200 },
  );
  const c = await alice(t);
  const r = await c.request('INVITE', 'sip:desk@example.com', savp(47000, key(), ice(47000)), 'application/sdp');
  assert.equal(r.status, 200, r.reason);
  c.ack('sip:desk@example.com', r.response!);
  for (const body of [seen[0]!.body.toString('latin1'), r.response!.body.toString('latin1')]) {
    assert.doesNotMatch(body, /a=(ice-ufrag|ice-pwd|candidate)/);
    assert.match(body, /c=IN IP4 127\.0\.0\.1/, 'the relay');
  }
  assert.equal((await c.inDialog('BYE', r.response!)).status, 200);
  await idle();
});
