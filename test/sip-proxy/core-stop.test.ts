// A core that is stopped (SIGTERM drains it) while a REGISTER waits at call control: the registrar's answer
// still reaches the client. Over TLS a client does not retransmit, so an answer dropped here would leave it
// waiting for its transaction timer (408 after 32 s): the bench saw that for a refresh or two on every core
// restart, because core closed its call-control connections before their answers had come back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { startPair, type Pair } from './pair.js';
import { waitFor } from '../support/log-capture.js';

/** TCP between core and call control whose answers (call control → core) arrive late, in order. */
async function slowAnswers(delayMs: number): Promise<{ port: number; target: { port: number }; close(): Promise<void> }> {
  const target = { port: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = connect(target.port, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => {});
      s.once('close', () => sockets.delete(s));
    }
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => setTimeout(() => inbound.destroy(), delayMs));
    inbound.pipe(outbound);
    outbound.on('data', (chunk: Buffer) => setTimeout(() => inbound.destroyed || inbound.write(chunk), delayMs));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    target,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

let pair: Pair;
let relay: Awaited<ReturnType<typeof slowAnswers>>;
before(async () => {
  relay = await slowAnswers(400);
  pair = await startPair({ core: { unified_cm: [{ publisher: '127.0.0.1', nodes: [{ address: '127.0.0.1', sip_port: relay.port }] }] } });
  relay.target.port = pair.callControl.ports.tcp;
});
after(async () => {
  await pair?.close();
  await relay?.close();
});

test('a REGISTER at call control when core is stopped still gets its answer; the next ones get 503, not silence', async () => {
  const alice = await pair.client('alice');
  assert.equal((await alice.register()).status, 200, 'registered through the slow call-control link');
  const refresh = alice.register();
  await new Promise((r) => setTimeout(r, 150)); // the refresh now waits at call control (its answer is 400 ms away)
  const stopped = pair.core.close();
  const r = await refresh;
  assert.equal(r.status, 200, `the refresh in flight was answered: ${r.status} ${r.reason}`);
  await stopped;
  await waitFor('the edge to see the link go', () => pair.edgeStatus().coreChannels === 0);
  const after = await alice.register();
  assert.equal(after.status, 503, `with core gone the edge answers at once: ${after.status} ${after.reason}`);
});
