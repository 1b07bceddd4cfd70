// Third-party endpoints through the lab's pair: baresip (its own SIP, TLS and SRTP stacks) as remote clients that
// name the edge by its DNS name (served by dnsmasq) or by the route get_edge_config hands out, and as an inside phone
// registered with the lab's call control. Calls between two remote clients, to and from the inside phone, and to one
// of the lab's own simulated clients: each party sends its own tone, so what the far end decodes says whose audio it
// is and that its SRTP decrypted; the callee's CALL_ESTABLISHED says the ACK reached it; BYE is answered; both nodes
// end with no leg, no relay and every port back. Then what endpoints do in a call: hold and resume (re-INVITEs with
// a=sendonly and a=sendrecv) with DTMF each way (RFC 4733 in the SRTP), audio decoded before the hold and counted
// (RTP packets each far end authenticated) after it; a call CANCELled while it rings; a call the callee rejects (486).
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, LAB_ADDRESSES, LAB_USERS, type Lab } from '../../src/lab/index.js';
import { waitFor } from '../support/log-capture.js';
import { mediaRange } from '../support/media-range.js';
import { Baresip, baresipMissing, type Audio, type BaresipEvent } from './baresip.js';
import { dnsmasqMissing, startDns, type Dns } from './dnsmasq.js';
import { Capture, tsharkMissing, type RtpPacket } from './tshark.js';

const DOMAIN = 'lab.example.com';
const EDGE_NAME = `edge.${DOMAIN}`;
const TONES = { bob: 440, carol: 880, desk: 660 } as const;
const missing = baresipMissing() ?? dnsmasqMissing();
const wireMissing = tsharkMissing();

let dir = '';
let lab: Lab | undefined;
let dns: Dns | undefined;
let edgeConfigRoute = '';
const ua: Partial<Record<'bob' | 'carol' | 'desk', Baresip>> = {};
/** Each node's port pairs in use with no call (the edge's mux pairs are always open). */
const basePorts = { edge: 0, core: 0 };

type Leg = { client: string; state: string; confirmed: boolean };
type Section = {
  sip: { calls: number; callList: Leg[]; callsEnded: Record<string, number>; registrations: number };
  media: { relays: number; portPairsInUse: number };
};
const status = (node: 'edge' | 'core') => lab![node].status() as unknown as Section;

/** GET get_edge_config as Jabber does at sign-in: the SIP route it hands out (Expressway: sipRequest/route). */
function fetchEdgeConfigRoute(l: Lab, ca: string): Promise<string> {
  const user = LAB_USERS[0]!;
  const path = `/${Buffer.from(DOMAIN).toString('base64url')}/get_edge_config?service_name=_cisco-uds&service_name=_cuplogin`;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: LAB_ADDRESSES.edge,
        port: l.edge.ports.https!,
        servername: EDGE_NAME,
        ca,
        path,
        agent: false,
        headers: { authorization: `Basic ${Buffer.from(`${user.id}:${user.password}`).toString('base64')}` },
      },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          const route = /<sipRequest><route>([^<]*)<\/route>/.exec(body)?.[1];
          if (res.statusCode === 200 && route)
            resolve(route.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
          else reject(new Error(`get_edge_config: ${res.statusCode} ${body.slice(0, 300)}`));
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  if (missing) return;
  dir = mkdtempSync(join(tmpdir(), 'mra-baresip-lab-'));
  // One simulated client (alice) besides the third-party ones; no desk phone of the lab's own calling her.
  lab = await startLab({
    dir,
    ports: 'ephemeral',
    clients: 1,
    deskPhone: false,
    logLevel: 'warn',
    media: { edge: mediaRange(), core: mediaRange(), clients: mediaRange() },
  });
  basePorts.edge = status('edge').media.portPairsInUse;
  basePorts.core = status('core').media.portPairsInUse;
  dns = await startDns({ [EDGE_NAME]: LAB_ADDRESSES.edge });
  const caFile = join(dir, 'pki', 'ca.pem');
  const ca = readFileSync(caFile, 'utf8');
  // Until the link is up (and discovery has answered) the edge answers 503: signing in is retried, as Jabber does.
  edgeConfigRoute = await waitFor(
    'get_edge_config answered',
    () => fetchEdgeConfigRoute(lab!, ca).catch(() => undefined),
    20_000,
    200,
  );
  const remote = {
    transport: 'tls' as const,
    srtp: true,
    address: LAB_ADDRESSES.internet,
    caFile,
    dnsServer: dns.server,
    autoAnswer: true,
  };
  // bob names the edge as every SIP client is configured: by its DNS name, as the outbound proxy.
  ua.bob = await Baresip.start({
    ...remote,
    aor: `bob@${DOMAIN}`,
    password: 'bob-pw',
    outbound: `sip:${EDGE_NAME}:${lab.edge.ports.sipTls};transport=tls`,
    toneHz: TONES.bob,
  });
  // carol preloads the route get_edge_config gave (<sip:core1@edge.lab.example.com:port;transport=tls;lr>), as Jabber does.
  ua.carol = await Baresip.start({
    ...remote,
    aor: `carol@${DOMAIN}`,
    password: 'carol-pw',
    outbound: edgeConfigRoute.replace(/^<|>$/g, '').replace(/;lr\b/, ''),
    toneHz: TONES.carol,
  });
  // desk is an inside phone: plain RTP, registered with call control directly over TCP.
  ua.desk = await Baresip.start({
    aor: `desk@${DOMAIN}`,
    password: 'desk-pw',
    outbound: `sip:${LAB_ADDRESSES.inside}:${lab.inside.ports.callControlSip};transport=tcp`,
    transport: 'tcp',
    srtp: false,
    address: LAB_ADDRESSES.inside,
    toneHz: TONES.desk,
    autoAnswer: true,
  });
});

after(async () => {
  for (const u of Object.values(ua)) await u?.close();
  await dns?.close();
  await lab?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Neither node carries a leg or a relay, and both pools have every port back. */
async function idle(): Promise<void> {
  await waitFor(
    'no call leg and no relay left on either node',
    () =>
      (['edge', 'core'] as const).every(
        (n) =>
          status(n).sip.calls === 0 && status(n).media.relays === 0 && status(n).media.portPairsInUse === basePorts[n],
      ),
    10_000,
    100,
  );
}

/**
 * A call from `caller` to `callee` (an AOR, or a baresip that picks up), held `holdMs`, hung up by `hangsUp`: resolves
 * with what each baresip decoded. `legs` is how many call legs each node carries for it (one per remote client).
 */
async function call(t: TestContext, o: CallOptions): Promise<{ caller: Audio; answerer?: Audio }> {
  try {
    return await callOnce(t, o);
  } catch (err) {
    // What each party saw (baresip's SIP trace) is what tells where a call went wrong.
    for (const [name, u] of Object.entries(ua)) t.diagnostic(`--- ${name} ---\n${u!.output.slice(-6000)}`);
    throw err;
  }
}

interface CallOptions {
  caller: Baresip;
  callee: string;
  answerer?: Baresip;
  hangsUp: Baresip;
  legs: number;
  holdMs?: number;
}

async function callOnce(t: TestContext, o: CallOptions): Promise<{ caller: Audio; answerer?: Audio }> {
  await idle();
  const ended = { edge: status('edge').sip.callsEnded.bye ?? 0, core: status('core').sip.callsEnded.bye ?? 0 };
  const marks = { caller: o.caller.events.length, answerer: o.answerer?.events.length ?? 0 };
  const heard = { caller: o.caller.decoded().length, answerer: o.answerer?.decoded().length ?? 0 };
  assert.equal((await o.caller.dial(`sip:${o.callee}`)).ok, true);
  await o.caller.waitEvent(
    "the caller's call established (200 OK accepted)",
    (e) => e.type === 'CALL_ESTABLISHED',
    10_000,
    marks.caller,
  );
  // A UAS's dialog is established when the ACK arrives (RFC 3261 §13.3.1.4): the ACK came through both nodes.
  if (o.answerer)
    await o.answerer.waitEvent(
      "the callee's call established (ACK received)",
      (e) => e.type === 'CALL_ESTABLISHED',
      10_000,
      marks.answerer,
    );
  for (const n of ['edge', 'core'] as const) {
    const legs = await waitFor(
      `${n}: ${o.legs} confirmed legs`,
      () => {
        const l = status(n).sip.callList;
        return l.length === o.legs && l.every((x) => x.state === 'active' && x.confirmed) ? l : undefined;
      },
      5000,
      50,
    );
    assert.equal(legs.length, o.legs);
  }
  // Long enough for a few RTCP reports each way (baresip sends one about every 5 s).
  await new Promise((r) => setTimeout(r, o.holdMs ?? 6000));
  const other = o.hangsUp === o.caller ? o.answerer : o.caller;
  const otherMark = other === o.caller ? marks.caller : marks.answerer;
  assert.equal((await o.hangsUp.hangup()).ok, true);
  if (other) {
    const closed = await other.waitEvent(
      "the far end's call closed by the BYE",
      (e) => e.type === 'CALL_CLOSED',
      10_000,
      otherMark,
    );
    assert.doesNotMatch(closed.param ?? '', /error|timeout|failed/i, `closed because: ${closed.param}`);
  }
  await idle();
  for (const n of ['edge', 'core'] as const)
    assert.equal((status(n).sip.callsEnded.bye ?? 0) - ended[n], o.legs, `${n}: every leg ended by its BYE`);
  for (const u of [o.caller, o.answerer]) {
    if (!u) continue;
    assert.doesNotMatch(
      u.output,
      /failed to (decrypt|encrypt)|replay/i,
      'no SRTP or SRTCP packet refused at the endpoint',
    );
  }
  const last = (u: Baresip, before: number) => {
    const all = u.decoded();
    assert.equal(all.length, before + 1, 'one decoded recording for the call');
    return all[all.length - 1]!;
  };
  t.diagnostic(
    `heard: caller ${JSON.stringify(last(o.caller, heard.caller))}${o.answerer ? `, callee ${JSON.stringify(last(o.answerer, heard.answerer))}` : ''}`,
  );
  return {
    caller: last(o.caller, heard.caller),
    ...(o.answerer ? { answerer: last(o.answerer, heard.answerer) } : {}),
  };
}

/** Audio that is the tone `hz` (within 5 %), loud enough to be a tone rather than silence or noise decoded from garbage. */
function isTone(a: Audio, hz: number, who: string): void {
  assert.ok(a.samples > 8000, `${who}: at least a second of audio decoded (${a.samples} samples)`);
  assert.ok(a.rms > 1000, `${who}: a tone, not silence (rms ${a.rms.toFixed(0)})`);
  assert.ok(Math.abs(a.hz - hz) < hz * 0.05, `${who}: heard ${a.hz.toFixed(0)} Hz, the other party sends ${hz} Hz`);
}

test('baresip registers through the edge by its DNS name, and by the route get_edge_config hands out', async (t) => {
  if (missing) return t.skip(missing);
  // The route names the port the edge's SIP listener really has (the lab lets the OS pick it).
  assert.equal(edgeConfigRoute, `<sip:core1@${EDGE_NAME}:${lab!.edge.ports.sipTls};transport=tls;lr>`);
  for (const who of ['bob', 'carol'] as const) {
    await ua[who]!.registered(15_000);
    assert.doesNotMatch(ua[who]!.output, /SIP\/2\.0 403/, `${who} was never refused`);
  }
  assert.match(
    ua.bob!.output,
    new RegExp(`Route: <sip:${EDGE_NAME.replace(/\./g, '\\.')}:\\d+;transport=tls;lr>`),
    "bob's REGISTER named the edge by name",
  );
  assert.match(
    ua.carol!.output,
    /Route: <sip:core1@edge\.lab\.example\.com:\d+;transport=tls;lr>/,
    "carol's named it by the route",
  );
  await ua.desk!.registered(15_000);
  // With alice, the lab's simulated client: three registrations through the pair.
  for (const n of ['edge', 'core'] as const)
    await waitFor(`${n}: 3 registrations`, () => status(n).sip.registrations === 3, 20_000, 100);
});

test('a call between two remote clients: SRTP both ways through the pair, the ACK reaches the callee, BYE answered, nothing left', async (t) => {
  if (missing) return t.skip(missing);
  const { caller, answerer } = await call(t, {
    caller: ua.bob!,
    callee: `carol@${DOMAIN}`,
    answerer: ua.carol!,
    hangsUp: ua.bob!,
    legs: 2,
  });
  isTone(caller, TONES.carol, 'bob');
  isTone(answerer!, TONES.bob, 'carol');
});

test("core names its own address in what it records: the lab's core connects from 127.0.2.1, not 127.0.0.1", async (t) => {
  if (missing) return t.skip(missing);
  // The INVITE carol received in the last test: core recorded itself twice (towards call control, and back out).
  const recorded = [...ua.carol!.output.matchAll(/^Record-Route: <sip:mra-core1@([\d.]+):\d+/gm)].map((m) => m[1]);
  assert.ok(recorded.length >= 2, 'core recorded itself');
  assert.deepEqual([...new Set(recorded)], [LAB_ADDRESSES.core]);
});

test('a remote client calls an inside phone (plain RTP inside, SRTP outside), and the inside phone hangs up; tshark checks the wire', async (t) => {
  if (missing) return t.skip(missing);
  // The clients' media only (baresip's RTP ports): what the edge sends the remote client, what core and the phone
  // exchange. The nodes' own media ranges (edge to core) are left out.
  const capture = wireMissing ? undefined : await Capture.start('udp and portrange 10000-19999');
  const since = { bob: ua.bob!.output.length, desk: ua.desk!.output.length };
  let packets: RtpPacket[] = [];
  try {
    const { caller, answerer } = await call(t, {
      caller: ua.bob!,
      callee: `desk@${DOMAIN}`,
      answerer: ua.desk!,
      hangsUp: ua.desk!,
      legs: 1,
    });
    isTone(caller, TONES.desk, 'bob');
    isTone(answerer!, TONES.bob, 'desk');
  } finally {
    packets = (await capture?.stop()) ?? [];
  }
  // What each side was offered and answered: SRTP only outside (baresip's trace is the SDP after TLS), plain inside.
  const mLines = (text: string) => [...text.matchAll(/^m=audio \d+ (\S+)/gm)].map((m) => m[1]);
  assert.deepEqual(
    [...new Set(mLines(ua.bob!.output.slice(since.bob)))],
    ['RTP/SAVP'],
    'the remote client sent and was sent RTP/SAVP only',
  );
  assert.deepEqual([...new Set(mLines(ua.desk!.output.slice(since.desk)))], ['RTP/AVP'], 'the inside phone plain RTP');
  if (!capture) return t.diagnostic(`wire not checked: ${wireMissing}`);
  // This call's packets: between the ports its SDP named (other tests on the machine share the loopback).
  const ports = new Set(
    [...`${ua.bob!.output.slice(since.bob)}${ua.desk!.output.slice(since.desk)}`.matchAll(/^m=audio (\d+)/gm)].map(
      (m) => m[1],
    ),
  );
  const port = (address: string) => address.slice(address.lastIndexOf(':') + 1);
  const pcmu = (p: RtpPacket) =>
    p.version === 2 && p.payloadType === 0 && ports.has(port(p.src)) && ports.has(port(p.dst));
  const outside = packets.filter((p) => p.src.startsWith(`${LAB_ADDRESSES.edge}:`) && pcmu(p));
  const inside = packets
    .filter((p) => p.src.startsWith(`${LAB_ADDRESSES.core}:`) || p.dst.startsWith(`${LAB_ADDRESSES.core}:`))
    .filter(pcmu);
  t.diagnostic(
    `captured ${packets.length} RTP-like packets: ${outside.length} from the edge to the remote client, ${inside.length} between core and the phone`,
  );
  assert.ok(outside.length >= 200 && inside.length >= 400, "both legs carried the call's audio on the wire");
  // SRTP (AES_CM_128_HMAC_SHA1_80): 160 bytes of PCMU encrypted plus a 10-byte tag; no payload the phone sent or got
  // in the clear ever appears towards the internet.
  for (const p of outside)
    assert.equal(p.payload.length / 2, 170, `${p.src} -> ${p.dst} seq ${p.seq}: an SRTP packet's payload and tag`);
  const clear = new Set(inside.map((p) => p.payload));
  assert.equal(
    outside.filter((p) => clear.has(p.payload.slice(0, 320))).length,
    0,
    'no plain RTP leaves the edge towards the internet',
  );
  // The inside leg's RTP is valid: PCMU at 20 ms, each stream's sequence numbers consecutive, timestamps 160 apart.
  const streams = new Map<string, RtpPacket[]>();
  // (The phone sends from 127.0.0.1, not the address it names: core answers where the media comes from.)
  for (const p of inside) {
    const id = `${port(p.src)}>${port(p.dst)}/${p.ssrc}`;
    streams.set(id, [...(streams.get(id) ?? []), p]);
  }
  assert.equal(streams.size, 2, `one stream each way inside: ${[...streams.keys()].join(', ')}`);
  for (const [id, s] of streams) {
    assert.ok(
      s.every((p) => p.payload.length === 320),
      `${id}: 160 bytes of PCMU in each packet`,
    );
    const steps = s.slice(1).map((p, i) => ({
      seq: (p.seq - s[i]!.seq + 65536) % 65536,
      ts: (p.timestamp - s[i]!.timestamp + 2 ** 32) % 2 ** 32,
    }));
    assert.deepEqual(
      steps.filter((d) => d.seq !== 1 || d.ts !== 160),
      [],
      `${id}: consecutive sequence numbers, timestamps 160 apart`,
    );
  }
});

test('an inside phone calls a remote client, who hangs up', async (t) => {
  if (missing) return t.skip(missing);
  const { caller, answerer } = await call(t, {
    caller: ua.desk!,
    callee: `carol@${DOMAIN}`,
    answerer: ua.carol!,
    hangsUp: ua.carol!,
    legs: 1,
  });
  isTone(caller, TONES.carol, 'desk');
  isTone(answerer!, TONES.desk, 'carol');
});

test("a third-party client calls one of the lab's simulated clients: its 200 has a Contact and the route set, so the call is confirmed and ends", async (t) => {
  if (missing) return t.skip(missing);
  // alice (the lab's client) echoes what she receives under her own SSRC: carol hears her own tone back.
  const { caller } = await call(t, {
    caller: ua.carol!,
    callee: `alice@${DOMAIN}`,
    hangsUp: ua.carol!,
    legs: 2,
    holdMs: 3000,
  });
  isTone(caller, TONES.carol, "carol (alice's echo)");
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** `u` has received `n` INVITEs (in its trace) and the ACK of the last: the (re-)INVITE passed both nodes both ways. */
const reInvited = (u: Baresip, n: number) =>
  u.receivedRequests('INVITE') >= n && /^ACK sip:/m.test(u.output.slice(u.output.lastIndexOf('INVITE sip:')));
/** The last INVITE `u` received, as its trace shows it (request line up to the next message). */
const lastInvite = (u: Baresip) => {
  const text = u.output.slice(u.output.lastIndexOf('INVITE sip:'));
  return text.slice(0, Math.max(0, text.indexOf('SIP/2.0 ', 20)) || text.length);
};
/** PCMU at 20 ms: 50 packets a second; a far end must count at least 80 % of what was sent in `ms` to it. */
const fewestPackets = (ms: number) => Math.floor((ms / 20) * 0.8);

test('a remote client holds and resumes a call to an inside phone and both send DTMF: the re-INVITEs pass, RFC 4733 events arrive, audio is decoded and counted at both far ends before and after the hold', async (t) => {
  if (missing) return t.skip(missing);
  const bob = ua.bob!;
  const desk = ua.desk!;
  try {
    await idle();
    const from = { bob: bob.events.length, desk: desk.events.length };
    const since = { bob: bob.output.length, desk: desk.output.length };
    const invites = desk.receivedRequests('INVITE') + 1;
    const recorded = { bob: bob.decoded().length, desk: desk.decoded().length };
    assert.equal((await bob.dial(`sip:desk@${DOMAIN}`)).ok, true);
    await bob.waitEvent("bob's call established", (e) => e.type === 'CALL_ESTABLISHED', 10_000, from.bob);
    await desk.waitEvent(
      "desk's call established (ACK received)",
      (e) => e.type === 'CALL_ESTABLISHED',
      10_000,
      from.desk,
    );
    const talked = Date.now();
    await sleep(3000);

    // Hold: baresip re-INVITEs with a=sendonly through edge and core; the phone answers recvonly and gets the ACK.
    const held = Date.now();
    assert.equal((await bob.hold()).ok, true);
    await waitFor('the hold re-INVITE answered and ACKed at the phone', () => reInvited(desk, invites + 1), 10_000, 50);
    assert.match(lastInvite(desk), /a=sendonly/, 'the phone was told the call is held');
    await sleep(2000);
    assert.equal((await bob.resume()).ok, true);
    await waitFor(
      'the resume re-INVITE answered and ACKed at the phone',
      () => reInvited(desk, invites + 2),
      10_000,
      50,
    );
    const resumed = Date.now();
    assert.match(lastInvite(desk), /a=sendrecv/, 'and that it is resumed');
    for (const n of ['edge', 'core'] as const)
      assert.equal(status(n).media.relays, 1, `${n}: hold and resume kept the call's one relay`);

    // DTMF each way as RFC 4733 telephone-events inside the (S)RTP: the far baresip reports each digit.
    assert.equal((await bob.sendDigits('5')).ok, true);
    const atDesk = await desk.waitEvent(
      "the phone to receive bob's digit",
      (e) => e.type === 'CALL_DTMF_START',
      10_000,
      from.desk,
    );
    assert.equal(atDesk.param, '5');
    assert.equal((await desk.sendDigits('9')).ok, true);
    const atBob = await bob.waitEvent(
      "bob to receive the phone's digit",
      (e) => e.type === 'CALL_DTMF_START',
      10_000,
      from.bob,
    );
    assert.equal(atBob.param, '9');
    await sleep(4000);

    const ended = Date.now();
    assert.equal((await bob.hangup()).ok, true);
    await desk.waitEvent("the phone's call closed by the BYE", (e) => e.type === 'CALL_CLOSED', 10_000, from.desk);
    await idle();
    for (const u of [bob, desk])
      assert.doesNotMatch(
        u.output.slice(since[u === bob ? 'bob' : 'desk']),
        /failed to (decrypt|encrypt|unprotect)|replay/i,
        'no SRTP or SRTCP packet refused at the endpoint',
      );
    // Before the hold: each far end decoded the other's tone (the recording ends at the hold, see decoded()).
    const heard = { bob: bob.decoded(), desk: desk.decoded() };
    assert.equal(heard.bob.length, recorded.bob + 1, 'bob recorded the call');
    assert.equal(heard.desk.length, recorded.desk + 1, 'the phone recorded the call');
    t.diagnostic(
      `heard before the hold: bob ${JSON.stringify(heard.bob.at(-1))}, desk ${JSON.stringify(heard.desk.at(-1))}`,
    );
    isTone(heard.bob.at(-1)!, TONES.desk, 'bob before the hold');
    isTone(heard.desk.at(-1)!, TONES.bob, 'desk before the hold');
    // After the resume: the RTP packets each far end counted (authenticated and decrypted, for bob). baresip sends
    // nothing while its call is held either way, so the counts cover the time before the hold and after the resume.
    const counted = { bob: await bob.rtpTotals(since.bob), desk: await desk.rtpTotals(since.desk) };
    t.diagnostic(
      `RTP counted: ${JSON.stringify(counted)}; talked ${held - talked} ms, held ${resumed - held} ms, resumed ${ended - resumed} ms`,
    );
    const talking = held - talked + ended - resumed;
    assert.ok(
      counted.bob.received >= fewestPackets(talking),
      `bob received the phone's audio before the hold and after the resume (${counted.bob.received} packets)`,
    );
    assert.ok(
      counted.desk.received >= fewestPackets(talking),
      `the phone received bob's audio before the hold and after the resume (${counted.desk.received} packets)`,
    );
  } catch (err) {
    for (const [name, u] of Object.entries(ua)) t.diagnostic(`--- ${name} ---\n${u!.output.slice(-6000)}`);
    throw err;
  }
});

/** A call from `caller` to `callee` that rings (the callee picks up by hand) and is ended by `ender` before anyone answers. */
async function unanswered(
  t: TestContext,
  caller: Baresip,
  callee: Baresip,
  calleeAor: string,
  ender: Baresip,
): Promise<{ caller: BaresipEvent; callee: BaresipEvent }> {
  await idle();
  const failed = { edge: status('edge').sip.callsEnded.failed ?? 0, core: status('core').sip.callsEnded.failed ?? 0 };
  await callee.answerMode('manual');
  t.after(() => callee.answerMode('auto'));
  const from = { caller: caller.events.length, callee: callee.events.length };
  try {
    assert.equal((await caller.dial(`sip:${calleeAor}`)).ok, true);
    await callee.waitEvent('the callee rings', (e) => e.type === 'CALL_INCOMING', 10_000, from.callee);
    await caller.waitEvent('the caller hears it ring (180)', (e) => e.type === 'CALL_RINGING', 10_000, from.caller);
    // The sip section is read at most a second ago: wait for it to show the ringing call.
    for (const n of ['edge', 'core'] as const)
      await waitFor(
        `${n}: one leg, not answered`,
        () => status(n).sip.callList.length === 1 && status(n).sip.callList[0]!.state === 'setup',
        3000,
        50,
      );
    assert.equal((await ender.hangup()).ok, true);
    const closed = {
      caller: await caller.waitEvent("the caller's call closed", (e) => e.type === 'CALL_CLOSED', 10_000, from.caller),
      callee: await callee.waitEvent("the callee's call closed", (e) => e.type === 'CALL_CLOSED', 10_000, from.callee),
    };
    await idle();
    for (const n of ['edge', 'core'] as const)
      assert.equal((status(n).sip.callsEnded.failed ?? 0) - failed[n], 1, `${n}: the leg ended as failed`);
    return closed;
  } catch (err) {
    for (const [name, u] of Object.entries(ua)) t.diagnostic(`--- ${name} ---\n${u!.output.slice(-6000)}`);
    throw err;
  }
}

test('a remote client CANCELs a call to an inside phone while it rings: 200 to the CANCEL, 487 to the INVITE, nothing left', async (t) => {
  if (missing) return t.skip(missing);
  const cancels = ua.desk!.receivedRequests('CANCEL');
  await unanswered(t, ua.bob!, ua.desk!, `desk@${DOMAIN}`, ua.bob!);
  assert.equal(ua.desk!.receivedRequests('CANCEL'), cancels + 1, 'the CANCEL reached the phone through both nodes');
  assert.match(ua.bob!.output, /^SIP\/2\.0 487 /m, 'the INVITE was answered 487 Request Terminated');
});

test('a remote client rejects a call from an inside phone: the 486 reaches the phone, nothing left', async (t) => {
  if (missing) return t.skip(missing);
  const { caller } = await unanswered(t, ua.desk!, ua.carol!, `carol@${DOMAIN}`, ua.carol!);
  assert.match(caller.param ?? '', /486/, `the phone was told why: ${caller.param}`);
});
