// The lab as `npm start` runs it (`mra-edge lab`, its own process): its inside phones keep an audio call (the desk
// phone) and a video call (the room endpoint) up with the simulated remote users. Both nodes list both calls with
// their kind and packets flowing each way on every stream, the status page's Calls tab shows them, and the far end
// (the remote user's SRTP stack) sees each phone's hold and resume and hears the digits it dials.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { waitFor } from '../support/log-capture.js';
import { CLI } from '../support/node-files.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];

type Side = { packetsIn: number; packetsOut: number };
type Stream = { stream: number; media?: string; a: Side; b: Side };
type CallLeg = { client: string; peer: string; state: string; kind: string; callId: string; media: Stream[] | null };

const flowing = (s: Stream) => s.a.packetsIn > 0 && s.a.packetsOut > 0 && s.b.packetsIn > 0 && s.b.packetsOut > 0;

async function legs(url: string): Promise<CallLeg[]> {
  try {
    const doc = (await (await fetch(`${url}/api/status`)).json()) as { sip?: { callList?: CallLeg[] } };
    return doc.sip?.callList ?? [];
  } catch {
    return [];
  }
}

/** The active leg from `peer` of this kind whose every stream (of `media`, in order) has packets each way. */
function flowingCall(list: CallLeg[], peer: string, kind: string, media: string[]): CallLeg | undefined {
  return list.find(
    (l) =>
      l.peer === peer &&
      l.state === 'active' &&
      l.kind === kind &&
      l.media?.length === media.length &&
      l.media.every((s, i) => s.media === media[i] && flowing(s)),
  );
}

test('npm start: the desk phone keeps an audio call and the room endpoint a video call up; both nodes and the status page list them with media flowing on every stream; the far end sees each hold and resume and hears the digits', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mra-lab-calls-'));
  // As `npm start` runs it, with the OS choosing the ports (tests run side by side) and JSON log lines to read.
  const lab = spawn(process.execPath, [CLI, 'lab', '--dir', dir, '--ephemeral-ports'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MRA_LOG_FORMAT: 'json' },
  });
  let err = '';
  let out = '';
  lab.stderr!.on('data', (d) => (err += d));
  lab.stdout!.on('data', (d) => (out += d));
  t.after(() => {
    lab.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const logged = (msg: string, fields: Record<string, string> = {}) =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v));

  // The banner comes once the lab is up, its phones' calls placed: two labs start side by side in a full run, on 2 cores.
  const banner = await waitFor('the lab banner', () => /core \{[^}]*"admin":(\d+)/.exec(err), 60_000);
  const core = `http://127.0.0.1:${banner[1]}`;
  const edge = `http://127.0.0.1:${/edge \{[^}]*"admin":(\d+)/.exec(err)![1]}`;
  // The console says where to look.
  assert.match(err, /audio call +desk@lab\.example\.com calls alice@lab\.example\.com .*Calls tab/);
  assert.match(err, /video call +room@lab\.example\.com calls bob@lab\.example\.com .*Calls tab/);

  // Both calls on both nodes: one audio stream, and audio + video, each with packets in and out on both sides.
  for (const [node, url] of [
    ['core', core],
    ['edge', edge],
  ]) {
    const audio = await waitFor(
      `the desk phone's audio call flowing on ${node}`,
      async () => flowingCall(await legs(url!), 'desk@lab.example.com', 'audio', ['audio']),
      60_000,
      300,
    );
    assert.equal(audio.client, 'alice@lab.example.com');
    const video = await waitFor(
      `the room endpoint's video call flowing on ${node}, both streams`,
      async () => flowingCall(await legs(url!), 'room@lab.example.com', 'video', ['audio', 'video']),
      30_000,
      300,
    );
    assert.equal(video.client, 'bob@lab.example.com');
  }

  // The far end: each remote user's SRTP stack (the lab's client media) hears the digits the phone dialled as
  // telephone-events, decrypted, and answers the phone's hold (a=sendonly) and its resume. The phone repeats them
  // every 30 s, so each wait spans a whole cycle: on a busy host the first digits can go before the far end's media is
  // up (a CI run waited 30 s from the calls flowing, ending just before the second round).
  const CYCLE_MS = 45_000;
  for (const [phone, aor] of [
    ['desk', 'alice@lab.example.com'],
    ['room', 'bob@lab.example.com'],
  ]) {
    const heard = await waitFor(
      `${aor} hearing ${phone}'s digits`,
      () => logged('lab client heard DTMF', { aor: aor! })[0],
      CYCLE_MS,
      200,
    );
    assert.equal(heard.digits, '1234#');
    await waitFor(
      `${aor} seeing ${phone}'s hold`,
      () => logged('lab client: the inside put the call on hold', { aor: aor! })[0],
      CYCLE_MS,
      200,
    );
    await waitFor(
      `${aor} seeing ${phone}'s resume`,
      () => logged('lab client: the inside resumed the call', { aor: aor! })[0],
      CYCLE_MS,
      200,
    );
    // The phone's side of it: each re-INVITE was answered (200) through core and edge.
    assert.ok(logged('lab phone put the call on hold', { to: aor! }).length >= 1);
    assert.ok(logged('lab phone resumed the call', { to: aor! }).length >= 1);
  }
  // After the resume the far end sends again (its echo is quiet while the call is held): what core receives from
  // it grows on every stream of both calls, counted from after the resumes were seen.
  const fromFarEnd = (list: CallLeg[]) =>
    new Map(list.filter((l) => l.state === 'active').map((l) => [l.callId, (l.media ?? []).map((m) => m.a.packetsIn)]));
  const resumed = fromFarEnd(await legs(core));
  await waitFor(
    'media from the far end again after the resumes, on every stream',
    async () => {
      const now = fromFarEnd(await legs(core));
      return [...resumed].every(([callId, before]) => now.get(callId)?.every((n, i) => n > before[i]!));
    },
    15_000,
    300,
  );

  // The status page: the Calls tab lists an audio and a video call; the video call's media shows both streams.
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} missing: apt-get install chromium (listed in scripts/apt-packages.txt [test])`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${core}/`);
  await page.click('#tab-calls');
  await page.locator('#call-list td.kind', { hasText: 'video' }).first().waitFor({ timeout: 10_000 });
  const list = await page.locator('#call-list').innerText();
  assert.match(list, /alice@lab\.example\.com\s+desk@lab\.example\.com\s+to client\s+active\s+audio/);
  assert.match(list, /bob@lab\.example\.com\s+room@lab\.example\.com\s+to client\s+active\s+video/);
  await page.locator('#call-list tr', { hasText: 'room@lab.example.com' }).locator('button.call').first().click();
  await page.locator('#call-detail table.media').waitFor({ timeout: 5000 });
  const detail = await page.locator('#call-detail').innerText();
  assert.match(detail, /bob@lab\.example\.com ↔ room@lab\.example\.com/);
  assert.match(detail, /\n0 audio\s+a\s/);
  assert.match(detail, /\n1 video\s+b\s/);
  await browser.close();

  lab.kill('SIGTERM');
  const [code] = (await once(lab, 'exit')) as [number];
  assert.equal(code, 0, `lab drains and exits 0 on SIGTERM; stderr:\n${err}`);
});
