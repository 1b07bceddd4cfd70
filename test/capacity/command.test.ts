// `mra-edge capacity` end to end at a small size: our pair (edge + core, each in its cgroup at half a core) and, when
// Debian's Kamailio and rtpengine are installed, the reference, both in front of the lab's call control; 2 and 4
// SRTP calls with media both ways, a set-up rate, then the report: progress while it runs, the Markdown with its
// tables (measured and derived rows named as such), and the SVG plots rendered by vega.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findHierarchy, referenceMissing } from '../../src/capacity/index.js';
import { runCli } from '../support/cli-run.js';
import { mediaRange } from '../support/media-range.js';

const skip =
  process.getuid?.() !== 0
    ? 'needs root (cgroups)'
    : 'missing' in findHierarchy()
      ? 'no cgroup hierarchy with cpu and cpuset'
      : false;
const reference = referenceMissing();
let out = '';
let run: Awaited<ReturnType<typeof runCli>>;

before(async () => {
  if (skip) return;
  out = mkdtempSync(join(tmpdir(), 'mra-capacity-report-'));
  const [edge, core, rtpengine] = [mediaRange(), mediaRange(), mediaRange()];
  // Latency is the bench's to judge: on a host loaded by other suites a 2-call step's p99 reached 15 ms, so the test
  // names a p99 limit no working pair reaches and judges what it can: every call up, media both ways without loss.
  const ports = `edge=${edge.port_min}-${edge.port_max},core=${core.port_min}-${core.port_max},rtpengine=${rtpengine.port_min}-${rtpengine.port_max}`;
  run = await runCli([
    'capacity',
    '--pair',
    reference ? 'ours' : 'both',
    '--shares',
    '0.5',
    '--start',
    '2',
    '--max-calls',
    '4',
    '--refine',
    '0',
    '--window',
    '1',
    '--settle',
    '0',
    '--cps',
    '20',
    '--rates',
    '5',
    '--max-p99',
    '1000',
    '--media-ports',
    ports,
    '-o',
    out,
  ]);
});
after(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

test('the command runs the search, shows its progress, and writes the report with its plots', { skip }, () => {
  assert.equal(run.code, 0, run.err);
  assert.match(run.err, /\[capacity\] share 0\.5 core per node: nodes on CPU/);
  assert.match(
    run.err,
    /\[capacity\] ours \(edge \+ core\): step 2 calls · (registering|setting up|measuring)/,
    'progress: step, calls up, CPU',
  );
  assert.match(run.err, /ours \(edge \+ core\) 0\.5 core: 4 calls (pass|FAIL)/);
  assert.match(run.err, /\[capacity\] report: .*capacity\.md/);
  const md = readFileSync(join(out, 'capacity.md'), 'utf8');
  for (const heading of [
    '## What a step is',
    '## Capacity per CPU share',
    '## How the cost grows with load',
    '## Set-up rate (0.5 core per node)',
    '## Per Expressway size',
    '## Every step',
    '## Plots',
  ])
    assert.ok(md.includes(heading), heading);
  assert.match(
    md,
    /loss < 0\.1 % in each direction, p99 latency < 1000 ms/,
    'the report states the criteria the run used',
  );
  assert.match(md, /\| this machine at 0\.5 core per node \| 0\.5 \|.*\| \*\*measured\*\* \|/);
  assert.match(
    md,
    /\| Large VM \(8 vCPU × 3\.2 GHz\) \| 8 \| 1,000 \(1,000\) \| 500 \(500\) \| 2,500 \(3,500\) \|.*\| derived \|/,
  );
  assert.match(md, /\| CE1200 appliance .*\| 2,500 \(7,000\) \|/);
  // Every step set up all its calls, and media crossed the pair both ways without loss (loopback, 2 and 4 calls).
  const ours = md.slice(md.indexOf('### ours (edge + core), 0.5 core per node'));
  for (const calls of [2, 4])
    assert.match(
      ours,
      new RegExp(`^\\| ${calls} \\| ${calls} \\| [\\d.]+ / [\\d.]+ \\| none \\| 0\\.000 / 0\\.000 \\|`, 'm'),
      `${calls} calls up, no failure, no loss`,
    );
  if (!reference) {
    const ref = md.slice(md.indexOf('### Kamailio + rtpengine, 0.5 core per node'));
    for (const calls of [2, 4])
      assert.match(
        ref,
        new RegExp(`^\\| ${calls} \\| ${calls} \\| [\\d.]+ / [\\d.]+ \\| none \\| 0\\.000 / 0\\.000 \\|`, 'm'),
        `reference: ${calls} calls`,
      );
    assert.match(md, /## Ours against the reference/);
  }
  for (const svg of [
    'capacity-vs-share.svg',
    'loss-vs-calls.svg',
    'p99-vs-calls.svg',
    'cpu-per-call.svg',
    'setup-vs-rate.svg',
  ]) {
    assert.ok(existsSync(join(out, svg)), svg);
    const text = readFileSync(join(out, svg), 'utf8');
    assert.match(text, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, `${svg} is an SVG`);
    assert.match(text, /concurrent calls|cores per node|calls set up per second/, `${svg} has its axis titles`);
    assert.ok(md.includes(`](${svg})`), `${svg} is linked from the report`);
  }
});
