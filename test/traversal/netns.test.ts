import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTopology, type Topology } from '../topology/index.js';
import { waitFor } from '../support/log-capture.js';
import { CLI, writePairFiles, type PairFiles } from '../support/node-files.js';

// Edge in dmz, core in inside, a firewall that drops every new connection from dmz to inside.
let topo: Topology | undefined;
let skip = '';
let files: PairFiles | undefined;
const CORE_ADMIN_PORT = 9091;

before(async () => {
  const made = await createTopology('link');
  if ('skip' in made) {
    skip = made.skip;
    console.log(`# skipped: ${skip}`);
    return;
  }
  topo = made;
  files = await writePairFiles({
    edgeAddresses: [topo.dmzTraversalAddress],
    traversal: { sip: 7001, http: 2222, xmpp: 7400 },
    coreAdmin: { address: topo.inside.address, port: CORE_ADMIN_PORT },
    edgeAdmin: { address: '127.0.0.1', port: 9092 },
    keepaliveS: 0.5,
  });
});

after(async () => {
  await topo?.destroy();
  files?.cleanup();
});

type CoreStatus = { traversal: { state: string; channels: Record<string, string>; peer?: string } };
const coreStatus = async (): Promise<CoreStatus | undefined> => {
  const r = await topo!.run(topo!.inside, process.execPath, [CLI, 'status', '-c', files!.coreYaml, '--json']);
  // Exit 2 (admin API not listening yet) and an empty answer both mean: ask again.
  if ((r.code !== 0 && r.code !== 1) || !r.stdout.trim()) return undefined;
  return JSON.parse(r.stdout) as CoreStatus;
};

/** From `host`, try a TCP connection; resolves with what happened within the time given. */
async function tryConnect(host: 'dmz' | 'inside', address: string, port: number): Promise<string> {
  const script = `const s=require('net').connect(${port},'${address}');s.setTimeout(1500,()=>{console.log('timeout');process.exit(0)});s.on('connect',()=>{console.log('connected');process.exit(0)});s.on('error',e=>{console.log('error '+e.code);process.exit(0)})`;
  const r = await topo!.run(topo![host], process.execPath, ['-e', script]);
  return r.stdout.trim();
}

test('the link comes up across the DMZ firewall, and the edge cannot open any connection inward', async (t) => {
  if (!topo || !files) return t.skip(skip);
  const edge = topo.spawnNode(topo.dmz, [CLI, 'edge', '-c', files.edgeYaml], { stdio: 'ignore' });
  const core = topo.spawnNode(topo.inside, [CLI, 'core', '-c', files.coreYaml], { stdio: 'ignore' });
  assert.ok(edge.pid && core.pid);

  const up = await waitFor(
    'link up with every channel',
    async () => {
      const s = await coreStatus();
      return s?.traversal.state === 'up' && Object.values(s.traversal.channels).every((c) => c === 'up')
        ? s
        : undefined;
    },
    20_000,
    200,
  );
  assert.equal(up.traversal.peer, `${topo.dmzTraversalAddress}:7001`);

  // The core's admin API listens on the inside address: reachable from inside, not from the DMZ.
  assert.equal(await tryConnect('inside', topo.inside.address, CORE_ADMIN_PORT), 'connected');
  assert.equal(
    await tryConnect('dmz', topo.inside.address, CORE_ADMIN_PORT),
    'timeout',
    'the firewall drops dmz → inside',
  );
  const counters = await topo.run(topo.inside, 'nft', ['list', 'chain', 'inet', 'mra_dmz_firewall', 'input']);
  assert.match(counters.stdout, /ct state new counter packets [1-9]/, 'it was the firewall that dropped it');

  const still = await coreStatus();
  assert.equal(still?.traversal.state, 'up', 'the link, opened from inside, still works');
  const edgeStatus = await topo.run(topo.dmz, process.execPath, [
    CLI,
    'status',
    '--url',
    'http://127.0.0.1:9092',
    '--json',
  ]);
  assert.equal(edgeStatus.code, 0, edgeStatus.stderr);
  assert.equal(JSON.parse(edgeStatus.stdout).traversal.cores[0].node, 'core1');
});
