// Third-party endpoints through the lab's pair: baresip (its own SIP, TLS and SRTP stacks) as remote clients that
// name the edge by its DNS name (served by dnsmasq) or by the route get_edge_config hands out, and as an inside phone
// registered with the lab's call control. Calls between two remote clients, to and from the inside phone, and to one
// of the lab's own simulated clients: each party sends its own tone, so what the far end decodes says whose audio it
// is and that its SRTP decrypted; the callee's CALL_ESTABLISHED says the ACK reached it; BYE is answered; both nodes
// end with no leg, no relay and every port back.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, LAB_ADDRESSES, LAB_USERS, type Lab } from '../../src/lab/index.js';
import { waitFor } from '../support/log-capture.js';
import { mediaRange } from '../support/media-range.js';
import { Baresip, baresipMissing, type Audio } from './baresip.js';
import { dnsmasqMissing, startDns, type Dns } from './dnsmasq.js';

const DOMAIN = 'lab.example.com';
const EDGE_NAME = `edge.${DOMAIN}`;
const TONES = { bob: 440, carol: 880, desk: 660 } as const;
const missing = baresipMissing() ?? dnsmasqMissing();

let dir = '';
let lab: Lab | undefined;
let dns: Dns | undefined;
let edgeConfigRoute = '';
const ua: Partial<Record<'bob' | 'carol' | 'desk', Baresip>> = {};
/** Each node's port pairs in use with no call (the edge's mux pairs are always open). */
const basePorts = { edge: 0, core: 0 };

type Leg = { client: string; state: string; confirmed: boolean };
type Section = { sip: { calls: number; callList: Leg[]; callsEnded: Record<string, number>; registrations: number }; media: { relays: number; portPairsInUse: number } };
const status = (node: 'edge' | 'core') => lab![node].status() as unknown as Section;

/** GET get_edge_config as Jabber does at sign-in: the SIP route it hands out (Expressway: sipRequest/route). */
function fetchEdgeConfigRoute(l: Lab, ca: string): Promise<string> {
  const user = LAB_USERS[0]!;
  const path = `/${Buffer.from(DOMAIN).toString('base64url')}/get_edge_config?service_name=_cisco-uds&service_name=_cuplogin`;
  return new Promise((resolve, reject) => {
    const req = request({ host: LAB_ADDRESSES.edge, port: l.edge.ports.https!, servername: EDGE_NAME, ca, path, agent: false, headers: { authorization: `Basic ${Buffer.from(`${user.id}:${user.password}`).toString('base64')}` } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        const route = /<sipRequest><route>([^<]*)<\/route>/.exec(body)?.[1];
        if (res.statusCode === 200 && route) resolve(route.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
        else reject(new Error(`get_edge_config: ${res.statusCode} ${body.slice(0, 300)}`));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  if (missing) return;
  dir = mkdtempSync(join(tmpdir(), 'mra-baresip-lab-'));
  // One simulated client (alice) besides the third-party ones; no desk phone of the lab's own calling her.
  lab = await startLab({ dir, ports: 'ephemeral', clients: 1, deskPhone: false, logLevel: 'warn', media: { edge: mediaRange(), core: mediaRange(), clients: mediaRange() } });
  basePorts.edge = status('edge').media.portPairsInUse;
  basePorts.core = status('core').media.portPairsInUse;
  dns = await startDns({ [EDGE_NAME]: LAB_ADDRESSES.edge });
  const caFile = join(dir, 'pki', 'ca.pem');
  const ca = readFileSync(caFile, 'utf8');
  // Until the link is up (and discovery has answered) the edge answers 503: signing in is retried, as Jabber does.
  edgeConfigRoute = await waitFor('get_edge_config answered', () => fetchEdgeConfigRoute(lab!, ca).catch(() => undefined), 20_000, 200);
  const remote = { transport: 'tls' as const, srtp: true, address: LAB_ADDRESSES.internet, caFile, dnsServer: dns.server, autoAnswer: true };
  // bob names the edge as every SIP client is configured: by its DNS name, as the outbound proxy.
  ua.bob = await Baresip.start({ ...remote, aor: `bob@${DOMAIN}`, password: 'bob-pw', outbound: `sip:${EDGE_NAME}:${lab.edge.ports.sipTls};transport=tls`, toneHz: TONES.bob });
  // carol preloads the route get_edge_config gave (<sip:core1@edge.lab.example.com:port;transport=tls;lr>), as Jabber does.
  ua.carol = await Baresip.start({ ...remote, aor: `carol@${DOMAIN}`, password: 'carol-pw', outbound: edgeConfigRoute.replace(/^<|>$/g, '').replace(/;lr\b/, ''), toneHz: TONES.carol });
  // desk is an inside phone: plain RTP, registered with call control directly over TCP.
  ua.desk = await Baresip.start({ aor: `desk@${DOMAIN}`, password: 'desk-pw', outbound: `sip:${LAB_ADDRESSES.inside}:${lab.inside.ports.callControlSip};transport=tcp`, transport: 'tcp', srtp: false, address: LAB_ADDRESSES.inside, toneHz: TONES.desk, autoAnswer: true });
});

after(async () => {
  for (const u of Object.values(ua)) await u?.close();
  await dns?.close();
  await lab?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Neither node carries a leg or a relay, and both pools have every port back. */
async function idle(): Promise<void> {
  await waitFor('no call leg and no relay left on either node', () => (['edge', 'core'] as const).every((n) => status(n).sip.calls === 0 && status(n).media.relays === 0 && status(n).media.portPairsInUse === basePorts[n]), 10_000, 100);
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
  await o.caller.waitEvent('the caller\'s call established (200 OK accepted)', (e) => e.type === 'CALL_ESTABLISHED', 10_000, marks.caller);
  // A UAS's dialog is established when the ACK arrives (RFC 3261 §13.3.1.4): the ACK came through both nodes.
  if (o.answerer) await o.answerer.waitEvent('the callee\'s call established (ACK received)', (e) => e.type === 'CALL_ESTABLISHED', 10_000, marks.answerer);
  for (const n of ['edge', 'core'] as const) {
    const legs = await waitFor(`${n}: ${o.legs} confirmed legs`, () => {
      const l = status(n).sip.callList;
      return l.length === o.legs && l.every((x) => x.state === 'active' && x.confirmed) ? l : undefined;
    }, 5000, 50);
    assert.equal(legs.length, o.legs);
  }
  // Long enough for a few RTCP reports each way (baresip sends one about every 5 s).
  await new Promise((r) => setTimeout(r, o.holdMs ?? 6000));
  const other = o.hangsUp === o.caller ? o.answerer : o.caller;
  const otherMark = other === o.caller ? marks.caller : marks.answerer;
  assert.equal((await o.hangsUp.hangup()).ok, true);
  if (other) {
    const closed = await other.waitEvent('the far end\'s call closed by the BYE', (e) => e.type === 'CALL_CLOSED', 10_000, otherMark);
    assert.doesNotMatch(closed.param ?? '', /error|timeout|failed/i, `closed because: ${closed.param}`);
  }
  await idle();
  for (const n of ['edge', 'core'] as const) assert.equal((status(n).sip.callsEnded.bye ?? 0) - ended[n], o.legs, `${n}: every leg ended by its BYE`);
  for (const u of [o.caller, o.answerer]) {
    if (!u) continue;
    assert.doesNotMatch(u.output, /failed to (decrypt|encrypt)|replay/i, 'no SRTP or SRTCP packet refused at the endpoint');
  }
  const last = (u: Baresip, before: number) => {
    const all = u.decoded();
    assert.equal(all.length, before + 1, 'one decoded recording for the call');
    return all[all.length - 1]!;
  };
  t.diagnostic(`heard: caller ${JSON.stringify(last(o.caller, heard.caller))}${o.answerer ? `, callee ${JSON.stringify(last(o.answerer, heard.answerer))}` : ''}`);
  return { caller: last(o.caller, heard.caller), ...(o.answerer ? { answerer: last(o.answerer, heard.answerer) } : {}) };
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
  assert.match(ua.bob!.output, new RegExp(`Route: <sip:${EDGE_NAME.replace(/\./g, '\\.')}:\\d+;transport=tls;lr>`), 'bob\'s REGISTER named the edge by name');
  assert.match(ua.carol!.output, /Route: <sip:core1@edge\.lab\.example\.com:\d+;transport=tls;lr>/, 'carol\'s named it by the route');
  await ua.desk!.registered(15_000);
  // With alice, the lab's simulated client: three registrations through the pair.
  for (const n of ['edge', 'core'] as const) await waitFor(`${n}: 3 registrations`, () => status(n).sip.registrations === 3, 20_000, 100);
});

test('a call between two remote clients: SRTP both ways through the pair, the ACK reaches the callee, BYE answered, nothing left', async (t) => {
  if (missing) return t.skip(missing);
  const { caller, answerer } = await call(t, { caller: ua.bob!, callee: `carol@${DOMAIN}`, answerer: ua.carol!, hangsUp: ua.bob!, legs: 2 });
  isTone(caller, TONES.carol, 'bob');
  isTone(answerer!, TONES.bob, 'carol');
});

test('core names its own address in what it records: the lab\'s core connects from 127.0.2.1, not 127.0.0.1', async (t) => {
  if (missing) return t.skip(missing);
  // The INVITE carol received in the last test: core recorded itself twice (towards call control, and back out).
  const recorded = [...ua.carol!.output.matchAll(/^Record-Route: <sip:mra-core1@([\d.]+):\d+/gm)].map((m) => m[1]);
  assert.ok(recorded.length >= 2, 'core recorded itself');
  assert.deepEqual([...new Set(recorded)], [LAB_ADDRESSES.core]);
});

test('a remote client calls an inside phone (plain RTP inside, SRTP outside), and the inside phone hangs up', async (t) => {
  if (missing) return t.skip(missing);
  const { caller, answerer } = await call(t, { caller: ua.bob!, callee: `desk@${DOMAIN}`, answerer: ua.desk!, hangsUp: ua.desk!, legs: 1 });
  isTone(caller, TONES.desk, 'bob');
  isTone(answerer!, TONES.bob, 'desk');
});

test('an inside phone calls a remote client, who hangs up', async (t) => {
  if (missing) return t.skip(missing);
  const { caller, answerer } = await call(t, { caller: ua.desk!, callee: `carol@${DOMAIN}`, answerer: ua.carol!, hangsUp: ua.carol!, legs: 1 });
  isTone(caller, TONES.carol, 'desk');
  isTone(answerer!, TONES.desk, 'carol');
});

test('a third-party client calls one of the lab\'s simulated clients: its 200 has a Contact and the route set, so the call is confirmed and ends', async (t) => {
  if (missing) return t.skip(missing);
  // alice (the lab's client) echoes what she receives under her own SSRC: carol hears her own tone back.
  const { caller } = await call(t, { caller: ua.carol!, callee: `alice@${DOMAIN}`, hangsUp: ua.carol!, legs: 2, holdMs: 3000 });
  isTone(caller, TONES.carol, 'carol (alice\'s echo)');
});
