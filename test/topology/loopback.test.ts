import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { LOOPBACK_ADDRESSES, createNetwork, loopbackHosts } from './index.js';
import { listen, tcpConnect, udpSend } from './probe.js';

test('loopback hosts give three distinct addresses that carry TCP and UDP, without a firewall', async (t) => {
  const net = loopbackHosts();
  t.after(() => net.destroy());
  assert.equal(net.firewall, false);
  assert.equal(new Set([net.internet.address, net.dmz.address, net.inside.address]).size, 3);
  assert.equal(net.dmzPublicAddress, LOOPBACK_ADDRESSES.dmz);
  assert.equal(net.dmzTraversalAddress, LOOPBACK_ADDRESSES.dmz);

  const edge = await listen(net, net.dmz, 'tcp', net.dmzTraversalAddress, 'hello');
  const core = tcpConnect(net, net.inside, net.dmzTraversalAddress, edge.port, 1_500);
  assert.equal((await core.outcome()).event, 'connected');
  await core.receive('hello');
  core.send('ping');
  await core.receive('ping');

  // A listener on one alias is not on another: the three hosts really are apart.
  const wrong = tcpConnect(net, net.internet, net.inside.address, edge.port, 1_500);
  assert.deepEqual(await wrong.outcome(), { event: 'error', code: 'ECONNREFUSED' });

  const media = await listen(net, net.dmz, 'udp', net.dmzPublicAddress);
  assert.deepEqual(await udpSend(net, net.internet, net.dmzPublicAddress, media.port, 'rtp', 1_500).outcome(), {
    event: 'data',
    text: 'rtp',
  });
});

test('a network refuses hosts that are not its own and any spawn after destroy, and destroy ends its processes', async () => {
  const net = loopbackHosts();
  const other = loopbackHosts();
  assert.throws(() => net.spawn(other.dmz, 'true', []), /is not a host of this topology/);
  assert.throws(() => net.spawn(net.dmz, '', []), /non-empty string/);
  await assert.rejects(net.run(net.dmz, 'no-such-command-mra', []), /cannot run no-such-command-mra/);

  const sleeper = net.spawn(net.inside, 'sleep', ['600']);
  const exited = once(sleeper, 'exit');
  await net.destroy();
  await exited;
  await net.destroy();
  assert.throws(() => net.spawnNode(net.dmz, ['-e', '0']), /destroyed/);
  await other.destroy();
});

test('the probe tool refuses bad arguments with a usage message', async (t) => {
  const net = loopbackHosts();
  t.after(() => net.destroy());
  const script = fileURLToPath(new URL('./tools/probe.js', import.meta.url));
  for (const args of [['tcp-listen', 'not-an-ip'], ['tcp-connect', '127.0.0.1', '70000', '10'], ['fly']]) {
    const r = await net.run(net.dmz, process.execPath, [script, ...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /^probe: .+\nusage: /);
  }
});

test('createNetwork falls back to loopback with the reason when namespaces cannot be made', async (t) => {
  const { network, fallback } = await createNetwork('loopbackfallback');
  t.after(() => network.destroy());
  assert.equal(network.firewall, fallback === null);

  if (process.getuid?.() !== 0) return t.skip('needs root to run a child as an unprivileged user');
  // The same library run as an unprivileged user must skip, naming why, not fail.
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('./tools/hold-topology.js', import.meta.url)), 'loopbacknobody'],
    {
      uid: 65534,
      gid: 65534,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code] = (await once(child, 'exit')) as [number];
  if (/EACCES|Cannot find module/.test(stderr))
    return t.skip(`the build is not readable by nobody: ${stderr.split('\n')[0]}`);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /hold-topology: network namespaces need root/);
});
