// bench:relay — the relay role against rtpengine (Debian's, userspace forwarding), in one run, driven the same way:
//  1. calls: Kamailio (one per relay, its rtpengine module pointed at it) carries sipp calls, each with RTP both
//     ways (sipp's rtp_stream, PCMU 50 packets/s per direction); at each level of concurrent calls the relay's CPU
//     time (/proc, every thread) and its forwarded packets (the ng `statistics` command, relayedpackets) give
//     packets per CPU-second, and forwarded against sent gives loss;
//  2. control: offer + answer + delete round trips on the ng UDP socket, 32 in flight, for a few seconds.
// Both relays are pinned to the last core at the same priority (bench/media/subject.ts); rounds alternate which
// goes first and every figure is the median round. Last line: RESULT bench:relay ours=<pps/core> reference=<...>.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { stringify } from 'yaml';
import { cpuModel, cpuSeconds } from '../media/cpu.js';
import { NgClient } from '../media/ng-client.js';
import { pinned, stopChild } from '../media/child.js';
import { writeSection } from '../results.js';
import { startKamailio, type Kamailio } from '../../test/interop/kamailio.js';
import { SIPP_BIN, SIPP_SCENARIOS } from '../../test/interop/sipp.js';
import { freeUdpPort, startRtpengine } from '../../test/relay/rtpengine.js';
import { freePort } from '../../test/support/node-files.js';

const root = process.env.MRA_ROOT ?? process.cwd();
const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const ROUNDS = Number(opt('--rounds', '3'));
const LEVELS = opt('--calls', '50,100,200').split(',').map(Number);
const AUDIO_S = Number(opt('--audio-s', '4'));
const CONTROL_S = Number(opt('--control-s', '3'));
const IN_FLIGHT = 32;
const PACKETS = AUDIO_S * 50;
const RELAY_CFG = join(root, 'test/interop/kamailio/relay.cfg');

interface Subject {
  name: string;
  pid: number;
  ng: NgClient;
  ngPort: number;
  kamailio?: Kamailio;
  close(): Promise<void>;
}

async function waitForPong(ng: NgClient, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      if ((await ng.send({ command: 'ping' }, 500)).result === 'pong') return;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${what} did not answer ping`);
    }
  }
}

async function startOurs(dir: string): Promise<Subject> {
  const ngPort = await freeUdpPort();
  const file = join(dir, 'relay.yaml');
  writeFileSync(
    file,
    stringify({
      role: 'relay',
      name: 'bench-relay',
      log: { level: 'warn' },
      admin: { port: await freePort() },
      // User space against user space, as the issue compares them: with the kernel path on, the RTP↔RTP calls here
      // would be forwarded in loopback's softirq, charged to sipp's sends and not to the relay's /proc CPU time.
      // The kernel path's own figures, with softirq time charged, are bench:media's kernel rows.
      media: { port_min: 45000, port_max: 49999, kernel_path: 'off' },
      capacity: { calls: 20000 },
      interfaces: [{ name: 'internal', address: '127.0.0.1' }],
      ng: { udp: { address: '127.0.0.1', port: ngPort }, delete_delay_s: 0, max_offers_per_s: 1_000_000 },
    }),
  );
  const child = pinned(process.execPath, [join(root, 'dist/src/cli/main.js'), 'relay', '-c', file], 'relay');
  child.stdout!.resume();
  child.stderr!.resume();
  const ng = new NgClient(ngPort);
  await waitForPong(ng, child, 'our relay');
  return {
    name: 'ours',
    pid: child.pid!,
    ng,
    ngPort,
    close: async () => {
      ng.close();
      await stopChild(child);
    },
  };
}

async function startReference(): Promise<Subject> {
  let child: ChildProcess | undefined;
  const r = await startRtpengine({
    interfaces: [{ name: 'internal', address: '127.0.0.1' }],
    portMin: 40000,
    portMax: 44999,
    spawnWith: (cmd, a) => (child = pinned(cmd, a, 'relay')),
  });
  return { name: 'rtpengine', pid: child!.pid!, ng: r.ng, ngPort: r.ngPort, close: () => r.close() };
}

async function sipp(argv: string[], cwd: string): Promise<number | null> {
  const p = spawn(SIPP_BIN, [...argv, '-nostdin', '-timeout', '60s', '-timeout_error'], { cwd, stdio: 'ignore' });
  const [status] = (await once(p, 'exit')) as [number | null];
  return status;
}

const forwarded = async (s: Subject) => {
  const st = (await s.ng.command({ command: 'statistics' })).statistics as {
    totalstatistics: Record<string, number | string>;
  };
  return Number(st.totalstatistics.relayedpackets);
};

interface CallRow {
  calls: number;
  forwarded: number;
  expected: number;
  loss: number;
  cpuS: number;
  wallS: number;
  ok: boolean;
}

/** `calls` sipp calls at once through the subject's Kamailio, each streaming PACKETS RTP packets each way. */
async function callRound(s: Subject, calls: number, dir: string, base: number): Promise<CallRow> {
  const k = s.kamailio!;
  const uasPort = await freeUdpPort();
  const f0 = await forwarded(s);
  const c0 = cpuSeconds(s.pid);
  const t0 = Date.now();
  const uas = sipp(
    [
      '-sf',
      join(SIPP_SCENARIOS, 'relay-uas.xml'),
      '-i',
      '127.0.0.1',
      '-p',
      String(uasPort),
      '-mi',
      '127.0.0.1',
      '-mp',
      String(base + 4000),
      '-m',
      String(calls),
      '-t',
      'u1',
    ],
    dir,
  );
  await new Promise((r) => setTimeout(r, 300));
  const uac = await sipp(
    [
      `127.0.0.1:${k.udpPort}`,
      '-sf',
      join(SIPP_SCENARIOS, 'relay-uac.xml'),
      '-s',
      'callee',
      '-key',
      'callee',
      `127.0.0.1:${uasPort}`,
      '-d',
      String(AUDIO_S * 1000 + 700),
      '-i',
      '127.0.0.1',
      '-mi',
      '127.0.0.1',
      '-mp',
      String(base),
      '-m',
      String(calls),
      '-r',
      String(calls),
      '-l',
      String(calls),
      '-t',
      'u1',
      '-rsa',
      `127.0.0.1:${k.udpPort}`,
    ],
    dir,
  );
  const uasStatus = await uas;
  await new Promise((r) => setTimeout(r, 300));
  const f1 = await forwarded(s);
  const cpuS = cpuSeconds(s.pid) - c0;
  const expected = calls * 2 * PACKETS;
  const fw = f1 - f0;
  return {
    calls,
    forwarded: fw,
    expected,
    loss: Math.max(0, 1 - fw / expected),
    cpuS,
    wallS: (Date.now() - t0) / 1000,
    ok: uac === 0 && uasStatus === 0,
  };
}

/** Offer + answer (+ delete) round trips per second, IN_FLIGHT at a time, for CONTROL_S seconds. */
async function controlRound(s: Subject, round: number): Promise<{ perS: number; cpuS: number }> {
  const sdp = (port: number) =>
    `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n`;
  const flags = {
    replace: ['origin', 'session-connection'],
    flags: ['trust-address'],
    ICE: 'remove',
    'received-from': ['IP4', '127.0.0.1'],
    supports: ['load limit'],
  };
  const end = Date.now() + CONTROL_S * 1000;
  let done = 0;
  let n = 0;
  const c0 = cpuSeconds(s.pid);
  const t0 = Date.now();
  const worker = async () => {
    while (Date.now() < end) {
      const id = `ctl-${round}-${n++}`;
      await s.ng.command({ command: 'offer', 'call-id': id, 'from-tag': 'a', sdp: sdp(6000), ...flags } as never);
      await s.ng.command({
        command: 'answer',
        'call-id': id,
        'from-tag': 'a',
        'to-tag': 'b',
        sdp: sdp(7000),
        ...flags,
      } as never);
      done++;
      await s.ng.command({ command: 'delete', 'call-id': id, 'from-tag': 'a' });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const wall = (Date.now() - t0) / 1000;
  return { perS: done / wall, cpuS: cpuSeconds(s.pid) - c0 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mra-bench-relay-'));
  writeFileSync(join(dir, 'audio.ulaw'), Buffer.alloc(160 * PACKETS, 0xff));
  const load0 = loadavg()[0]!;
  const started = new Date().toISOString();
  const subjects: Subject[] = [];
  try {
    subjects.push(await startOurs(dir), await startReference());
    for (const s of subjects)
      s.kamailio = await startKamailio({
        cfg: RELAY_CFG,
        udp: true,
        defines: { RTPE_SOCK: `udp:127.0.0.1:${s.ngPort}` },
      });
    const calls = new Map<string, CallRow[][]>(subjects.map((s) => [s.name, LEVELS.map(() => [])]));
    const control = new Map<string, Array<{ perS: number; cpuS: number }>>(subjects.map((s) => [s.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? subjects : [...subjects].reverse();
      for (const [li, level] of LEVELS.entries())
        for (const s of order) {
          const row = await callRound(s, level, dir, 50000 + (li % 2) * 1000);
          calls.get(s.name)![li]!.push(row);
          process.stderr.write(
            `round ${round + 1} ${s.name} ${level} calls: forwarded ${row.forwarded}/${row.expected} (loss ${(row.loss * 100).toFixed(2)} %), relay CPU ${row.cpuS.toFixed(2)} s, ${fmt(row.forwarded / row.cpuS)} pps/core${row.ok ? '' : ' [sipp reported failed calls]'}\n`,
          );
        }
      for (const s of order) {
        const r = await controlRound(s, round);
        control.get(s.name)!.push(r);
        process.stderr.write(
          `round ${round + 1} ${s.name} control: ${fmt(r.perS)} offer/answer per s (relay CPU ${r.cpuS.toFixed(2)} s)\n`,
        );
      }
    }
    const load1 = loadavg()[0]!;
    // Per level and relay: the median round by pps per core.
    const table = LEVELS.map((level, li) =>
      subjects.map((s) => {
        const rows = calls.get(s.name)![li]!;
        const pick = [...rows].sort((a, b) => a.forwarded / a.cpuS - b.forwarded / b.cpuS)[
          Math.floor(rows.length / 2)
        ]!;
        return { s: s.name, level, row: pick, lossFree: rows.every((r) => r.loss === 0 && r.ok) };
      }),
    );
    const held = (name: string) =>
      Math.max(
        0,
        ...table
          .flat()
          .filter((t) => t.s === name && t.lossFree)
          .map((t) => t.level),
      );
    // The RESULT compares the relays where both carried every packet in every round (a lossy round measures the
    // load generator's failures as much as the relay); the highest such level, else the lowest tried.
    const fair = [...table].reverse().find((level) => level.every((t) => t.lossFree)) ?? table[0]!;
    const pps = (name: string) => {
      const t = fair.find((x) => x.s === name)!;
      return t.row.forwarded / t.row.cpuS;
    };
    const ctl = (name: string) => median(control.get(name)!.map((r) => r.perS));
    const ours = pps('ours');
    const ref = pps('rtpengine');
    const lines = [
      `## bench:relay — the ng relay against rtpengine ${'(userspace)'}`,
      '',
      `Command: \`npm run bench:relay\` (${ROUNDS} rounds, levels ${LEVELS.join(', ')} concurrent calls, ${AUDIO_S} s of PCMU each way per call, control ${CONTROL_S} s × ${IN_FLIGHT} in flight) · date: ${started} · machine: ${availableParallelism()} cores, ${cpuModel()} · load average (1 min) at start / end: ${load0.toFixed(1)} / ${load1.toFixed(1)}`,
      '',
      'Calls through Kamailio (its rtpengine module; one Kamailio per relay, the same cfg and sipp scenarios for both: test/interop/kamailio/relay.cfg, test/interop/sipp/relay-uac.xml and relay-uas.xml). Each relay pinned to the last core at the same priority; rounds alternate which relay goes first; each row is the median round by packets per CPU-second.',
      '',
      '| concurrent calls | relay | packets forwarded / sent | loss | relay CPU (s) | pps per core | every round loss-free |',
      '|---:|---|---:|---:|---:|---:|---|',
      ...table
        .flat()
        .map(
          (t) =>
            `| ${t.level} | ${t.s} | ${fmt(t.row.forwarded)} / ${fmt(t.row.expected)} | ${(t.row.loss * 100).toFixed(2)} % | ${t.row.cpuS.toFixed(2)} | ${fmt(t.row.forwarded / t.row.cpuS)} | ${t.lossFree ? 'yes' : `no${t.row.ok ? '' : ' (sipp reported failed calls)'}`} |`,
        ),
      '',
      `Concurrent calls held with 0 loss (the highest level tried where every round lost nothing): ours ${held('ours')}, rtpengine ${held('rtpengine')} (the highest level tried is ${LEVELS.at(-1)}: sipp and Kamailio share the other core, so this is what the load generator reaches, not the relays' limit).`,
      '',
      '| control socket (UDP, offer + answer + delete, 32 in flight) | ours | rtpengine | ratio |',
      '|---|---:|---:|---:|',
      `| offer/answer round trips per second (median of ${ROUNDS}) | ${fmt(ctl('ours'))} | ${fmt(ctl('rtpengine'))} | ${(ctl('ours') / ctl('rtpengine')).toFixed(2)} |`,
      '',
      `Targets (issue 21): pps per core ≥ 3 × rtpengine's: ${(ours / ref).toFixed(2)} × (at ${fair[0]!.level} concurrent calls, the highest level both relays carried without loss in every round); offers per second ≥ 2 × rtpengine's: ${(ctl('ours') / ctl('rtpengine')).toFixed(2)} ×.`,
    ];
    if (!args.includes('--no-write')) process.stderr.write(`wrote ${writeSection(root, 'relay', lines.join('\n'))}\n`);
    process.stdout.write(`${lines.join('\n')}\n`);
    process.stdout.write(
      `RESULT bench:relay ours=${Math.round(ours)} reference=${Math.round(ref)} ratio=${(ours / ref).toFixed(2)}\n`,
    );
  } finally {
    for (const s of subjects) {
      await s.kamailio?.close();
      await s.close();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench:relay failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
