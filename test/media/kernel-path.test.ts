// The media engine's kernel path (docs/media.md, "Two paths") across the three-host namespace topology, so the
// redirect is a real one: a client in internet, the engine in dmz as the edge runs it (an external leg that
// latches, a mux leg towards core), core's side in inside behind the DMZ firewall. Checksum offload is off on
// every link, so the receiving stacks verify each rewritten checksum. Skipped, with the reason, only where the
// machine cannot make namespaces or refuses BPF; the fallback test runs wherever namespaces can be made.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ADDRESSES, createTopology, type Host, type Topology } from '../topology/index.js';
import { JsonChild } from './json-child.js';
import { sleep } from './helpers.js';

const HOST_SCRIPT = fileURLToPath(new URL('./tools/relay-host.js', import.meta.url));
const PEER_SCRIPT = fileURLToPath(new URL('./tools/rtp-peer.js', import.meta.url));
const CLIENT_SSRC = 0x1000;
const CORE_SSRC = 0x2000;
const SIZE = 172;
const SPOOF_FILL = 0x5a;
const LINKS: [keyof Pick<Topology, 'internet' | 'dmz' | 'inside'>, string][] = [
  ['internet', 'to-dmz'],
  ['dmz', 'to-internet'],
  ['dmz', 'to-inside'],
  ['inside', 'to-dmz'],
];

interface LegStats {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  rtpExpected: number;
  rtpLost: number;
  path: string;
  drops: { foreign: number };
}
interface Stats {
  a: LegStats;
  b: LegStats;
}
interface WorkerStats {
  packetsIn: number;
  kernelInstalls: number;
  kernelRemovals: number;
}
type Received = Record<string, unknown> & {
  count: number;
  sources: Record<string, number>;
  fills: Record<string, number>;
};

let topo: Topology | null = null;
let skip = '';
let kernelSkip = '';

async function startHost(
  t: Topology,
  opts: Record<string, unknown>,
  wrap: string[] = [],
): Promise<{ host: JsonChild; info: { kernelPath: { active: boolean; reason: string } } }> {
  const engine = {
    workers: 1,
    bindAddress: '0.0.0.0',
    portMin: 36000,
    portMax: 36999,
    muxPairs: 1,
    mediaTimeoutMs: 0,
    kernelAfterPackets: 10,
    ...opts,
  };
  const args = [HOST_SCRIPT, JSON.stringify(engine)];
  const child = wrap.length
    ? t.spawn(t.dmz, wrap[0]!, [...wrap.slice(1), process.execPath, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    : t.spawnNode(t.dmz, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const host = new JsonChild(child, 'relay host');
  const ready = await host.event((m) => m.event === 'ready' || m.event === 'failed', 'ready', 20_000);
  if (ready.event !== 'ready') throw new Error(`relay host failed: ${String(ready.error)}`);
  return { host, info: ready.info as { kernelPath: { active: boolean; reason: string } } };
}

async function startPeer(t: Topology, host: Host): Promise<JsonChild> {
  const peer = new JsonChild(
    t.spawnNode(host, [PEER_SCRIPT, host.address], { stdio: ['pipe', 'pipe', 'pipe'] }),
    `peer in ${host.name}`,
  );
  await peer.event((m) => m.event === 'ready', 'ready');
  return peer;
}

async function udpCounters(t: Topology, host: Host): Promise<{ inDatagrams: number; csumErrors: number }> {
  const snmp = (await t.run(host, 'cat', ['/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Udp:'));
  const [names, values] = snmp.map((l) => l.split(/\s+/).slice(1));
  const at = (k: string) => Number(values![names!.indexOf(k)]);
  return { inDatagrams: at('InDatagrams'), csumErrors: at('InCsumErrors') };
}

/** The BPF programs, maps and links a process holds, from its file descriptors. */
function bpfObjectsOf(pid: number): { prog: Set<number>; map: Set<number>; link: Set<number> } {
  const out = { prog: new Set<number>(), map: new Set<number>(), link: new Set<number>() };
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    const link = /^link_id:\s+(\d+)/m.exec(text);
    if (link) {
      out.link.add(Number(link[1]));
      continue;
    }
    const prog = /^prog_id:\s+(\d+)/m.exec(text);
    if (prog) out.prog.add(Number(prog[1]));
    const map = /^map_id:\s+(\d+)/m.exec(text);
    if (map) out.map.add(Number(map[1]));
  }
  return out;
}

async function bpfListed(t: Topology, kind: 'prog' | 'map' | 'link'): Promise<Array<{ id: number; name?: string }>> {
  const r = await t.run(t.dmz, 'bpftool', ['-j', kind, 'show']);
  assert.equal(r.code, 0, `bpftool ${kind} show: ${r.stderr}`);
  return JSON.parse(r.stdout || '[]') as Array<{ id: number; name?: string }>;
}

/** Reads until `done` accepts what it read (or about `ms` passed), and returns the last read. */
async function poll<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 3000): Promise<T> {
  let v = await read();
  for (const deadline = Date.now() + ms; !done(v) && Date.now() < deadline; v = await read()) await sleep(10);
  return v;
}

describe('kernel path: streams forwarded in the kernel across namespaces', () => {
  let host: JsonChild;
  let client: JsonChild;
  let core: JsonChild;
  let clientPort = 0;
  let corePort = 0;
  let extPort = 0;
  let clientSeq = 0;
  let coreSeq = 0;
  const stats = async (relay = 'r1') => (await host.request<{ stats: Stats }>('stats', { relay })).stats;
  const workers = async () => (await host.request<{ workers: WorkerStats[] }>('workers')).workers;
  const received = (peer: JsonChild, name: string) => peer.request<Received>('received', { name });
  const fromClient = (count: number, extra: Record<string, unknown> = {}) => {
    const r = client.request(
      'send',
      {
        name: 'c1',
        to: { address: ADDRESSES.dmzPublic, port: extPort },
        ssrc: CLIENT_SSRC,
        seq: clientSeq,
        count,
        gapMs: 1,
        size: SIZE,
        ...extra,
      },
      30_000,
    );
    clientSeq += count;
    return r;
  };
  const fromCore = (count: number) => {
    const r = core.request(
      'send',
      {
        name: 'k1',
        to: { address: ADDRESSES.dmzTraversal, port: 36000 },
        ssrc: CORE_SSRC,
        seq: coreSeq,
        count,
        gapMs: 1,
        size: SIZE,
      },
      30_000,
    );
    coreSeq += count;
    return r;
  };

  /** The edge's relay: an external leg that latches on the client, a mux leg towards core. */
  const createEdgeRelay = async (relay: string) => {
    const created = await host.request<{ ports: { a: { rtp: number }; b: { rtp: number } } }>('create', {
      relay,
      a: { remote: { address: ADDRESSES.internet, port: clientPort } },
      b: { mux: true, remote: { address: ADDRESSES.inside, port: corePort }, ssrc: CORE_SSRC },
    });
    extPort = created.ports.a.rtp;
    return created.ports;
  };
  /** Core opens the firewall's flow, then the client's `count` packets must all reach core. */
  const clientToCore = async (count: number) => {
    const atCore0 = await received(core, 'k1');
    await fromCore(5);
    await fromClient(count);
    const atCore = await poll(
      () => received(core, 'k1'),
      (r) => r.count >= atCore0.count + count,
    );
    assert.equal(atCore.count - atCore0.count, count, 'every packet relayed');
  };

  before(async () => {
    const made = await createTopology('kpath');
    if ('skip' in made) {
      skip = made.skip;
      console.log(`# skipped: ${skip}`);
      return;
    }
    topo = made;
    for (const [h, dev] of LINKS) {
      const r = await topo.run(topo[h], 'ethtool', ['-K', dev, 'tx', 'off', 'rx', 'off']);
      if (r.code !== 0) {
        skip = `cannot turn checksum offload off (Debian package ethtool): ${r.stderr.trim()}`;
        console.log(`# skipped: ${skip}`);
        return;
      }
    }
    ({ host } = await startHost(topo, {}).then((s) => {
      if (!s.info.kernelPath.active) {
        kernelSkip = `this machine refuses the kernel path: ${s.info.kernelPath.reason}`;
        console.log(`# skipped: ${kernelSkip}`);
      }
      return s;
    }));
    client = await startPeer(topo, topo.internet);
    core = await startPeer(topo, topo.inside);
    clientPort = (await client.request<{ port: number }>('open', { name: 'c1' })).port;
    corePort = (await core.request<{ port: number }>('open', { name: 'k1' })).port;
  });
  after(async () => topo?.destroy());

  test('a latched stream goes into the kernel both ways: user space sees none of it after, the counters all, checksums verify', async (t) => {
    if (skip || kernelSkip) return t.skip(skip || kernelSkip);
    assert.equal((await createEdgeRelay('r1')).b.rtp, 36000);
    // Core speaks first (the firewall lets the edge's answers back only on core's flow), then the client.
    await fromCore(20);
    await fromClient(20);
    const s = await poll(
      () => stats(),
      (v) => v.a.path === 'kernel' && v.b.path === 'kernel',
    );
    assert.equal(s.a.path, 'kernel', "the client's stream went into the kernel");
    assert.equal(s.b.path, 'kernel', "core's stream went into the kernel");

    const w0 = await workers();
    const csum0 = {
      internet: await udpCounters(topo!, topo!.internet),
      inside: await udpCounters(topo!, topo!.inside),
    };
    const atCore0 = await received(core, 'k1');
    const atClient0 = await received(client, 'c1');
    // 300 more each way; the client's skip three sequence numbers (loss the kernel must count).
    const skipped = [clientSeq + 50, clientSeq + 51, clientSeq + 200];
    await Promise.all([fromClient(300, { skip: skipped }), fromCore(300)]);
    const atCore = await poll(
      () => received(core, 'k1'),
      (r) => r.count >= atCore0.count + 297,
    );
    const atClient = await poll(
      () => received(client, 'c1'),
      (r) => r.count >= atClient0.count + 300,
    );
    assert.equal(atCore.count - atCore0.count, 297, 'core got every packet the client sent');
    assert.equal(atClient.count - atClient0.count, 300, 'the client got every packet core sent');
    assert.deepEqual(Object.keys(atCore.sources), [`${ADDRESSES.dmzTraversal}:36000`], "from the edge's mux port");
    assert.deepEqual(
      Object.keys(atClient.sources),
      [`${ADDRESSES.dmzPublic}:${extPort}`],
      "from the external leg's port",
    );

    const w1 = await workers();
    assert.equal(w1[0]!.packetsIn, w0[0]!.packetsIn, 'user space read none of the 597 packets');
    await sleep(250); // a worker tick folds the kernel's sequence state into the loss figures
    const s1 = await stats();
    assert.equal(s1.a.packetsIn - s.a.packetsIn, 297);
    assert.equal(s1.a.bytesIn - s.a.bytesIn, 297 * SIZE);
    assert.equal(s1.b.packetsOut - s.b.packetsOut, 297);
    assert.equal(s1.b.bytesOut - s.b.bytesOut, 297 * SIZE);
    assert.equal(s1.b.packetsIn - s.b.packetsIn, 300);
    assert.equal(s1.a.packetsOut - s.a.packetsOut, 300);
    assert.equal(s1.a.packetsIn, 317, 'every packet the client sent, whichever path carried it');
    assert.equal(s1.a.rtpExpected, 320, "the client's sequence numbers 0..319");
    assert.equal(s1.a.rtpLost, 3, 'the three the client skipped');
    assert.equal(s1.b.rtpExpected, 320);
    assert.equal(s1.b.rtpLost, 0);

    const csum1 = {
      internet: await udpCounters(topo!, topo!.internet),
      inside: await udpCounters(topo!, topo!.inside),
    };
    assert.equal(csum1.internet.csumErrors, csum0.internet.csumErrors, 'no checksum error at the client');
    assert.equal(csum1.inside.csumErrors, csum0.inside.csumErrors, 'no checksum error at core');
    assert.ok(
      csum1.internet.inDatagrams - csum0.internet.inDatagrams >= 300,
      "the client's stack verified and delivered them",
    );
    assert.ok(csum1.inside.inDatagrams - csum0.inside.inDatagrams >= 297, "core's stack verified and delivered them");
  });

  test('a spoofed source racing the kernel-forwarded stream is not forwarded and does not take the leg', async (t) => {
    if (skip || kernelSkip) return t.skip(skip || kernelSkip);
    await client.request('open', { name: 'spoof' });
    const before = await stats();
    const atCore0 = await received(core, 'k1');
    // The real client keeps sending (1.5 s, all in the kernel); after 1.1 s the spoofer sends the same SSRC from
    // another port, more packets than a re-latch needs. User space must know the client is not silent.
    const real = fromClient(600, { gapMs: 2 });
    await sleep(1100);
    await client.request('send', {
      name: 'spoof',
      to: { address: ADDRESSES.dmzPublic, port: extPort },
      ssrc: CLIENT_SSRC,
      seq: clientSeq + 5000,
      count: 20,
      gapMs: 2,
      fill: SPOOF_FILL,
    });
    await real;
    await sleep(300);
    const after = await stats();
    const atCore = await received(core, 'k1');
    assert.equal(atCore.fills[String(SPOOF_FILL)] ?? 0, 0, "none of the spoofer's packets reached core");
    assert.equal(after.a.drops.foreign - before.a.drops.foreign, 20, 'each spoofed packet dropped as foreign');
    assert.equal(after.a.path, 'kernel', "the client's stream stayed in the kernel");
    assert.ok(!host.events.some((e) => e.event === 'latched' && e.relatch === true), 'no re-latch');
    assert.equal(atCore.count - atCore0.count, 600);
  });

  test('a client that moves (NAT rebinding) re-latches: the old flow leaves the kernel, the new one enters it', async (t) => {
    if (skip || kernelSkip) return t.skip(skip || kernelSkip);
    const moved = (await client.request<{ port: number }>('open', { name: 'c2' })).port;
    await sleep(1100); // the old source falls silent for longer than relatch.silenceMs
    await client.request('send', {
      name: 'c2',
      to: { address: ADDRESSES.dmzPublic, port: extPort },
      ssrc: CLIENT_SSRC,
      seq: clientSeq,
      count: 30,
      gapMs: 2,
    });
    clientSeq += 30;
    await host.event(
      (e) => e.event === 'latched' && e.relatch === true && e.port === moved,
      're-latch onto the new port',
    );
    assert.equal(
      (
        await poll(
          () => stats(),
          (v) => v.a.path === 'kernel',
        )
      ).a.path,
      'kernel',
      "the new source's stream went into the kernel",
    );
    // Core's stream now reaches the new port (its flow was replaced), never the old one.
    const old0 = await received(client, 'c1');
    await fromCore(100);
    assert.equal(
      (
        await poll(
          () => received(client, 'c2'),
          (r) => r.count >= 100,
        )
      ).count,
      100,
    );
    assert.equal((await received(client, 'c1')).count, old0.count, 'nothing to the old port');
    // The old source is no longer forwarded by anyone.
    const atCore0 = await received(core, 'k1');
    await client.request('send', {
      name: 'c1',
      to: { address: ADDRESSES.dmzPublic, port: extPort },
      ssrc: CLIENT_SSRC,
      seq: clientSeq,
      count: 10,
      gapMs: 2,
      fill: 0x11,
    });
    await sleep(300);
    assert.equal((await received(core, 'k1')).fills['17'] ?? 0, 0, "the old source's packets are not forwarded");
    assert.equal((await received(core, 'k1')).count, atCore0.count);
  });

  test('closing the relay takes its flows out of the kernel: nothing forwarded, the flow table empty', async (t) => {
    if (skip || kernelSkip) return t.skip(skip || kernelSkip);
    await host.request('close', { relay: 'r1' });
    const w = (await workers())[0]!;
    assert.equal(w.kernelInstalls - w.kernelRemovals, 0, 'every installed flow removed');
    const atCore0 = await received(core, 'k1');
    await client.request('send', {
      name: 'c2',
      to: { address: ADDRESSES.dmzPublic, port: extPort },
      ssrc: CLIENT_SSRC,
      seq: clientSeq,
      count: 20,
      gapMs: 1,
    });
    await sleep(300);
    assert.equal((await received(core, 'k1')).count, atCore0.count, 'nothing forwarded after close');
    const ids = bpfObjectsOf(host.child.pid!);
    const flows = (await bpfListed(topo!, 'map')).find((m) => ids.map.has(m.id) && m.name === 'mra_flows');
    assert.ok(flows, "the engine's flow table is listed");
    const dump = await topo!.run(topo!.dmz, 'bpftool', ['-j', 'map', 'dump', 'id', String(flows.id)]);
    assert.deepEqual(JSON.parse(dump.stdout), [], 'the flow table is empty');
  });

  test('the node exiting (killed) leaves no program, map or link in the kernel; a restarted node forwards again', async (t) => {
    if (skip || kernelSkip) return t.skip(skip || kernelSkip);
    const held = bpfObjectsOf(host.child.pid!);
    assert.ok(
      held.prog.size >= 1 && held.map.size >= 2 && held.link.size >= 3,
      `the engine holds its program, maps and a link per interface: ${JSON.stringify([...held.link])}`,
    );
    const listed = async () => ({
      prog: (await bpfListed(topo!, 'prog')).filter((p) => held.prog.has(p.id)).length,
      map: (await bpfListed(topo!, 'map')).filter((m) => held.map.has(m.id)).length,
      link: (await bpfListed(topo!, 'link')).filter((l) => held.link.has(l.id)).length,
    });
    assert.deepEqual(await listed(), { prog: held.prog.size, map: held.map.size, link: held.link.size });
    host.child.kill('SIGKILL');
    await new Promise((r) => host.child.once('exit', r));
    const left = await poll(listed, (l) => !l.prog && !l.map && !l.link, 5000);
    assert.deepEqual(left, { prog: 0, map: 0, link: 0 }, 'nothing of the dead node is left in the kernel');

    ({ host } = await startHost(topo!, {}));
    await createEdgeRelay('r2');
    await clientToCore(60);
    assert.equal((await stats('r2')).a.path, 'kernel');
  });

  test('where BPF is refused the engine says why once and relays in user space', async (t) => {
    if (skip) return t.skip(skip);
    host.child.stdin!.end();
    await new Promise((r) => (host.exited ? r(null) : host.child.once('exit', r)));
    // Root without CAP_BPF, CAP_SYS_ADMIN, CAP_PERFMON and CAP_NET_ADMIN: the kernel refuses to load the program.
    const refused = await startHost(topo!, {}, [
      'setpriv',
      '--bounding-set=-bpf,-sys_admin,-perfmon,-net_admin',
      '--inh-caps=-all',
    ]);
    host = refused.host;
    assert.equal(refused.info.kernelPath.active, false);
    assert.match(refused.info.kernelPath.reason, /not permitted/);
    await createEdgeRelay('r3');
    await clientToCore(60);
    assert.equal((await stats('r3')).a.path, 'user');
    assert.equal((await workers())[0]!.packetsIn, 65, 'user space read every packet');

    host.child.stdin!.end();
    const off = await startHost(topo!, { kernelPath: 'off' });
    host = off.host;
    assert.equal(off.info.kernelPath.active, false);
    assert.equal(off.info.kernelPath.reason, 'turned off by configuration');
  });
});
