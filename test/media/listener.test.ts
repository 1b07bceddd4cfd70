// A relay event listener that throws is a bug in the listener: the node must log it with its code, count it in
// the media status section, and go on relaying and serving (it used to be re-thrown as an uncaught exception,
// which ends the process and every call on it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LatchedEvent } from '../../src/media/index.js';
import { attachCoreSip } from '../../src/sip/index.js';
import { startMediaEngine } from '../../src/node/media.js';
import { coreFixture } from '../ops/helpers.js';
import { mediaRange } from '../support/media-range.js';
import { waitFor } from '../support/log-capture.js';
import { Peer, rtp } from './helpers.js';

test('a relay listener that throws is logged with its code and counted; the relay and the node go on', async (t) => {
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  t.after(() => process.off('uncaughtException', onUncaught));

  const fx = await coreFixture({ config: { media: mediaRange() } });
  t.after(() => fx.cleanup());
  const engine = await startMediaEngine(fx.node.ctx, '127.0.0.1', false, fx.log);
  // Core's SIP publishes the media section (and with it the engine's figures), as a running node does.
  attachCoreSip(
    fx.node.ctx,
    { onChannel: () => {}, sip: () => undefined, link: () => undefined, links: () => [] },
    undefined,
    undefined,
    engine,
  );
  const media = () => (fx.node.status() as { media: { listenerFailures: number; relays: number } }).media;
  assert.equal(media().listenerFailures, 0);

  const client = await Peer.open();
  const inside = await Peer.open();
  t.after(() => {
    client.close();
    inside.close();
  });
  const relay = engine.createRelay({ a: {}, b: { remote: inside.endpoint, latch: false } });
  t.after(() => relay.close());
  relay.on('latched', () => {
    throw new TypeError('a listener with a bug');
  });
  const seen: LatchedEvent[] = [];
  relay.on('latched', (e) => seen.push(e));

  for (let i = 0; i < 5; i++) await client.send(rtp(i, 0x1234), relay.ports.a.rtp);
  await inside.waitFor(5);
  await waitFor('the latch reported', () => fx.logLines().find((l) => l.code === 'MRA_LISTENER_FAILED'));
  const line = fx.logLines().find((l) => l.code === 'MRA_LISTENER_FAILED')!;
  assert.equal(line.event, 'relay latched');
  assert.equal(line.cause, 'MRA_INTERNAL', 'a TypeError carries no code of its own');
  assert.equal(line.relay, relay.id);
  assert.match(String(line.err), /a listener with a bug/);
  assert.equal(engine.listenerFailures, 1);
  assert.deepEqual(
    seen.map((e) => [e.leg, e.port]),
    [['a', client.port]],
    'the next listener still had the event',
  );
  assert.equal(media().listenerFailures, 1, 'counted in the media status section');
  assert.deepEqual(uncaught, [], 'nothing thrown past the engine');

  // The relay goes on forwarding both ways, and a new relay opens and forwards: the node keeps serving.
  for (let i = 5; i < 10; i++) await client.send(rtp(i, 0x1234), relay.ports.a.rtp);
  await inside.waitFor(10);
  await inside.send(rtp(0, 0x4321), relay.ports.b.rtp);
  await client.waitFor(1);
  const other = engine.createRelay({ a: {}, b: { remote: inside.endpoint, latch: false } });
  t.after(() => other.close());
  await client.send(rtp(0, 0x5555), other.ports.a.rtp);
  await inside.waitFor(11);
  assert.equal(media().relays, 0, 'relays made outside the SIP plane are not its calls');
  assert.deepEqual(uncaught, []);
});
