// The search finds a limit planted on purpose: a relay (the media engine in its own process) held by its cgroup to 2 % of a core
// carries some calls and then no more. The search must stop below its largest step, the step it
// failed at must have failed on loss (not set-up) with the relay held back by its quota, and every step
// at or below the capacity must have passed. Needs root and cgroups (v1 here; v2 hosts use cpu.max).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import {
  VIDEO,
  CallGenerator,
  JailedProcess,
  StepLadder,
  findHierarchy,
  runStep,
  type CallOutcome,
  type LiveCall,
  type StepLoad,
  type StepResult,
} from '../../src/capacity/index.js';
import { mediaRange } from '../support/media-range.js';

const ROOT = process.env.MRA_ROOT ?? process.cwd();
const skip =
  process.getuid?.() !== 0
    ? 'needs root (cgroups)'
    : 'missing' in findHierarchy()
      ? 'no cgroup hierarchy with cpu and cpuset'
      : false;
const SHARE = 0.02;
/**
 * Judged by loss: a relay over its quota queues, then drops what it cannot carry. Its p99 is not what is planted: a
 * quota of 10 ms per 100 ms period delays packets by up to 90 ms well before the relay runs out of CPU, and on a
 * shared machine any process can be late by 10 ms now and then.
 */
const PLANTED = { maxLossPercent: 0.1, maxP99Ms: 1000 };

/**
 * The relay process at a share of CPU 0's time, and the calls a step opens on it directly (no SIP: set-up is instant).
 * Each call is one video stream (1,200-byte SRTP packets, 156 a second each way): a relay batching under its quota
 * carries thousands of packets a second on 2 % of a core, and the limit must fall within the test's port range.
 */
class RelayLoad implements StepLoad {
  readonly #waiting = new Map<string, (o: Record<string, unknown>) => void>();
  #n = 0;

  constructor(
    readonly host: JailedProcess,
    readonly gen: CallGenerator,
  ) {
    createInterface({ input: host.stdio.stdout! }).on('line', (line) => {
      const o = JSON.parse(line) as Record<string, unknown>;
      this.#waiting.get(String(o.id))?.(o);
    });
  }

  #ask(line: string, id: string): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.host.stdio.stdin!.write(`${line}\n`);
    });
  }

  async ensureClients(): Promise<{ added: number; failures: Record<string, number>; ms: number }> {
    return { added: 0, failures: {}, ms: 0 };
  }

  async place(): Promise<LiveCall | CallOutcome> {
    const id = `r${++this.#n}`;
    const [tx, rx] = [randomBytes(30), randomBytes(30)];
    const started = performance.now();
    const r = await this.#ask(
      `add ${id} ${this.gen.ports.client[0]} ${this.gen.ports.inside[0]} ${tx.toString('hex')} ${rx.toString('hex')}`,
      id,
    );
    if (r.error) return { status: 500, failure: String(r.error) };
    await this.gen.add(id, [
      { clientPort: Number(r.client), clientTxKey: tx, clientRxKey: rx, insidePort: Number(r.inside), ...VIDEO },
    ]);
    return { id, setupMs: performance.now() - started };
  }

  async quiet(call: LiveCall): Promise<void> {
    await this.gen.stop(call.id);
  }

  async end(call: LiveCall): Promise<CallOutcome> {
    await this.#ask(`del ${call.id}`, call.id);
    return { status: 200, setupMs: call.setupMs, media: await this.gen.del(call.id) };
  }
}

let gen: CallGenerator;
let host: JailedProcess;
before(async () => {
  if (skip) return;
  gen = await CallGenerator.start();
  const range = mediaRange();
  host = JailedProcess.start({
    name: 'relay',
    jailName: `mra-capacity-test-${process.pid}-relay`,
    share: 1,
    cpus: [0],
    cmd: process.execPath,
    args: [join(ROOT, 'dist/test/capacity/relay-host.js'), `${range.port_min}-${range.port_max}`],
    stdin: true,
  });
  // Started at a whole core (Node's start-up is not what is planted), held to 2 % once it is ready.
  await new Promise<void>((resolve, reject) => {
    host.stdio.stdout!.once('data', () => resolve());
    setTimeout(() => reject(new Error(`relay host did not start: ${host.log()}`)), 20_000);
  });
  host.jail.setShare(SHARE);
});
after(async () => {
  await host?.stop();
  await gen?.close();
});

test('the search stops at the limit of a relay held to 2 % of a core: media failed above it, every step below passed', {
  skip,
}, async (t) => {
  const load = new RelayLoad(host, gen);
  const ladder = new StepLadder({ start: 2, max: 32, refine: 1 });
  for (let calls = ladder.next(); calls !== null; calls = ladder.next()) {
    ladder.record(
      await runStep(
        { pair: { label: 'relay at 0.02 core', nodes: [host] }, load, gen },
        { calls, cps: 200, settleMs: 300, windowMs: 1500, criteria: PLANTED },
      ),
    );
  }
  const steps = ladder.results;
  const table = steps
    .map(
      (s: StepResult) =>
        `${s.calls}: ${s.pass ? 'pass' : s.why.join('; ')} (relay ${s.cores.relay?.toFixed(3)} cores, throttled ${s.throttledPercent.relay?.toFixed(0)} %)`,
    )
    .join('\n');
  t.diagnostic(`capacity ${ladder.capacity}:\n${table}`);
  assert.ok(ladder.capacity >= 1 && ladder.capacity < 32, `a limit below the largest step:\n${table}`);
  const failed = steps.filter((s) => !s.pass && s.calls > ladder.capacity).sort((a, b) => a.calls - b.calls)[0]!;
  assert.ok(failed, table);
  assert.ok(
    failed.why.some((w) => /^loss/.test(w)) && failed.why.every((w) => /^(loss|p99)/.test(w)),
    `failed on loss, not set-up:\n${table}`,
  );
  assert.ok(failed.throttledPercent.relay! > 0, `the quota held the relay back where it failed:\n${table}`);
  assert.ok(failed.cores.relay! <= SHARE * 1.5, `the relay used no more than its share: ${failed.cores.relay}`);
  for (const s of steps.filter((x) => x.calls <= ladder.capacity))
    assert.ok(s.pass, `${s.calls} calls, at or below the capacity, passed:\n${table}`);
});
