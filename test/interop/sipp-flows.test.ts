// sipp (Debian's sip-tester) drives what real endpoints do in a call, across the three hosts (edge in dmz, core and the
// inside in inside, remote clients in internet, the DMZ firewall between), with RTP played from pcaps by sipp and
// counted, decrypted, at the remote client. Debian's sipp 3.6 has neither TLS nor SRTP (both came with 3.7), and the
// remote leg is TLS with SRTP that core forces, so sipp is the inside end of each call and the remote end is the lab's
// client with werift's SRTP (tools/srtp-client.ts), one process per remote user:
// - remote callee: sipp is an inside phone that calls bob through the lab's call control (hold three ways and resume,
//   RFC 4733 DTMF from Debian's pcap, a session refreshed by UPDATE and re-INVITE, early media from bob, CANCEL, 486);
// - remote caller: sipp is call control itself for the domain uas.example.com (core's route for that deployment), which
//   carol calls (early media with a reliable 183 and PRACK, an offer in UPDATE, hold and resume, an offer in a reliable
//   183 answered in the PRACK, a session she refreshes, CANCEL, 486);
// - faults: carol vanishes mid-call (her process killed: no BYE), and core's media timeout ends the call with a BYE to
//   sipp; the traversal link is cut mid-call (its TCP connection killed in inside), media goes on, and in-dialog
//   requests pass both ways once core has dialled again.
// Each scenario's exit status and statistics decide its part; after each, both nodes are back to no call, no relay and
// the port pairs they started with.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { ADDRESSES, createTopology, type Topology } from '../topology/index.js';
import { pairFiles, type PairFiles } from '../topology/pair-files.js';
import { CLI, freePort } from '../support/node-files.js';
import { mediaRange } from '../support/media-range.js';
import { waitFor } from '../support/log-capture.js';
import { jsonLines, type LineReader } from '../sip-proxy/lines.js';
import { sippMissing, startSippCall, type SippCall, type SippRole, type SippRun } from './sipp.js';
import { SIPP_PCAPS, writeRtpPcap } from './rtp-pcap.js';

const SIP_TOOLS = join(CLI, '../../../test/sip-proxy/tools');
const TOOLS = join(CLI, '../../../test/interop/tools');
const DTMF_PCAP = join(SIPP_PCAPS, 'dtmf_2833_1.pcap');
/** audio.pcap: 50 PCMU packets (1 s); long.pcap: 150 (3 s); dtmf.pcap: Debian's digit 1, 10 RFC 4733 packets. */
const AUDIO = 50;
const LONG = 150;
const DTMF = 10;
const MEDIA_TIMEOUT_S = 4;
/** The address sipp takes as call control for uas.example.com: another address than the lab's call control on inside. */
const UAS_ADDRESS = '127.0.0.1';

const missing = sippMissing() ?? (existsSync(DTMF_PCAP) ? null : `${DTMF_PCAP} is missing (Debian sip-tester)`);
let topo: Topology | null = null;
let skip = missing ?? '';
let files: PairFiles;
let pcapDir = '';
const pcaps: Record<string, string> = {};
const ports = { callControl: 0, uas: 0, sippMedia: 0, edgeAdmin: 0, coreAdmin: 0 };
let edgeLines: LineReader;
let bob: Remote;
let carol: Remote;
const baseline = { edge: 0, core: 0 };

type Stats = { byPt: Record<string, number>; echoed: number; errors: number; firstErrors: string[] };
type NodeStatus = {
  sip: { calls: number; callsEnded: Record<string, number> };
  media: { calls: number; relays: number; portPairsInUse: number };
};

/** A remote client process (tools/srtp-client.ts) in internet: commands with an id, events as JSON lines. */
class Remote {
  #id = 0;
  constructor(
    readonly proc: ChildProcess,
    readonly lines: LineReader,
  ) {}

  static async start(user: string, domain: string): Promise<Remote> {
    const proc = topo!.spawnNode(
      topo!.internet,
      [
        join(TOOLS, 'srtp-client.js'),
        topo!.dmzPublicAddress,
        String(files.ports.sipTls),
        join(files.dir, 'ca.pem'),
        user,
        `${user}-pw`,
        domain,
        topo!.internet.address,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const r = new Remote(proc, jsonLines(proc));
    const up = await r.lines.next(`${user} connected`, (o) => o.event === 'connected' || o.event === 'error');
    assert.equal(up.event, 'connected', JSON.stringify(up));
    return r;
  }

  /** Sends a command; resolves with its outcome (the event carrying its id). */
  do(cmd: Record<string, unknown>, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const id = ++this.#id;
    this.proc.stdin!.write(`${JSON.stringify({ ...cmd, id })}\n`);
    return this.lines.next(`${String(cmd.op)} #${id}`, (o) => o.id === id, timeoutMs);
  }

  /** Where the events seen so far end: `since(mark)` gives those after it. */
  mark(): number {
    return this.lines.all().length;
  }

  since(mark: number, event: string): Array<Record<string, unknown>> {
    return this.lines
      .all()
      .slice(mark)
      .filter((o) => o.event === event);
  }

  next(mark: number, what: string, match: (o: Record<string, unknown>) => boolean, timeoutMs?: number) {
    return this.lines.next(what, (o) => this.lines.all().indexOf(o) >= mark && match(o), timeoutMs);
  }

  /** What it decrypted since the last reset, by payload type, and its own packets echoed back; then starts again. */
  async stats(reset = false): Promise<Stats> {
    return (await this.do({ op: 'stats', reset })) as unknown as Stats;
  }
}

/**
 * A Node process in a node's namespace that reads the node's /api/status for each line it is sent (the admin API is on
 * that namespace's loopback, out of this process's reach); one per node, so a poll costs a request, not a process.
 */
const STATUS_READER = `require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, port } = JSON.parse(line);
  const say = (o) => process.stdout.write(JSON.stringify({ id, ...o }) + '\\n');
  fetch('http://127.0.0.1:' + port + '/api/status').then((r) => r.json()).then((status) => say({ status }), (e) => say({ error: e.message }));
});`;
const readers: Partial<Record<'edge' | 'core', { proc: ChildProcess; lines: LineReader; next: number }>> = {};

async function status(node: 'edge' | 'core'): Promise<NodeStatus> {
  let r = readers[node];
  if (!r) {
    const proc = topo!.spawnNode(node === 'edge' ? topo!.dmz : topo!.inside, ['-e', STATUS_READER], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    r = readers[node] = { proc, lines: jsonLines(proc), next: 0 };
  }
  const id = ++r.next;
  r.proc.stdin!.write(`${JSON.stringify({ id, port: node === 'edge' ? ports.edgeAdmin : ports.coreAdmin })}\n`);
  const got = await r.lines.next(`${node} status`, (o) => o.id === id, 5000);
  if (!got.status) throw new Error(`${node} status: ${String(got.error)}`);
  return got.status as NodeStatus;
}

/** Both nodes back where they started: no leg, no relay, every port pair returned to the pool. */
async function settled(): Promise<void> {
  let last: Record<string, unknown> = {};
  await waitFor(
    'no call, no relay and the starting port pairs on both nodes',
    async () => {
      const [edge, core] = await Promise.all([status('edge'), status('core')]);
      last = { edge: [edge.sip.calls, edge.media], core: [core.sip.calls, core.media] };
      return [edge, core].every(
        (s, i) =>
          s.sip.calls === 0 &&
          s.media.calls === 0 &&
          s.media.relays === 0 &&
          s.media.portPairsInUse === (i === 0 ? baseline.edge : baseline.core),
      );
    },
    15_000,
    250,
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(last)}`);
  });
}

/** One sipp call on inside: the inside phone calling through call control, or call control answering (uas). */
function sipp(scenario: string, role: 'phone' | 'uas', service = 'sipp', keys: Record<string, string> = {}): SippCall {
  const r: SippRole =
    role === 'phone' ? { target: { host: topo!.inside.address, port: ports.callControl } } : { listen: ports.uas };
  const call = startSippCall({
    spawn: (cmd, args, o) => topo!.spawn(topo!.inside, cmd, args, o),
    scenario,
    role: r,
    address: role === 'phone' ? topo!.inside.address : UAS_ADDRESS,
    media: ports.sippMedia,
    files: pcaps,
    keys: { domain: 'example.com', ...keys },
    service,
  });
  running.add(call);
  return call;
}

/** sipp runs still going (a test that failed before its call ended): ended after each test, so the next can listen. */
const running = new Set<SippCall>();
afterEach(async () => {
  await Promise.all([...running].map((c) => (c.kill(), c.done)));
  running.clear();
});

const explain = (r: SippRun) => `sipp exit ${r.status}; errors: ${r.errors}\nmessages:\n${r.messages}`;

async function passed(call: SippCall): Promise<void> {
  const r = await call.done;
  assert.equal(r.status, 0, explain(r));
  assert.deepEqual([r.successful, r.failed], [1, 0], explain(r));
}

/** `p`, unless sipp fails first: then its own account of why, not a timeout elsewhere. */
function whileSipp<T>(call: SippCall, p: Promise<T>): Promise<T> {
  return Promise.race([
    p,
    call.done.then((r) => {
      if (r.status !== 0) throw new Error(`sipp failed first: ${explain(r)}`);
      return p;
    }),
  ]);
}

/** sipp as call control listens before a client calls it (core dials it for the first INVITE). */
async function listening(call: SippCall): Promise<void> {
  await whileSipp(
    call,
    waitFor(
      'sipp listening as call control',
      async () =>
        (await topo!.run(topo!.inside, 'ss', ['-Htln', `sport = :${ports.uas}`])).stdout.includes(String(ports.uas)),
      10_000,
      50,
    ),
  );
}

/** Polls the client's counters until `done` says so. */
function counted(who: Remote, what: string, done: (s: Stats) => boolean, timeoutMs = 10_000): Promise<Stats> {
  let last: Stats | undefined;
  return waitFor(
    what,
    async () => {
      last = await who.stats();
      return done(last) ? last : undefined;
    },
    timeoutMs,
    100,
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(last)}`);
  });
}

const pt = (s: Stats, type: number) => s.byPt[String(type)] ?? 0;
/** The packets the client could not decrypt, described, for an assertion's message. */
const bad = (s: Stats) => (s.errors ? `; undecryptable: ${s.firstErrors.join(' | ')}` : '');

before(async () => {
  if (missing) return;
  const made = await createTopology('sippflows');
  if ('skip' in made) {
    skip = made.skip;
    return;
  }
  topo = made;
  pcapDir = mkdtempSync(join(tmpdir(), 'mra-sipp-pcaps-'));
  pcaps['audio.pcap'] = join(pcapDir, 'audio.pcap');
  pcaps['long.pcap'] = join(pcapDir, 'long.pcap');
  pcaps['dtmf.pcap'] = DTMF_PCAP;
  writeRtpPcap(pcaps['audio.pcap'], { count: AUDIO, ssrc: 0x5177a0d1 });
  writeRtpPcap(pcaps['long.pcap'], { count: LONG, ssrc: 0x5177a0d2 });
  files = await pairFiles(topo, 'sipp-flows');
  ports.callControl = await freePort();
  ports.uas = await freePort();
  // sipp's RTP port (and the one after it) from a slice of its own, clear of core's media range in the same namespace.
  ports.sippMedia = mediaRange().port_min;
  const yaml = await files.writeConfigs(['sipTls'], {
    domains: [
      { name: 'example.com', sip_registrations: true },
      { name: 'uas.example.com', sip_registrations: true, deployment: 'uas' },
    ],
    unified_cm: [
      { publisher: topo.inside.address, nodes: [{ address: topo.inside.address, sip_port: ports.callControl }] },
      { publisher: UAS_ADDRESS, deployment: 'uas', nodes: [{ address: UAS_ADDRESS, sip_port: ports.uas }] },
    ],
    // Core ends a call whose media stops (the vanishing client), sooner than its 60 s default.
    media: { ...mediaRange(), timeout_s: MEDIA_TIMEOUT_S, timeout_action: 'hangup' },
  });
  const cc = topo.spawnNode(
    topo.inside,
    [join(SIP_TOOLS, 'call-control.js'), topo.inside.address, String(ports.callControl)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  await jsonLines(cc).next('call control listening', (o) => o.event === 'listening');
  const edge = topo.spawnNode(topo.dmz, [CLI, 'edge', '-c', yaml.edge], { stdio: ['ignore', 'pipe', 'inherit'] });
  edgeLines = jsonLines(edge);
  const core = topo.spawnNode(topo.inside, [CLI, 'core', '-c', yaml.core], { stdio: ['ignore', 'pipe', 'inherit'] });
  const coreLines = jsonLines(core);
  const admin = (l: LineReader) => l.next('the admin API', (o) => o.msg === 'admin API listening');
  ports.edgeAdmin = Number((await admin(edgeLines)).port);
  ports.coreAdmin = Number((await admin(coreLines)).port);
  await edgeLines.next(
    'the edge to learn the domain table',
    (o) => o.msg === 'domain table received from core',
    30_000,
  );
  bob = await Remote.start('bob', 'example.com');
  assert.equal((await bob.do({ op: 'register' })).status, 200, 'bob registered through edge and core');
  carol = await Remote.start('carol', 'uas.example.com');
  baseline.edge = (await status('edge')).media.portPairsInUse;
  baseline.core = (await status('core')).media.portPairsInUse;
});

after(async () => {
  for (const r of [bob, carol]) r?.proc.stdin?.end();
  for (const r of Object.values(readers)) r.proc.stdin?.end();
  await topo?.destroy();
  files?.remove();
  if (pcapDir) rmSync(pcapDir, { recursive: true, force: true });
});

test('remote callee: the inside phone (sipp) calls, plays audio and RFC 4733 DTMF, holds three ways and resumes; the remote client decrypts all of it and hears its own packets echoed back', async (t) => {
  if (!topo) return t.skip(skip);
  await bob.stats(true);
  const mark = bob.mark();
  // bob speaks whenever the call lets him (not while held): sipp sends it back as it came.
  await bob.do({ op: 'talk', on: true });
  await passed(sipp('phone-calls-hold.xml', 'phone', 'bob'));
  await bob.do({ op: 'talk', on: false });
  const s = await counted(bob, 'every packet sipp played', (x) => pt(x, 0) >= 2 * AUDIO, 5000);
  assert.deepEqual(
    [pt(s, 0), pt(s, 101), s.errors],
    [2 * AUDIO, DTMF, 0],
    `audio before the hold and after the resume and the DTMF events, all decrypted under core's key${bad(s)}`,
  );
  assert.ok(s.echoed >= 20, `bob heard his own audio back through sipp (${s.echoed} packets)`);
  const offers = bob.since(mark, 'offer');
  assert.deepEqual(
    offers.map((o) => o.direction),
    ['sendrecv', 'sendonly', 'sendonly', 'inactive', 'sendrecv'],
    'hold by c=0.0.0.0 reaches the client as a=sendonly',
  );
  for (const o of offers) {
    assert.deepEqual([o.proto, o.address], ['RTP/SAVP', topo.dmzPublicAddress]);
    assert.deepEqual([o.port, o.key], [offers[0]!.port, offers[0]!.key], 'the same edge port and key throughout');
  }
  await settled();
});

test('remote callee: a 2 s session timer refreshed by UPDATE (with a new offer) and by re-INVITE outlives twice its interval', async (t) => {
  if (!topo) return t.skip(skip);
  const expiredBefore = (await status('core')).sip.callsEnded.sessionExpired ?? 0;
  await bob.stats(true);
  const mark = bob.mark();
  await bob.do({ op: 'talk', on: true });
  await passed(sipp('phone-calls-refresh.xml', 'phone', 'bob'));
  await bob.do({ op: 'talk', on: false });
  assert.deepEqual(
    bob.since(mark, 'offer').map((o) => o.method),
    ['INVITE', 'UPDATE', 'INVITE'],
  );
  const s = await counted(bob, 'the three plays', (x) => pt(x, 0) >= 3 * AUDIO, 5000);
  assert.equal(pt(s, 0), 3 * AUDIO);
  assert.equal((await status('core')).sip.callsEnded.sessionExpired ?? 0, expiredBefore, 'core ended no session');
  await settled();
});

test('remote callee: a client that answers with early media (183 with SDP, the 200 1.5 s later) hears what the phone plays before the 200', async (t) => {
  if (!topo) return t.skip(skip);
  await bob.do({ op: 'answer', mode: 'early' });
  await bob.stats(true);
  await passed(sipp('phone-calls-early.xml', 'phone', 'bob'));
  await bob.do({ op: 'answer', mode: 'accept' });
  const s = await counted(bob, 'both plays', (x) => pt(x, 0) >= 2 * AUDIO, 5000);
  assert.deepEqual([pt(s, 0), s.errors], [2 * AUDIO, 0], `every packet, the early play included${bad(s)}`);
  await settled();
});

test('remote callee: the inside phone CANCELs a ringing call (200, 487) and a busy client answers 486', async (t) => {
  if (!topo) return t.skip(skip);
  assert.equal((await bob.do({ op: 'answer', mode: 'ring' })).status, 200);
  await passed(sipp('phone-calls-cancel.xml', 'phone', 'bob'));
  await settled();
  await bob.do({ op: 'answer', mode: 'busy' });
  await passed(sipp('phone-calls-busy.xml', 'phone', 'bob'));
  await bob.do({ op: 'answer', mode: 'accept' });
  await settled();
});

test('remote caller: early media in a reliable 183 (PRACK) flows before the 200; an offer in UPDATE, hold and resume are answered by sipp as call control', async (t) => {
  if (!topo) return t.skip(skip);
  await carol.stats(true);
  const mark = carol.mark();
  const call = sipp('phone-answers-early.xml', 'uas');
  await listening(call);
  const final = await whileSipp(call, carol.do({ op: 'call', uri: 'sip:desk@uas.example.com' }));
  assert.equal(final.status, 200, JSON.stringify(final));
  const [early] = carol.since(mark, 'provisional').filter((o) => o.status === 183);
  assert.ok(early, 'the 183 reached carol');
  assert.equal(early.reliable, true, 'with Require: 100rel');
  assert.deepEqual(
    [(early.media as { proto: string }).proto, (early.media as { address: string }).address],
    ['RTP/SAVP', topo.dmzPublicAddress],
  );
  assert.deepEqual(
    carol.since(mark, 'prack').map((o) => o.status),
    [200],
    'the PRACK answered',
  );
  // How much of the play is in before the 200 is a matter of timing; that it started is not (all of it is counted below).
  assert.ok(Number(final.decrypted) > 0, 'early audio decrypted before the 200 came');
  const update = await whileSipp(call, carol.do({ op: 'update' }));
  assert.equal(update.status, 200);
  const hold = await whileSipp(call, carol.do({ op: 'reinvite', direction: 'sendonly' }));
  assert.deepEqual([hold.status, (hold.media as { direction: string }).direction], [200, 'recvonly']);
  const resume = await whileSipp(call, carol.do({ op: 'reinvite', direction: 'sendrecv' }));
  assert.deepEqual([resume.status, (resume.media as { direction: string }).direction], [200, 'sendrecv']);
  for (const r of [update, hold, resume])
    assert.equal((r.media as { port: number }).port, (early.media as { port: number }).port, 'the same edge port');
  await carol.do({ op: 'send', count: 20 });
  const s = await whileSipp(
    call,
    counted(carol, 'the second play and the echo', (x) => pt(x, 0) >= 2 * AUDIO && x.echoed >= 20),
  );
  assert.deepEqual(
    [pt(s, 0), s.echoed, s.errors],
    [2 * AUDIO, 20, 0],
    `all of sipp's audio, and carol's own back${bad(s)}`,
  );
  assert.equal((await whileSipp(call, carol.do({ op: 'bye' }))).status, 200);
  await passed(call);
  await settled();
});

test('remote caller: an INVITE without SDP gets the offer in a reliable 183 and answers it in the PRACK; media flows to the port that answer gave', async (t) => {
  if (!topo) return t.skip(skip);
  await carol.stats(true);
  const mark = carol.mark();
  const call = sipp('phone-answers-prack.xml', 'uas');
  await listening(call);
  await carol.do({ op: 'talk', on: true });
  const final = await whileSipp(call, carol.do({ op: 'call', uri: 'sip:desk@uas.example.com', delayed: true }));
  assert.equal(final.status, 200, JSON.stringify(final));
  const [offer] = carol.since(mark, 'offer');
  assert.deepEqual(
    [offer?.method, offer?.proto, offer?.address],
    ['PRACK', 'RTP/SAVP', topo.dmzPublicAddress],
    "the 183's offer reached carol as SRTP at the edge, and she answered it in the PRACK",
  );
  assert.deepEqual(
    carol.since(mark, 'prack').map((o) => o.status),
    [200],
  );
  const s = await whileSipp(
    call,
    counted(carol, 'the play and the echo', (x) => pt(x, 0) >= AUDIO && x.echoed > 0),
  );
  await carol.do({ op: 'talk', on: false });
  assert.deepEqual([pt(s, 0), s.errors], [AUDIO, 0], bad(s));
  assert.equal((await whileSipp(call, carol.do({ op: 'bye' }))).status, 200);
  await passed(call);
  await settled();
});

test('remote caller: a 2 s session timer the client refreshes by UPDATE (no offer) and by re-INVITE outlives twice its interval', async (t) => {
  if (!topo) return t.skip(skip);
  const expiredBefore = (await status('core')).sip.callsEnded.sessionExpired ?? 0;
  await carol.stats(true);
  const mark = carol.mark();
  const call = sipp('phone-answers-refresh.xml', 'uas');
  await listening(call);
  const headers = [
    ['Session-Expires', '2;refresher=uac'],
    ['Supported', 'timer'],
  ];
  await carol.do({ op: 'talk', on: true });
  assert.equal((await whileSipp(call, carol.do({ op: 'call', uri: 'sip:desk@uas.example.com', headers }))).status, 200);
  // A refresh every 1.5 s, the last well past twice the interval since the call began.
  for (const op of [{ op: 'update', bare: true }, { op: 'reinvite' }]) {
    await sleep(1500);
    assert.equal((await whileSipp(call, carol.do({ ...op, headers }))).status, 200, `${op.op} answered`);
  }
  await sleep(1500);
  assert.equal((await whileSipp(call, carol.do({ op: 'bye' }))).status, 200);
  await carol.do({ op: 'talk', on: false });
  await passed(call);
  assert.deepEqual(carol.since(mark, 'request'), [], 'no BYE from core reached the client');
  assert.equal((await status('core')).sip.callsEnded.sessionExpired ?? 0, expiredBefore, 'core ended no session');
  const s = await counted(carol, 'the three plays', (x) => pt(x, 0) >= 3 * AUDIO, 5000);
  assert.deepEqual([pt(s, 0), s.errors], [3 * AUDIO, 0], bad(s));
  await settled();
});

test('remote caller: a CANCEL while call control rings (200, then 487), and a 486', async (t) => {
  if (!topo) return t.skip(skip);
  const mark = carol.mark();
  const ringing = sipp('phone-answers-cancel.xml', 'uas');
  await listening(ringing);
  const final = carol.do({ op: 'call', uri: 'sip:desk@uas.example.com' });
  await whileSipp(
    ringing,
    carol.next(mark, 'the 180', (o) => o.event === 'provisional' && o.status === 180),
  );
  assert.equal((await carol.do({ op: 'cancel' })).status, 200);
  assert.equal((await final).status, 487);
  await passed(ringing);
  await settled();

  const busy = sipp('phone-answers-busy.xml', 'uas');
  await listening(busy);
  assert.equal((await whileSipp(busy, carol.do({ op: 'call', uri: 'sip:desk@uas.example.com' }))).status, 486);
  await passed(busy);
  await settled();
});

/**
 * A remote client that calls sipp (call control) and vanishes mid-call: its process killed, so its TLS connection drops
 * and no BYE is sent. The edge ends its leg with the flow at once; core ends the call with a BYE to sipp, whose Reason
 * the scenario checks; then both nodes are back where they started. Resolves with core's callsEnded before and after.
 */
async function vanish(sessionExpires: number): Promise<[Record<string, number>, Record<string, number>]> {
  const [edgeBefore, coreBefore] = await Promise.all([status('edge'), status('core')]);
  const dave = await Remote.start('dave', 'uas.example.com');
  const call = sipp('phone-answers-vanish.xml', 'uas', 'sipp', { session_expires: String(sessionExpires) });
  await listening(call);
  const headers = [
    ['Session-Expires', `${sessionExpires};refresher=uac`],
    ['Supported', 'timer'],
  ];
  assert.equal((await whileSipp(call, dave.do({ op: 'call', uri: 'sip:desk@uas.example.com', headers }))).status, 200);
  await dave.do({ op: 'talk', on: true });
  await whileSipp(
    call,
    counted(dave, 'audio each way at dave', (s) => pt(s, 0) >= 10 && s.echoed >= 10),
  );
  // The client is gone: its TLS connection closes with its process, nothing is said.
  dave.proc.kill('SIGKILL');
  await waitFor(
    'the edge to end its leg with the flow',
    async () => (await status('edge')).sip.callsEnded.flowClosed! > (edgeBefore.sip.callsEnded.flowClosed ?? 0),
    5000,
    100,
  );
  await passed(call);
  await settled();
  return [coreBefore.sip.callsEnded, (await status('core')).sip.callsEnded];
}

test('fault: a remote client that vanishes mid-call (no BYE) is hung up by core on the media timeout, a BYE with the reason to the inside; the edge frees its relay at once', async (t) => {
  if (!topo) return t.skip(skip);
  // Jabber's session interval: the media timeout comes first.
  const [was, now] = await vanish(1800);
  assert.equal(now.mediaTimeout, (was.mediaTimeout ?? 0) + 1, 'core ended it on the media timeout');
});

test('fault: a vanished client whose session has a 2 s timer is hung up by core when the timer runs out (what ends it when media.timeout_action is report)', async (t) => {
  if (!topo) return t.skip(skip);
  const [was, now] = await vanish(2);
  assert.equal(now.sessionExpired, (was.sessionExpired ?? 0) + 1, 'core ended it on the session timer');
  assert.equal(now.mediaTimeout, was.mediaTimeout, 'not on the media timeout');
});

test('fault: the traversal link is cut mid-call; media goes on, core dials again, and in-dialog requests pass both ways over the new link', async (t) => {
  if (!topo) return t.skip(skip);
  await carol.stats(true);
  const mark = carol.mark();
  const call = sipp('phone-answers-link-cut.xml', 'uas');
  await listening(call);
  assert.equal((await whileSipp(call, carol.do({ op: 'call', uri: 'sip:desk@uas.example.com' }))).status, 200);
  await carol.do({ op: 'talk', on: true });
  await whileSipp(
    call,
    counted(carol, 'audio each way at carol', (s) => pt(s, 0) >= 5 && s.echoed >= 5),
  );
  const tables = edgeLines.all().filter((o) => o.msg === 'domain table received from core').length;
  // The link's SIP connection, killed where core opened it: both ends see it reset, as when a firewall drops it.
  const killed = await topo.run(topo.inside, 'ss', [
    '-K',
    'dst',
    ADDRESSES.dmzTraversal,
    'dport',
    '=',
    String(files.ports.traversalSip),
  ]);
  assert.match(killed.stdout, new RegExp(`:${files.ports.traversalSip}\\b`), `ss -K found the link: ${killed.stdout}`);
  await whileSipp(
    call,
    waitFor(
      'core to link again and send the domain table',
      () => edgeLines.all().filter((o) => o.msg === 'domain table received from core').length > tables,
      15_000,
      50,
    ),
  );
  // Media never used the link: every packet of the 3 s play arrives, and carol's own keep coming back.
  const echoed = (await carol.stats()).echoed;
  const s = await whileSipp(
    call,
    counted(carol, 'all of long.pcap at carol', (x) => pt(x, 0) >= LONG && x.echoed > echoed + 10),
  );
  assert.deepEqual([pt(s, 0), s.errors], [LONG, 0], bad(s));
  // sipp waits for the INFO: the call is up on both nodes as before the cut, one leg and one relay each.
  const [edge, core] = await Promise.all([status('edge'), status('core')]);
  assert.deepEqual(
    [edge.sip.calls, edge.media.relays, core.sip.calls, core.media.relays],
    [1, 1, 1, 1],
    'neither node ended the call',
  );
  await carol.do({ op: 'talk', on: false });
  assert.equal((await whileSipp(call, carol.do({ op: 'info' }))).status, 200, 'an INFO from the client reaches sipp');
  await passed(call);
  assert.deepEqual(
    carol.since(mark, 'offer').map((o) => o.direction),
    ['sendonly'],
    "sipp's hold reached the client",
  );
  assert.deepEqual(
    carol.since(mark, 'request').map((o) => o.method),
    ['ACK', 'BYE'],
    "sipp's ACK and BYE reached the client",
  );
  await settled();
});
