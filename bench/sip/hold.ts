// bench:sip-hold — N TLS clients registered through one edge and one core (Kamailio as the registrar behind them),
// held with refreshes: memory per client (edge + core RSS growth over N), CPU at steady state (share of the
// machine's cores), then the edge restarted and the time until every client is registered again. Separate from
// bench:sip because 50,000 clients (issue 24's size; Expressway's CE1200 holds 7,000) take longer to connect and
// register than that whole bench. `npm run bench:sip-hold`; BENCH_SIP_HOLD_CLIENTS (default 50,000),
// BENCH_SIP_HOLD_STEADY_S (default 60), BENCH_SIP_HOLD_REFRESH_S (default 115, the desktop clients' rate).
// The reference in the RESULT line is a bare Node tls.Server's memory per idle TLS connection (tls-floor.ts), measured
// in the same run: what each client would cost the edge if it still terminated TLS in Node.
import { availableParallelism, loadavg } from 'node:os';
import { execFileSync } from 'node:child_process';
import { LoadClients, type LoadStats, type SipTarget } from '../../src/lab/load/index.js';
import { KAMAILIO_PASSWORD, kamailioMissing, startKamailio, type Kamailio } from '../../test/interop/kamailio.js';
import { machine } from '../media/report.js';
import { root } from '../media/tools.js';
import { writeSection } from '../results.js';
import { listenOverflows, startBenchPair, treeCpuSeconds, type BenchPair } from './nodes.js';
import { tlsFloorKb } from './tls-floor.js';

const DOMAIN = 'example.com';
const FULL = 50_000;
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const CLIENTS = env('BENCH_SIP_HOLD_CLIENTS', FULL);
const STEADY_MS = env('BENCH_SIP_HOLD_STEADY_S', 60) * 1000;
const REFRESH_MS = env('BENCH_SIP_HOLD_REFRESH_S', 115) * 1000;
/** A binding lives a little longer than a refresh period, as the desktop clients ask. */
const EXPIRES_S = Math.ceil(REFRESH_MS / 1000) + 5;
const RECONNECT = { retryMs: 1000, reconnectJitterMs: 3000 };
/** Issue 24's target is 60 s; twice that is waited for, so a miss says by how much. */
const RECOVERY_LIMIT_MS = 120_000;

const log = (msg: string) =>
  process.stderr.write(`[bench:sip-hold ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const failuresSince = (a: LoadStats, b: LoadStats) =>
  Object.fromEntries(
    Object.entries(b.failures)
      .map(([k, n]) => [k, n - (a.failures[k] ?? 0)] as const)
      .filter(([, n]) => n > 0),
  );

/**
 * Every client is one file descriptor in this process (the load clients' workers) and one in the edge: both inherit
 * this shell's limit. Said up front rather than found as EMFILE halfway through.
 */
function checkDescriptors(): void {
  const limit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  if (Number.isFinite(limit) && CLIENTS + 1000 > limit)
    throw new Error(
      `${CLIENTS} clients need about ${CLIENTS + 1000} open files in this process and in the edge, and ulimit -n is ${limit} (raise it, e.g. ulimit -n ${CLIENTS + 5000}, or lower BENCH_SIP_HOLD_CLIENTS)`,
    );
}

async function main(): Promise<string> {
  const missing = kamailioMissing(false);
  if (missing) throw new Error(`bench:sip-hold needs Kamailio: ${missing}`);
  checkDescriptors();
  const started = new Date();
  const load0 = loadavg()[0]!;
  let kam: Kamailio | null = null;
  let pair: BenchPair | null = null;
  let hold: LoadClients | null = null;
  try {
    const floorConnections = Math.min(2000, CLIENTS);
    const floorKb = await tlsFloorKb(floorConnections);
    kam = await startKamailio({ auth: true, shmMb: Math.max(256, Math.ceil(CLIENTS / 1000) * 16) });
    pair = await startBenchPair({
      domain: DOMAIN,
      registrar: { address: kam.address, port: kam.tcpPort },
      capacity: CLIENTS + 1000,
    });
    const p = pair;
    const k = kam;
    const sipUp = async () => JSON.stringify((await p.edge.status()).traversal ?? {}).includes('"sip":"up"');
    for (let i = 0; i < 200 && !(await sipUp()); i++) await sleep(50);
    await sleep(1000);
    const target: SipTarget = {
      host: '127.0.0.1',
      port: p.sipTlsPort,
      transport: 'tls',
      ca: p.ca,
      servername: 'edge.example.com',
    };
    const rss0 = { edge: p.edge.rssBytes(), core: p.core.rssBytes() };
    hold = LoadClients.create({
      target,
      domain: DOMAIN,
      password: KAMAILIO_PASSWORD,
      users: { prefix: 'hold', count: CLIENTS },
      expiresS: EXPIRES_S,
      timeoutMs: 30_000,
      connectTimeoutMs: 30_000,
    });
    const h = hold;
    log(`connecting ${CLIENTS} TLS clients through the edge (load average ${load0.toFixed(1)})`);
    let t = performance.now();
    const c = await h.connect(100);
    const connectS = (performance.now() - t) / 1000;
    t = performance.now();
    const first = await h.registerOnce(250);
    const registerS = (performance.now() - t) / 1000;
    log(
      `${c.connected} connected in ${connectS.toFixed(1)} s, ${first.ok} registered in ${registerS.toFixed(1)} s ${JSON.stringify(first.failures)}`,
    );
    await h.hold(REFRESH_MS, RECONNECT);
    await sleep(10_000);
    const s0 = await h.stats();
    const cpu0 = { edge: p.edge.cpuSeconds(), core: p.core.cpuSeconds(), kam: treeCpuSeconds(k.pid) };
    const w0 = performance.now();
    await sleep(STEADY_MS);
    const windowS = (performance.now() - w0) / 1000;
    const s1 = await h.stats();
    const cores = {
      edge: (p.edge.cpuSeconds() - cpu0.edge) / windowS,
      core: (p.core.cpuSeconds() - cpu0.core) / windowS,
      kamailio: (treeCpuSeconds(k.pid) - cpu0.kam) / windowS,
    };
    const rss1 = { edge: p.edge.rssBytes(), core: p.core.rssBytes() };
    const kb = (role: 'edge' | 'core') => (rss1[role] - rss0[role]) / 1024 / Math.max(1, first.ok);
    const perClientKb = kb('edge') + kb('core');
    const share = (cores.edge + cores.core) / availableParallelism();
    log(
      `steady: ${((s1.ok - s0.ok) / windowS).toFixed(1)} refreshes/s; edge ${(cores.edge * 100).toFixed(1)} %, core ${(cores.core * 100).toFixed(1)} % of a core; ${perClientKb.toFixed(1)} KB per client`,
    );

    // Edge restart: every TLS connection drops; the clients reconnect by themselves (jitter, retries, Retry-After).
    const before = await h.stats();
    await p.edge.stop();
    const overflows0 = listenOverflows();
    const r0 = performance.now();
    await p.edge.start();
    let lastLog = 0;
    const backMs = await h.waitAllRegistered(RECOVERY_LIMIT_MS, 100, (registered, ms) => {
      if (ms - lastLog < 5000) return;
      lastLog = ms;
      log(`  edge restart: ${registered}/${CLIENTS} registered at ${((performance.now() - r0) / 1000).toFixed(1)} s`);
    });
    const allBackS = backMs === null ? null : (performance.now() - r0) / 1000;
    const after = await h.stats();
    log(
      `edge restart: ${allBackS === null ? `not all back within ${RECOVERY_LIMIT_MS / 1000} s` : `all back after ${allBackS.toFixed(1)} s`}`,
    );

    const mb = (v: number) => (v / 1048576).toFixed(0);
    const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
    const fails = (f: Record<string, number>) =>
      Object.keys(f).length
        ? Object.entries(f)
            .map(([code, n]) => `${code}: ${n}`)
            .join(', ')
        : 'none';
    const body = [
      `## bench:sip-hold — ${CLIENTS.toLocaleString('en-US')} TLS clients held through one edge and one core`,
      '',
      `Command: \`BENCH_SIP_HOLD_CLIENTS=${CLIENTS} npm run bench:sip-hold\` · date: ${started.toISOString()} · machine: ${machine()} · load average (1 min) at start / end: ${load0.toFixed(1)} / ${loadavg()[0]!.toFixed(1)}`,
      '',
      `The load clients (src/lab/load/, one TLS connection each, digest), the edge and core (one \`mra-edge\` process each, memory store, log level warn) and Kamailio (TCP behind core) on one machine. Expires ${EXPIRES_S} s, refresh every ${REFRESH_MS / 1000} s, first refreshes spread over one period.`,
      '',
      '| figure | value | target (issue 24) |',
      '|---|---:|---|',
      `| connected / registered | ${c.connected} in ${connectS.toFixed(1)} s / ${first.ok} in ${registerS.toFixed(1)} s (failures: ${fails(first.failures)}) | |`,
      `| RSS growth per registered client: edge, core | ${kb('edge').toFixed(1)} KB (${mb(rss0.edge)} → ${mb(rss1.edge)} MB), ${kb('core').toFixed(1)} KB (${mb(rss0.core)} → ${mb(rss1.core)} MB) | |`,
      `| RSS growth per registered client, edge + core | **${perClientKb.toFixed(1)} KB** | ≤ 15 KB |`,
      `| a bare Node \`tls.Server\`, per idle TLS connection (over ${floorConnections}) | ${floorKb.toFixed(1)} KB | |`,
      `| steady state over ${windowS.toFixed(0)} s: refreshes/s, failures, still registered | ${((s1.ok - s0.ok) / windowS).toFixed(1)}/s, ${fails(failuresSince(s0, s1))}, ${s1.registered} | |`,
      `| CPU at steady state: edge, core, Kamailio (share of one core) | ${pct(cores.edge)}, ${pct(cores.core)}, ${pct(cores.kamailio)} | |`,
      `| CPU at steady state: edge + core, share of the machine's ${availableParallelism()} cores | **${pct(share)}** | < 20 % |`,
      `| edge restart: from the process spawn to all registered | **${allBackS === null ? `not within ${RECOVERY_LIMIT_MS / 1000} s (${after.registered} were)` : `${allBackS.toFixed(1)} s`}** (failures meanwhile: ${fails(failuresSince(before, after))}; kernel ListenOverflows ${listenOverflows() - overflows0}) | ≤ 60 s |`,
    ].join('\n');
    // Only the full size goes into bench/RESULTS.md; a smaller N is a trial.
    if (CLIENTS >= FULL) writeSection(root, 'sip-hold', body);
    else log('trial size: bench/RESULTS.md left as it was');
    process.stdout.write(`${body}\n`);
    return `RESULT bench:sip-hold ours=${perClientKb.toFixed(1)} reference=${floorKb.toFixed(1)} ratio=${(perClientKb / floorKb).toFixed(3)}`;
  } finally {
    await hold?.close();
    await pair?.close();
    await kam?.close();
  }
}

main().then(
  (result) => process.stdout.write(`${result}\n`),
  (err: Error) => {
    process.stderr.write(`bench:sip-hold failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
