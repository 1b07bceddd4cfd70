import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../support/log-capture.js';
import { CLI } from '../support/node-files.js';

test('mra-edge lab brings core, edge and inside servers up, and mra-edge status reports the link up', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mra-lab-'));
  const lab = spawn(process.execPath, [CLI, 'lab', '--dir', dir, '--ephemeral-ports', '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  lab.stderr!.on('data', (d) => (err += d));
  lab.stdout!.resume();
  t.after(() => {
    lab.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  // The banner comes once the lab is up, its phones' calls placed: two labs start side by side in a full run, on 2 cores.
  const banner = await waitFor('the lab banner', () => /core \{[^}]*"admin":(\d+)/.exec(err), 60_000);
  // The edge certificate names the lab's domain (the seeds require it on every edge certificate), not only its host.
  const sans = new X509Certificate(readFileSync(join(dir, 'pki/edge.pem'))).subjectAltName ?? '';
  assert.match(sans, /DNS:edge\.lab\.example\.com/);
  assert.match(sans, /DNS:lab\.example\.com(,|$)/);
  const url = `http://127.0.0.1:${banner[1]}`;

  const status = await waitFor(
    'link up in mra-edge status',
    () => {
      const r = spawnSync(process.execPath, [CLI, 'status', '--url', url], { encoding: 'utf8' });
      return r.status === 0 ? r.stdout : undefined;
    },
    20_000,
    200,
  );
  assert.match(status, /traversal link: up to edge1/);
  assert.match(status, /channels: sip up, http up, xmpp up/);

  const json = JSON.parse(
    spawnSync(process.execPath, [CLI, 'status', '--url', url, '--json'], { encoding: 'utf8' }).stdout,
  );
  assert.equal(json.role, 'core');
  assert.equal(json.traversal.state, 'up');

  // The simulated remote clients sign in and register through the edge: both nodes count them.
  const edgeUrl = `http://127.0.0.1:${/edge \{[^}]*"admin":(\d+)/.exec(err)![1]}`;
  const registered = (u: string) => {
    const doc = JSON.parse(
      spawnSync(process.execPath, [CLI, 'status', '--url', u, '--json'], { encoding: 'utf8' }).stdout || '{}',
    );
    return (doc.sip?.registrations ?? 0) as number;
  };
  await waitFor('3 registrations on the edge', () => registered(edgeUrl) >= 3 || undefined, 30_000, 300);
  await waitFor('3 registrations on core', () => registered(url) >= 3 || undefined, 10_000, 300);
  assert.match(err, /simulated clients +3 signing in, registering and online over XMPP/);
  // ...and each keeps an XMPP session through the edge to the lab's IM and Presence.
  const streams = (u: string) =>
    (JSON.parse(spawnSync(process.execPath, [CLI, 'status', '--url', u, '--json'], { encoding: 'utf8' }).stdout || '{}')
      .xmpp?.streams ?? 0) as number;
  await waitFor('3 XMPP streams on the edge', () => streams(edgeUrl) >= 3 || undefined, 30_000, 300);
  assert.equal(streams(url), 3, 'core relays the same 3 streams to IM and Presence');

  // The lab's inside phones call the first two simulated users, who pick up: the desk phone an audio call, the room
  // endpoint a video call, a leg on each node for each (test/lab/lab-calls.test.ts follows them further).
  const calls = (u: string) => {
    const doc = JSON.parse(
      spawnSync(process.execPath, [CLI, 'status', '--url', u, '--json'], { encoding: 'utf8' }).stdout || '{}',
    );
    return ((doc.sip?.callList ?? []) as Array<{ state: string; client: string; kind: string }>)
      .filter((l) => l.state === 'active')
      .map((l) => `${l.client} ${l.kind}`)
      .sort();
  };
  const both = ['alice@lab.example.com audio', 'bob@lab.example.com video'];
  const listed = (u: string) => (calls(u).length === 2 ? calls(u) : undefined);
  assert.deepEqual(await waitFor("the inside phones' calls on core", () => listed(url), 30_000, 300), both);
  assert.deepEqual(await waitFor('the calls on the edge', () => listed(edgeUrl), 5000, 200), both);

  // Media flows each way: a phone's RTP reaches its user as SRTP and the user's echo comes back, on both nodes.
  const flowing = (u: string) => {
    const doc = JSON.parse(
      spawnSync(process.execPath, [CLI, 'status', '--url', u, '--json'], { encoding: 'utf8' }).stdout || '{}',
    );
    const s = doc.sip?.callList?.[0]?.media?.[0] as
      | { a: { packetsIn: number; packetsOut: number }; b: { packetsIn: number; packetsOut: number } }
      | undefined;
    return s && s.a.packetsIn > 0 && s.a.packetsOut > 0 && s.b.packetsIn > 0 && s.b.packetsOut > 0 ? true : undefined;
  };
  await waitFor('packets each way on core', () => flowing(url), 10_000, 300);
  await waitFor('packets each way on the edge', () => flowing(edgeUrl), 5000, 200);

  lab.kill('SIGTERM');
  const [code] = (await once(lab, 'exit')) as [number];
  assert.equal(code, 0, `lab drains and exits 0 on SIGTERM; stderr:\n${err}`);
  const after = spawnSync(process.execPath, [CLI, 'status', '--url', url], { encoding: 'utf8' });
  assert.equal(after.status, 2, 'status says the admin API is unreachable once the lab stopped');
  assert.match(after.stderr, /unreachable/);
});
