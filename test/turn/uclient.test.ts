// A real TURN client against ours and against coturn: coturn's own turnutils_uclient (REST credentials from the
// shared secret, EVEN-PORT with a reservation for its RTCP allocation, channels or Send/Data indications, UDP or TCP
// to the server) through to turnutils_peer, which echoes what it gets. Every message must come back, on ours as on
// coturn, and afterwards ours holds nothing: the allocations uclient leaves behind expire, their ports go back.
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { coturnMissing } from '../support/coturn.js';
import { waitFor } from '../support/log-capture.js';
import { mediaRange } from '../support/media-range.js';
import { LOOPBACK, SECRET, startCoturn, startOurs, type Ours, type Subject } from './subjects.js';

const missing = coturnMissing();
const MESSAGES = 20;
const LIFETIME_S = 20;

interface Outcome {
  exit: number | null;
  sent: number;
  received: number;
  lost: number;
  output: string;
}

function run(
  cmd: string,
  args: string[],
  timeoutMs = 30_000,
): Promise<{ exit: number | null; output: string; kill: () => void }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.on('exit', (exit) => {
      clearTimeout(timer);
      resolve({ exit, output, kill: () => child.kill() });
    }),
  );
}

async function uclient(server: Subject, peerPort: number, args: string[], secret = SECRET): Promise<Outcome> {
  const { exit, output } = await run('turnutils_uclient', [
    '-W',
    secret,
    '-u',
    'alice',
    '-p',
    String(server.endpoint.port),
    '-e',
    LOOPBACK,
    '-r',
    String(peerPort),
    '-n',
    String(MESSAGES),
    '-z',
    '10',
    ...args,
    LOOPBACK,
  ]);
  const totals = /start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/.exec(output);
  const lost = /Total lost packets (\d+)/.exec(output);
  return {
    exit,
    sent: Number(totals?.[1] ?? -1),
    received: Number(totals?.[2] ?? -1),
    lost: Number(lost?.[1] ?? -1),
    output,
  };
}

describe('turnutils_uclient through ours and through coturn', { skip: missing }, () => {
  let ours: Ours;
  let coturn: Subject;
  let peer: ReturnType<typeof spawn>;
  let peerPort = 0;

  before(async () => {
    // uclient leaves its first allocation (made only for the reservation) to expire: lifetimes a little longer than
    // a run (uclient takes about 6 s whatever it sends) let it, without waiting for the default 10 minutes.
    ours = await startOurs({ maxLifetimeS: LIFETIME_S, reservationLifetimeS: 2 });
    coturn = await startCoturn({ maxLifetimeS: LIFETIME_S });
    // turnutils_peer listens on this port and the next: two ports of a media slice of this test's own.
    peerPort = mediaRange().port_min;
    peer = spawn('turnutils_peer', ['-L', LOOPBACK, '-p', String(peerPort)], { stdio: 'ignore' });
  });
  after(async () => {
    peer?.kill();
    await ours?.close();
    await coturn?.close();
  });

  // Alone, a uclient client runs two streams (RTP and RTCP, the second on the reserved odd port); with -m it runs
  // one stream per client. MESSAGES each, all echoed.
  const modes: Array<[string, string[], number, number]> = [
    ['UDP to the server, channels', [], 1, 2 * MESSAGES],
    ['UDP to the server, Send and Data indications', ['-s'], 1, 2 * MESSAGES],
    ['TCP to the server, channels', ['-t'], 1, 2 * MESSAGES],
    ['ten clients at once', [], 10, 10 * MESSAGES],
  ];
  for (const [name, args, clients, expected] of modes) {
    it(name, async () => {
      const before = ours.turn.stats();
      // Both at once (they share only the echoing peer): uclient's run takes seconds of its own timers.
      const [mine, theirs] = await Promise.all([
        uclient(ours, peerPort, [...args, '-m', String(clients)]),
        uclient(coturn, peerPort, [...args, '-m', String(clients)]),
      ]);
      assert.deepEqual(
        { exit: mine.exit, sent: mine.sent, received: mine.received, lost: mine.lost },
        { exit: 0, sent: expected, received: expected, lost: 0 },
        mine.output.slice(-1500),
      );
      assert.deepEqual(
        { exit: theirs.exit, sent: theirs.sent, received: theirs.received, lost: theirs.lost },
        { exit: 0, sent: expected, received: expected, lost: 0 },
        theirs.output.slice(-1500),
      );
      const after = ours.turn.stats();
      assert.equal(after.toPeerPackets - before.toPeerPackets, expected);
      assert.equal(after.toClientPackets - before.toClientPackets, expected);
      assert.equal(after.authFailures, before.authFailures);
    });
  }

  it('bad credentials (another secret): 401, no allocation, on both', async () => {
    const before = ours.turn.stats();
    for (const o of await Promise.all(
      [ours, coturn].map((s) => uclient(s, peerPort, ['-m', '1'], 'not-the-shared-secret')),
    )) {
      assert.notEqual(o.exit, 0);
      assert.match(o.output, /Cannot complete Allocation/);
    }
    const after = ours.turn.stats();
    assert.ok(after.authFailures > before.authFailures, 'the refusals are counted as authentication failures');
    assert.equal(after.allocationsCreated, before.allocationsCreated);
  });

  it('afterwards ours holds nothing: every allocation ended, every port back in the pool', async () => {
    await waitFor(
      'allocations and reservations to expire',
      () => {
        const h = ours.held();
        return h.allocations === 0 && h.relayPorts === 0 && h.portPairs === 0;
      },
      (LIFETIME_S + 5) * 1000,
    );
    assert.deepEqual(ours.held(), { allocations: 0, permissions: 0, channels: 0, relayPorts: 0, portPairs: 0 });
    assert.ok(ours.turn.stats().allocationsExpired > 0, 'what uclient left behind expired');
  });
});
