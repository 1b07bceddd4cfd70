// Kamailio's own rtpengine module (Debian's kamailio) pointed at the relay instead of rtpengine: sipp calls through
// Kamailio with real RTP (sipp's rtp_stream, 50 PCMU packets each way), the relay counts both directions; and an
// RTP/AVP caller to an SRTP callee (Kamailio's RTP/SAVP flag): the callee decrypts the caller's audio under the
// relay's key, and the relay decrypts the callee's. Kamailio sends what it sends: no command is written here.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kamailioMissing, startKamailio, type Kamailio } from './kamailio.js';
import { SIPP_BIN, SIPP_SCENARIOS, sippMissing } from './sipp.js';
import { SrtpCallee } from './srtp-callee.js';
import { startRelayNode } from '../relay/relay-node.js';
import { mediaRange } from '../support/media-range.js';

// sipp's own ports (SIP, and RTP/RTCP for audio and video from -mp up) come from a media slice claimed for this
// process, below Linux's ephemeral ports: fixed numbers up there were taken by another test's connection
// (sipp: 'Unable to bind video RTP socket', EADDRINUSE).
const SIPP_PORTS = mediaRange().port_min;

const missing = kamailioMissing() ?? sippMissing();
const RELAY_CFG = join(process.env.MRA_ROOT ?? process.cwd(), 'test/interop/kamailio/relay.cfg');
const PACKETS = 50;

/** Runs sipp to its end; resolves with its exit status and error output. */
async function sipp(args: string[], cwd: string): Promise<{ status: number | null; stderr: string }> {
  const proc = spawn(
    SIPP_BIN,
    [
      ...args,
      '-nostdin',
      '-timeout',
      '30s',
      '-timeout_error',
      '-trace_err',
      '-trace_msg',
      '-message_file',
      join(cwd, `msg-${args.some((a) => a.endsWith('relay-uas.xml')) ? 'uas' : 'uac'}.log`),
      '-error_file',
      join(cwd, `err-${Date.now()}.log`),
    ],
    { cwd, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [status] = (await once(proc, 'exit')) as [number | null];
  return { status, stderr };
}

type Query = {
  tags: Record<
    string,
    { medias: Array<{ protocol: string; streams: Array<{ stats: { packets: number; errors: number } }> }> }
  >;
};

async function startCallee(
  dir: string,
  port: number,
  rtpBase: number,
): Promise<{ done: Promise<{ status: number | null; stderr: string }> }> {
  const run = sipp(
    [
      '-sf',
      join(SIPP_SCENARIOS, 'relay-uas.xml'),
      '-i',
      '127.0.0.1',
      '-p',
      String(port),
      '-mi',
      '127.0.0.1',
      '-mp',
      String(rtpBase),
      '-m',
      '1',
      '-t',
      'u1',
    ],
    dir,
  );
  await new Promise((r) => setTimeout(r, 300));
  return { done: run };
}

const caller = (dir: string, k: Kamailio, callee: string, rtpBase: number) =>
  sipp(
    [
      `127.0.0.1:${k.udpPort}`,
      '-sf',
      join(SIPP_SCENARIOS, 'relay-uac.xml'),
      '-s',
      'callee',
      '-key',
      'callee',
      callee,
      '-d',
      '2500',
      '-i',
      '127.0.0.1',
      '-mi',
      '127.0.0.1',
      '-mp',
      String(rtpBase),
      '-m',
      '1',
      '-t',
      'u1',
      '-rsa',
      `127.0.0.1:${k.udpPort}`,
    ],
    dir,
  );

describe('Kamailio with its rtpengine module, pointed at the relay', { skip: missing ?? false }, () => {
  let relay: Awaited<ReturnType<typeof startRelayNode>>;
  let dir: string;
  before(async () => {
    // A delete delay keeps each call's figures readable after Kamailio deletes it at the BYE.
    relay = await startRelayNode({ ng: { delete_delay_s: 30 } });
    dir = mkdtempSync(join(tmpdir(), 'mra-kamailio-relay-'));
    // One second of PCMU silence, no header: sipp's rtp_stream sends it as 50 packets of 160 bytes.
    writeFileSync(join(dir, 'audio.ulaw'), Buffer.alloc(160 * PACKETS, 0xff));
  });
  after(async () => {
    await relay?.close();
    if (dir && !process.env.MRA_KEEP) rmSync(dir, { recursive: true, force: true });
  });

  async function withKamailio(defines: Record<string, string>, run: (k: Kamailio) => Promise<void>): Promise<void> {
    const k = await startKamailio({
      cfg: RELAY_CFG,
      udp: true,
      defines: { RTPE_SOCK: `udp:127.0.0.1:${relay.node.relay.ports.udp}`, ...defines },
    });
    try {
      await run(k);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nkamailio log:\n${k.log().slice(-3000)}`);
    } finally {
      await k.close();
    }
  }

  async function onlyCall(before: string[]): Promise<{ id: string; q: Query }> {
    const calls = (await relay.ng.command({ command: 'list' })).calls as string[];
    const fresh = calls.filter((c) => !before.includes(c));
    assert.equal(fresh.length, 1, `one new call on the relay, got ${JSON.stringify(calls)}`);
    return {
      id: fresh[0]!,
      q: (await relay.ng.command({ command: 'query', 'call-id': fresh[0]! })) as unknown as Query,
    };
  }

  it('a sipp call with RTP both ways: offer, answer and delete from Kamailio, every packet counted', async () => {
    await withKamailio({}, async (k) => {
      const before = (await relay.ng.command({ command: 'list' })).calls as string[];
      const uasPort = SIPP_PORTS + 190;
      const callee = await startCallee(dir, uasPort, SIPP_PORTS + 100);
      const r = await caller(dir, k, `127.0.0.1:${uasPort}`, SIPP_PORTS);
      const c = await callee.done;
      assert.equal(r.status, 0, `caller sipp: ${r.stderr}`);
      assert.equal(c.status, 0, `callee sipp: ${c.stderr}`);
      const { q } = await onlyCall(before);
      const sides = Object.values(q.tags);
      assert.equal(sides.length, 2);
      for (const s of sides)
        assert.deepEqual(
          [s.medias[0]!.streams[0]!.stats.packets, s.medias[0]!.streams[0]!.stats.errors],
          [PACKETS, 0],
          JSON.stringify(q.tags),
        );
      const st = relay.status() as { commands: Record<string, number> };
      assert.ok(
        st.commands.offer! >= 1 && st.commands.answer! >= 1 && st.commands.delete! >= 1,
        JSON.stringify(st.commands),
      );
    });
  });

  it('RTP/AVP caller, RTP/SAVP callee: each end gets what the other sent, decrypted or encrypted by the relay', async () => {
    await withKamailio(
      { OFFER_FLAGS: 'replace-origin replace-session-connection trust-address ICE=remove RTP/SAVP' },
      async (k) => {
        const before = (await relay.ng.command({ command: 'list' })).calls as string[];
        const callee = new SrtpCallee(PACKETS);
        await callee.start();
        try {
          const r = await caller(dir, k, `127.0.0.1:${callee.sipPort}`, SIPP_PORTS + 50);
          assert.equal(r.status, 0, `caller sipp: ${r.stderr}`);
          assert.match(
            callee.offer,
            /^m=audio \d+ RTP\/SAVP 0\r$/m,
            'Kamailio asked the relay for RTP/SAVP towards the callee',
          );
          assert.equal(callee.received, PACKETS);
          assert.equal(
            callee.decrypted.length,
            PACKETS,
            "the caller's RTP decrypts at the callee under the relay's key",
          );
          assert.ok(
            callee.decrypted.every((p) => p.length === 160 && p.every((b) => b === 0xff)),
            "and is the caller's audio",
          );
          const { q } = await onlyCall(before);
          const bySide = Object.values(q.tags).map((s) => [
            s.medias[0]!.protocol,
            s.medias[0]!.streams[0]!.stats.packets,
            s.medias[0]!.streams[0]!.stats.errors,
          ]);
          assert.deepEqual(
            bySide.sort(),
            [
              ['RTP/AVP', PACKETS, 0],
              ['RTP/SAVP', PACKETS, 0],
            ],
            "the callee's SRTP decrypted at the relay, none refused",
          );
        } finally {
          callee.close();
        }
      },
    );
  });
});
