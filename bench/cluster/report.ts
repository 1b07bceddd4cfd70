// The bench:cluster table for bench/RESULTS.md and the RESULT line.
import { writeSection } from '../results.js';

export interface Round {
  setup: '1 + 1 in memory' | '2 + 2 on Redis';
  perSecond: number;
  p50: number;
  p99: number;
  failures: Record<string, number>;
  /** CPU of every server process of the setup (edges, cores, Kamailio) per registration. */
  cpuMsPerReg: number;
}

/** One round of calls (bench/cluster/calls.ts) through a setup. */
export interface CallRound {
  setup: Round['setup'];
  perSecond: number;
  ok: number;
  p50: number;
  p99: number;
  failures: Record<string, number>;
  /** CPU of the setup's edges and cores per call set up and hung up. */
  cpuMsPerCall: number;
}

export interface Failover {
  which: 'edge' | 'core';
  /** From the kill -9 until every held client is registered again; null when not within limitS. */
  allBackMs: number | null;
  /** The fewest clients registered at once meanwhile. */
  lowest: number;
  registered: number;
  failures: Record<string, number>;
  limitS: number;
}

export interface Figures {
  tpClients: number;
  loopS: number;
  warmupS: number;
  hold: number;
  rounds: Round[];
  failovers: Failover[];
  calls: { lanes: number; loopS: number; warmupS: number; rounds: CallRound[] };
}

const n0 = (v: number) => Math.round(v).toLocaleString('en-US');
const ms = (v: number) => (v >= 100 ? n0(v) : v.toFixed(1));
const fails = (f: Record<string, number>) =>
  Object.keys(f).length
    ? Object.entries(f)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ')
    : 'none';

export function report(
  f: Figures,
  run: { command: string; date: string; machine: string; cores: number; load: [number, number] },
  root: string | null,
): { body: string; results: string[] } {
  const meanOf = <R extends { setup: Round['setup'] }>(rounds: R[], setup: Round['setup'], pick: (r: R) => number) => {
    const rs = rounds.filter((r) => r.setup === setup);
    return rs.reduce((a, r) => a + pick(r), 0) / Math.max(1, rs.length);
  };
  const mean = (setup: Round['setup'], pick: (r: Round) => number) => meanOf(f.rounds, setup, pick);
  const c = f.calls;
  const callsOurs = meanOf(c.rounds, '2 + 2 on Redis', (r) => r.perSecond);
  const callsRef = meanOf(c.rounds, '1 + 1 in memory', (r) => r.perSecond);
  const callsRatio = callsOurs / callsRef;
  const callsCpuRatio =
    meanOf(c.rounds, '2 + 2 on Redis', (r) => r.cpuMsPerCall) /
    meanOf(c.rounds, '1 + 1 in memory', (r) => r.cpuMsPerCall);
  const ours = mean('2 + 2 on Redis', (r) => r.perSecond);
  const reference = mean('1 + 1 in memory', (r) => r.perSecond);
  const ratio = ours / reference;
  const cpuRatio = mean('2 + 2 on Redis', (r) => r.cpuMsPerReg) / mean('1 + 1 in memory', (r) => r.cpuMsPerReg);
  const edge = f.failovers.find((x) => x.which === 'edge');
  const core = f.failovers.find((x) => x.which === 'core');
  const back = (x: Failover | undefined) =>
    !x
      ? 'not run'
      : x.allBackMs === null
        ? `**not all within ${x.limitS} s** (${n0(x.registered)} were)`
        : `**${(x.allBackMs / 1000).toFixed(2)} s**`;
  const lines = [
    '## bench:cluster — registrations and calls through 2 edges + 2 cores on Redis against 1 + 1 in memory, and failover',
    '',
    `Command: \`${run.command}\` · date: ${run.date} · machine: ${run.machine} · load average (1 min) at start / end: ${run.load[0].toFixed(1)} / ${run.load[1].toFixed(1)}${run.load[0] > 1 ? ' — other work was running when this run started; the rounds alternate so both setups share it' : ''}`,
    '',
    "Everything on one machine and its 2 cores: the load clients (src/lab/load/, one worker thread per half, one TLS connection per client, digest with the nonce cached), every node as its own `mra-edge` process (log level warn), Kamailio 5.6.3 (test/interop/kamailio/kamailio.cfg: digest auth, usrloc in memory, Path stored) as Unified CM over TCP, one instance per setup started alike. The cluster keeps its state in two redis-servers (the edges' and the cores', append-only, as docs/cluster.md deploys them): registrations counted per node, flow tokens under the cluster's key, each edge choosing a core per Call-ID among the cores up. Half the clients are given edge1 first and half edge2 (each holds the other as its alternate, as DNS SRV gives them both); in the pair both halves use its one edge.",
    '',
    `### Registrations per second (closed loop, ${f.tpClients} clients, ${f.loopS} s per round after a ${f.warmupS} s unmeasured warm-up of each setup; rounds alternate)`,
    '',
    '| round | setup | reg/s | p50 / p99 latency (ms) | server CPU per registration (edges + cores + Kamailio) | failures |',
    '|---:|---|---:|---:|---:|---|',
    ...f.rounds.map(
      (r, i) =>
        `| ${i + 1} | ${r.setup} | ${n0(r.perSecond)} | ${ms(r.p50)} / ${ms(r.p99)} | ${r.cpuMsPerReg.toFixed(3)} ms | ${fails(r.failures)} |`,
    ),
    '',
    `Mean: 2 + 2 on Redis ${n0(ours)} reg/s, 1 + 1 in memory ${n0(reference)} reg/s: **ratio ${ratio.toFixed(2)}** — target ≥ 0.8 (${ratio >= 0.8 ? 'meets' : 'misses'}). Server CPU per registration: the cluster's is ${cpuRatio.toFixed(2)}× the pair's (the Redis round trips, and four processes sharing the 2 cores where the pair has two; the two redis-servers' own CPU is not counted).`,
    '',
    `### Failover (${n0(f.hold)} clients held through the cluster, Expires 600 s)`,
    '',
    '| a node dies (kill -9) | until every client is registered again | meanwhile |',
    '|---|---:|---|',
    `| edge1: its clients' connections drop; each connects to the other edge it was given after 0-1 s and registers | ${back(edge)} | fewest registered at once ${edge ? n0(edge.lowest) : '—'}; failures ${edge ? fails(edge.failures) : '—'} |`,
    `| core1: the edges send to the core left; every client refreshes at once right after the kill (its registration names the dead core in its Path until it is refreshed) | ${back(core)} | failures ${core ? fails(core.failures) : '—'} |`,
    '',
    `### Calls set up per second (closed loop, ${c.lanes} lanes, ${c.loopS} s per round after a ${c.warmupS} s unmeasured warm-up of each setup; rounds alternate)`,
    '',
    "Each lane is one remote client registered through an edge (the cluster's lanes spread over both edges, each edge choosing a core per Call-ID) and one inside phone behind the lab's call control (src/lab/call-control.ts, in the bench process) in place of Kamailio: a call is an INVITE with an SDES SRTP offer, the phone's RTP/AVP answer, the ACK and a BYE, then the lane's next call; set-up time is INVITE to its 200. Every node makes and frees its relays per call; no media flows (the SDP names UDP sinks of the bench process). New nodes for this part, their own media ports, the same two redis-servers (cluster name `bench-calls`).",
    '',
    '| round | setup | calls/s | set-up p50 / p99 (ms) | server CPU per call (edges + cores) | failures |',
    '|---:|---|---:|---:|---:|---|',
    ...c.rounds.map(
      (r, i) =>
        `| ${i + 1} | ${r.setup} | ${r.perSecond.toFixed(1)} | ${ms(r.p50)} / ${ms(r.p99)} | ${r.cpuMsPerCall.toFixed(2)} ms | ${fails(r.failures)} |`,
    ),
    '',
    `Mean: 2 + 2 on Redis ${callsOurs.toFixed(1)} calls/s, 1 + 1 in memory ${callsRef.toFixed(1)} calls/s: **ratio ${callsRatio.toFixed(2)}**. Server CPU per call: the cluster's is ${callsCpuRatio.toFixed(2)}× the pair's.`,
    '',
    'Not measured, because it is not built yet (docs/cluster.md, "Not done yet"): the media gap per call when a core or an edge dies (a core adopting a dead core\'s calls from Redis). A registration whose Path names a dead core is reachable from the inside again only once refreshed; the core row times a refresh of all of them at once.',
  ];
  const body = lines.join('\n');
  if (root !== null) writeSection(root, 'cluster', body);
  return {
    body,
    // The registrations' line stays the last (the RESULT); the calls' comes before it.
    results: [
      `RESULT bench:cluster-calls ours=${callsOurs.toFixed(1)} reference=${callsRef.toFixed(1)} ratio=${callsRatio.toFixed(3)}`,
      `RESULT bench:cluster ours=${Math.round(ours)} reference=${Math.round(reference)} ratio=${ratio.toFixed(3)}`,
    ],
  };
}
