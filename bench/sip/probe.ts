// A quick look at where the pair's CPU per registration goes, for profiling work between full bench:sip runs:
// one Kamailio, the edge and core as bench:sip starts them, TLS clients in a closed loop through the pair, and
// each process's CPU per registration split by thread (the main thread, which runs JavaScript, and the rest:
// the native TLS thread, GC helpers, libuv). Not a benchmark: no reference, no RESULT line.
// `node dist/bench/sip/probe.js [seconds] [rounds]`; BENCH_SIP_PERF=1 also runs `perf record` on both nodes
// during the last round (start them with BENCH_SIP_NODE_ARGS=--perf-basic-prof to name JavaScript frames).
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { CertificateAuthority } from '../../src/certs/index.js';
import { LoadClients, type SipTarget } from '../../src/lab/load/index.js';
import { KAMAILIO_PASSWORD, startKamailio } from '../../test/interop/kamailio.js';
import { startBenchPair, treeCpuSeconds } from './nodes.js';

const SECONDS = Number(process.argv[2] ?? 8);
const ROUNDS = Number(process.argv[3] ?? 3);
const CLIENTS = Number(process.env.BENCH_SIP_TP_CLIENTS ?? 200);
const TICK = 100;

/** CPU ticks per thread of a process: the main thread (its tid is the pid) and the others together. */
function threadTicks(pid: number): { main: number; other: number } {
  let main = 0;
  let other = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const t = Number(f[11]) + Number(f[12]);
    if (Number(tid) === pid) main += t;
    else other += t;
  }
  return { main, other };
}

async function main(): Promise<void> {
  const ca = await CertificateAuthority.create({ commonName: 'probe CA' });
  const kamCert = await ca.issue({
    commonName: 'kamailio.example.com',
    dnsNames: ['kamailio.example.com'],
    ipAddresses: ['127.0.0.1'],
  });
  const kam = await startKamailio({ auth: true, tls: kamCert, shmMb: 1024 });
  const pair = await startBenchPair({
    domain: 'example.com',
    registrar: { address: kam.address, port: kam.tcpPort },
    capacity: 10_000,
  });
  try {
    for (let i = 0; i < 200 && !JSON.stringify((await pair.edge.status()).traversal ?? {}).includes('"sip":"up"'); i++)
      await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
    const target: SipTarget = {
      host: '127.0.0.1',
      port: pair.sipTlsPort,
      transport: 'tls',
      ca: pair.ca,
      servername: 'edge.example.com',
    };
    const load = LoadClients.create({
      target,
      domain: 'example.com',
      password: KAMAILIO_PASSWORD,
      users: { prefix: 'probe', count: CLIENTS },
      expiresS: 3600,
      timeoutMs: 30_000,
      connectTimeoutMs: 30_000,
    });
    await load.connect(100);
    await load.registerOnce();
    await load.loop(10_000);
    for (let round = 1; round <= ROUNDS; round++) {
      const perf =
        process.env.BENCH_SIP_PERF && round === ROUNDS
          ? spawn(
              'perf',
              ['record', '-F', '999', '-g', '-o', '/tmp/sip-probe.perf', '-p', `${pair.edge.pid},${pair.core.pid}`],
              { stdio: 'ignore' },
            )
          : null;
      const e0 = threadTicks(pair.edge.pid);
      const c0 = threadTicks(pair.core.pid);
      const k0 = treeCpuSeconds(kam.pid);
      const load0 = loadavg()[0]!;
      const r = await load.loop(SECONDS * 1000);
      const e1 = threadTicks(pair.edge.pid);
      const c1 = threadTicks(pair.core.pid);
      const k1 = treeCpuSeconds(kam.pid);
      if (perf) {
        perf.kill('SIGINT');
        await new Promise((res) => perf.once('exit', res));
      }
      const ms = (ticks: number) => ((ticks / TICK) * 1000) / r.ok;
      const f = (n: number) => n.toFixed(3);
      process.stdout.write(
        `round ${round}: ${Math.round(r.perSecond)} reg/s, load ${load0.toFixed(1)}; ms per registration: ` +
          `edge ${f(ms(e1.main - e0.main + e1.other - e0.other))} (main ${f(ms(e1.main - e0.main))}, other ${f(ms(e1.other - e0.other))}), ` +
          `core ${f(ms(c1.main - c0.main + c1.other - c0.other))} (main ${f(ms(c1.main - c0.main))}, other ${f(ms(c1.other - c0.other))}), ` +
          `kamailio ${f(((k1 - k0) * 1000) / r.ok)}; failures ${JSON.stringify(r.failures)}\n`,
      );
    }
    await load.close();
  } finally {
    await pair.close();
    await kam.close();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`probe failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
