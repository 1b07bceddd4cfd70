// Overload, measured (issue #3; `npm run test:soak`): our relay in its own process on its own core, RTP->SRTP over
// 1,000 calls, first searched for the rate it sustains loss-free (its capacity), then offered 1.5x and 3x that.
// It must keep forwarding at about its capacity, spread fairly across calls, and keep reading every port; then
// forward loss-free again at a gentle rate. (rtpengine's userspace path loses 73 % just above its limit here and
// stops reading a busy port.) On two cores one generator cannot out-send a relay that has a whole core (the
// generator pays the kernel's per-packet cost too), so the relay shares its core with two busy-loop neighbours
// at its own priority: it gets about a third of the core, its capacity is measured under that budget, and 1.5x
// and 3x of it are within the generator's reach. Rates are this machine's; the ratios are what is asserted.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoadGenerator } from '../../bench/media/loadgen.js';
import { lossFreeSearch, settle } from '../../bench/media/measure.js';
import { SubjectSession } from '../../bench/media/session.js';
import { pinned } from '../../bench/media/child.js';
import type { ChildProcess } from 'node:child_process';
import { OursSubject } from '../../bench/media/subjects/ours.js';
import { buildTools } from '../../bench/media/tools.js';

const STREAMS = 1000;
const SIZE = 172;
const OVERLOAD_MS = 5000;

describe('overload, measured', () => {
  let gen: LoadGenerator;
  let session: SubjectSession;
  const neighbours: ChildProcess[] = [];
  before(async () => {
    for (let i = 0; i < 2; i++) neighbours.push(pinned('sh', ['-c', 'while :; do :; done'], 'relay'));
    gen = await LoadGenerator.start(buildTools().loadgen);
    session = new SubjectSession(
      () => new OursSubject('rtp-srtp', [21000, 21000 + 4 * STREAMS + 99]),
      'rtp-srtp',
      gen,
      STREAMS,
      (msg) => process.stderr.write(`[soak] ${msg}\n`),
    );
    await session.start();
  });
  after(async () => {
    for (const n of neighbours) n.kill('SIGKILL');
    await session?.close();
    await gen?.close();
  });

  it('offered 1.5x and 3x its capacity, forwards about its capacity, fairly, on every port', {
    timeout: 600_000,
  }, async (t) => {
    const search = await lossFreeSearch(gen, session, SIZE, {
      trialMs: 2000,
      startPps: 20000,
      growth: 1.5,
      maxTrials: 9,
      refineSteps: 2,
      deadline: Date.now() + 180_000,
    });
    assert.ok(search.best, 'no loss-free rate found');
    const lossFree = search.best.forwardedPps;
    // What it sustains when saturated: a relay that sleeps now and then gets more than its share of a contended
    // core, so the loss-free rate overstates what it keeps up under constant load.
    await settle(session.meter, 20_000);
    const saturated = await gen.run(1.25 * lossFree, OVERLOAD_MS, SIZE);
    const capacity = saturated.received / saturated.elapsedS;
    t.diagnostic(
      `${SIZE} B, ${STREAMS} calls, RTP->SRTP: loss-free ${Math.round(lossFree)} pps` +
        `${search.generatorBound ? ' (generator-bound)' : ''}; capacity (forwarded when offered 1.25x that) ${Math.round(capacity)} pps`,
    );
    assert.ok(
      capacity >= 0.5 * lossFree,
      `capacity ${Math.round(capacity)} collapsed from the loss-free ${Math.round(lossFree)}`,
    );

    for (const factor of [1.5, 3]) {
      // The previous overload's queues (4 MB a socket) drain first, or this trial would count them against it.
      await settle(session.meter, 20_000);
      const c = await gen.run(factor * capacity, OVERLOAD_MS, SIZE);
      const sent = c.sent / c.elapsedS;
      const forwarded = c.received / c.elapsedS;
      const mean = c.received / STREAMS;
      t.diagnostic(
        `offered ${factor}x: sent ${Math.round(sent)} pps (${(sent / capacity).toFixed(2)}x), forwarded ` +
          `${Math.round(forwarded)} pps (${(forwarded / capacity).toFixed(2)}x capacity), loss ${(100 * (1 - c.received / c.sent)).toFixed(1)} %, ` +
          `per call ${c.minStream}..${c.maxStream} (mean ${Math.round(mean)}), silent calls ${c.silentStreams}`,
      );
      // Not vacuous: the relay really was offered more than it sustains. On two cores the generator, which pays
      // the kernel's send cost per packet, may top out below 3x: then the achieved factor is what is reported.
      assert.ok(
        sent >= 1.2 * capacity,
        `the generator offered only ${(sent / capacity).toFixed(2)}x capacity: no overload to judge`,
      );
      // No cliff: about its capacity still comes out.
      assert.ok(
        forwarded >= 0.8 * capacity,
        `forwarded ${Math.round(forwarded)} pps under ${factor}x, capacity ${Math.round(capacity)}`,
      );
      // Fair: every call served, none below half the mean.
      assert.equal(c.silentStreams, 0, `${c.silentStreams} calls got nothing under ${factor}x`);
      assert.ok(
        c.minStream >= 0.5 * mean,
        `a call was starved under ${factor}x: ${c.minStream} vs mean ${Math.round(mean)}`,
      );
    }

    // Every port still read: a gentle rate gets through loss-free once the queues have drained.
    await settle(session.meter, 20_000);
    const calm = await gen.run(5000, 2000, SIZE);
    t.diagnostic(`after: ${calm.received}/${calm.sent} at 5000 pps, silent calls ${calm.silentStreams}`);
    assert.equal(calm.silentStreams, 0, 'every call forwards after the overload');
    // 98 %, not 99: the relay still shares its core with the two busy loops, so a few packets miss the window.
    assert.ok(calm.received >= 0.98 * calm.sent, `after the overload: ${calm.received} of ${calm.sent}`);
  });
});
