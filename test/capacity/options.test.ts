// The capacity command's arguments, the cgroup files it writes (v2 on a tree of plain files standing in for the
// hierarchy, v1 read from mountinfo), where it places nodes on CPUs, the search's ladder and the per-size model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CapacityError,
  CpuJail,
  StepLadder,
  capacityOptions,
  checkShare,
  deriveCalls,
  findHierarchy,
  planCpus,
  sizeNamed,
  type StepResult,
} from '../../src/capacity/index.js';
import { runCli } from '../support/cli-run.js';

test('bad arguments get a clear error naming the option: an unknown size, a share over the machine, a bad pair or number', () => {
  const refuse = (o: Parameters<typeof capacityOptions>[0], message: RegExp) =>
    assert.throws(
      () => capacityOptions(o, 2),
      (e: unknown) => e instanceof CapacityError && message.test(e.message),
    );
  refuse({ size: 'huge' }, /unknown Expressway size "huge": one of small, medium, large, ce1200/);
  refuse({ shares: '3' }, /--shares 3 is more than this machine's 2 CPUs/);
  refuse({ shares: '0.5,x' }, /--shares must be a comma-separated list/);
  refuse({ shares: '1.5' }, /add up to 3 cores, more than this machine's 2/);
  refuse({ pair: 'asterisk' }, /--pair must be ours .* reference .* or both; got "asterisk"/);
  refuse({ maxCalls: '10', start: '50' }, /--max-calls must be a whole number of calls from --start \(50\)/);
  refuse({ cps: '0' }, /--cps must be calls per second above 0/);
  refuse({ maxP99: '0' }, /--max-p99 must be milliseconds above 0/);
  refuse({ mediaPorts: 'edge=30000-30001' }, /--media-ports must be edge=FIRST-LAST.*got "edge=30000-30001"/);
  refuse({ mediaPorts: 'edge=30000-30099' }, /--media-ports names edge and core together/);
  refuse({ mediaPorts: 'sbc=30000-30099' }, /--media-ports must be/);
  assert.throws(() => checkShare(0), /share must be a number of cores above 0, got 0/);
  assert.throws(() => sizeNamed('xl'), CapacityError);
});

test('good arguments: the defaults, both pairs, a size measured at its own share when it fits', () => {
  const d = capacityOptions({}, 2);
  assert.deepEqual(d.run.pairs, ['ours']);
  assert.deepEqual(d.run.shares, [0.25, 0.5, 1]);
  assert.deepEqual([d.run.cps, d.run.windowMs, d.run.ladder.start, d.run.ladder.max], [100, 10_000, 50, 4000]);
  const b = capacityOptions({ pair: 'both', shares: '0.5', size: 'medium', rates: 'none' }, 4);
  assert.deepEqual(b.run.pairs, ['ours', 'reference']);
  assert.deepEqual(b.run.shares, [0.5, 2], 'a medium node (2 vCPU) fits twice on 4 CPUs');
  assert.deepEqual(b.run.rates, []);
  assert.deepEqual(b.sizes, ['medium']);
  assert.deepEqual(d.run.criteria, { maxLossPercent: 0.1, maxP99Ms: 10 }, "the issue's criteria by default");
  assert.deepEqual(
    capacityOptions({ mediaPorts: 'edge=30000-30099,core=30100-30199,rtpengine=30200-30299' }, 2).run.mediaPorts,
    {
      ours: [
        [30000, 30099],
        [30100, 30199],
      ],
      reference: [[30200, 30299]],
    },
  );
  assert.deepEqual(
    capacityOptions({ size: 'large' }, 2).run.shares,
    [0.25, 0.5, 1],
    'a large node does not fit: derived, not measured',
  );
});

test('the command line refuses a bad argument with exit 2 and one line saying why, before anything starts', async () => {
  const r = await runCli(['capacity', '--size', 'huge', '-o', join(tmpdir(), 'never-written')]);
  assert.equal(r.code, 2);
  assert.match(r.err, /^capacity: unknown Expressway size "huge"/m);
  const s = await runCli(['capacity', '--shares', '64']);
  assert.equal(s.code, 2);
  assert.match(s.err, /^capacity: --shares 64 is more than this machine's \d+ CPUs?/m);
});

test('nodes go on the last CPUs, the generator keeps the first while the shares leave it free', () => {
  assert.deepEqual(planCpus([0.5, 0.5], 2), { nodes: [[1], [1]], generator: [0], shared: false });
  assert.deepEqual(planCpus([0.25, 0.25], 2), { nodes: [[1], [1]], generator: [0], shared: false });
  assert.deepEqual(planCpus([1, 1], 2), { nodes: [[1], [0]], generator: [0], shared: true });
  assert.deepEqual(planCpus([1, 1], 4), { nodes: [[3], [2]], generator: [0, 1], shared: false });
  assert.deepEqual(planCpus([2, 1], 4), { nodes: [[3, 2], [1]], generator: [0], shared: false });
  assert.throws(() => planCpus([1.5, 1], 2), /add up to 2.5 cores, more than this machine's 2/);
});

test('cgroup v1 is found in mountinfo by its controllers; v2 when its root offers cpu and cpuset', () => {
  const v1 = [
    '35 25 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct',
    '36 25 0:31 / /sys/fs/cgroup/cpuset rw,relatime shared:10 - cgroup cgroup rw,cpuset',
    '37 25 0:32 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  ].join('\n');
  assert.deepEqual(findHierarchy(v1), {
    version: 1,
    cpu: '/sys/fs/cgroup/cpu,cpuacct',
    cpuacct: '/sys/fs/cgroup/cpu,cpuacct',
    cpuset: '/sys/fs/cgroup/cpuset',
  });
  const root = mkdtempSync(join(tmpdir(), 'mra-cg2-'));
  try {
    writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    assert.deepEqual(findHierarchy(`40 1 0:27 / ${root} rw,nosuid - cgroup2 cgroup2 rw`), { version: 2, root });
    writeFileSync(join(root, 'cgroup.controllers'), 'io memory\n');
    assert.match(
      (findHierarchy(`40 1 0:27 / ${root} rw - cgroup2 cgroup2 rw`) as { missing: string }).missing,
      /no cgroup v2 root offers cpu and cpuset/,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a cgroup v2 jail writes cpu.max, the cpuset and a weight, enables the parent's controllers, and reads usage_usec", () => {
  const root = mkdtempSync(join(tmpdir(), 'mra-cg2-'));
  try {
    const jail = CpuJail.create({ name: 'mra-test-core', share: 0.25, cpus: [1], hierarchy: { version: 2, root } });
    const dir = join(root, 'mra-test-core');
    assert.equal(readFileSync(join(root, 'cgroup.subtree_control'), 'utf8'), '+cpu +cpuset');
    assert.equal(readFileSync(join(dir, 'cpu.max'), 'utf8'), '25000 100000');
    assert.equal(readFileSync(join(dir, 'cpuset.cpus'), 'utf8'), '1');
    assert.equal(readFileSync(join(dir, 'cpu.weight'), 'utf8'), '10000');
    jail.setShare(0.5);
    assert.equal(readFileSync(join(dir, 'cpu.max'), 'utf8'), '50000 100000');
    writeFileSync(
      join(dir, 'cpu.stat'),
      'usage_usec 2500000\nuser_usec 2000000\nnr_throttled 7\nthrottled_usec 300000\n',
    );
    assert.equal(jail.cpuSeconds(), 2.5);
    assert.deepEqual(jail.throttled(), { periods: 7, seconds: 0.3 });
    const [cmd, argv] = jail.wrap('/bin/true', ['x']);
    assert.equal(cmd, 'sh');
    assert.match(
      argv[1]!,
      new RegExp(`echo \\$\\$ > '${dir}/cgroup.procs' && exec setpriv --pdeathsig TERM -- "\\$@"`),
      'the node ends with the run that started it',
    );
    assert.throws(() => jail.setShare(2), /more than this machine's 1 CPU/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  // v1: a directory per controller; the cpuset's memory nodes come from the parent's.
  const v1 = mkdtempSync(join(tmpdir(), 'mra-cg1-'));
  try {
    const h = { version: 1 as const, cpu: join(v1, 'cpu'), cpuacct: join(v1, 'cpuacct'), cpuset: join(v1, 'cpuset') };
    mkdirSync(h.cpuset, { recursive: true });
    writeFileSync(join(h.cpuset, 'cpuset.mems'), '0-1\n');
    const jail = CpuJail.create({ name: 'mra-test-edge', share: 0.25, cpus: [1], hierarchy: h });
    const read = (dir: string, file: string) => readFileSync(join(dir, 'mra-test-edge', file), 'utf8');
    assert.deepEqual(
      [read(h.cpu, 'cpu.cfs_period_us'), read(h.cpu, 'cpu.cfs_quota_us'), read(h.cpu, 'cpu.shares')],
      ['100000', '25000', '262144'],
    );
    assert.deepEqual([read(h.cpuset, 'cpuset.mems'), read(h.cpuset, 'cpuset.cpus')], ['0-1', '1']);
    writeFileSync(join(h.cpuacct, 'mra-test-edge', 'cpuacct.usage'), '1500000000\n');
    assert.equal(jail.cpuSeconds(), 1.5);
    assert.equal(jail.wrap('x', [])[1][1]!.split(' && ').length, 4, 'the task joins all three controllers, then execs');
  } finally {
    rmSync(v1, { recursive: true, force: true });
  }
});

const step = (calls: number, pass: boolean): StepResult =>
  ({ calls, pass, why: pass ? [] : ['loss 1 %'] }) as StepResult;

test('the ladder doubles until a step fails, bisects, and keeps the largest step that passed', () => {
  const l = new StepLadder({ start: 50, max: 4000, refine: 2 });
  const seen: number[] = [];
  const limit = 310; // a pair that carries 310 calls
  for (let n = l.next(); n !== null; n = l.next()) {
    seen.push(n);
    l.record(step(n, n <= limit));
  }
  assert.deepEqual(seen, [50, 100, 200, 400, 300, 350]);
  assert.equal(l.capacity, 300);
  assert.match(l.limitedBy, /^350 calls: loss 1 %/);
  const low = new StepLadder({ start: 8, max: 64, refine: 0 });
  for (let n = low.next(); n !== null; n = low.next()) low.record(step(n, n <= 2));
  assert.equal(low.capacity, 2, 'a first step that fails halves down');
  const top = new StepLadder({ start: 8, max: 20, refine: 1 });
  for (let n = top.next(); n !== null; n = top.next()) top.record(step(n, true));
  assert.equal(top.capacity, 20);
  assert.match(top.limitedBy, /none failed up to 20 calls/);
});

test("the per-size model: linear in vCPU at the busier node's cost, scaled by the utilisation reached; nothing derived without a limit", () => {
  const m = [
    { share: 0.5, calls: 100, coresPerCall: [0.002, 0.004], video: false, bounded: true }, // busier node 0.4 of 0.5: utilisation 0.8
    { share: 1, calls: 240, coresPerCall: [0.002, 0.0035], video: false, bounded: true }, // 0.84 of 1
  ];
  const d = deriveCalls(m, 8);
  assert.ok(Math.abs(d.utilisation - 0.82) < 1e-9);
  assert.equal(d.audio, Math.floor((8 * 0.82) / 0.0035));
  assert.equal(d.video, Math.floor((8 * 0.82) / ((0.0035 * (50 + 156.25)) / 50)), 'video by packets when no video run');
  assert.ok(
    Number.isNaN(
      deriveCalls(
        m.map((x) => ({ ...x, bounded: false })),
        8,
      ).audio,
    ),
  );
});
