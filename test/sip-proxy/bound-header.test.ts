// X-MRA-Bound is core's word to the edge (how long it counted a registration for). Call control writing it
// must not steer the edge's count, and the client never sees it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { startPair, type Pair } from './pair.js';
import { waitFor } from '../support/log-capture.js';

/** TCP between core and call control that adds `X-MRA-Bound: 0` to every response call control sends. */
async function forgingRelay(): Promise<{ port: number; target: { port: number }; close(): Promise<void> }> {
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
    outbound.on('close', () => inbound.destroy());
    inbound.pipe(outbound);
    // Answers are short and come whole in one segment on loopback here; a status line is rewritten in place.
    outbound.on('data', (chunk: Buffer) => inbound.write(chunk.toString('latin1').replace(/^(SIP\/2\.0 [^\r]*\r\n)/gm, '$1X-MRA-Bound: 0\r\n'), 'latin1'));
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
let relay: Awaited<ReturnType<typeof forgingRelay>>;
before(async () => {
  relay = await forgingRelay();
  pair = await startPair({ core: { unified_cm: [{ publisher: '127.0.0.1', nodes: [{ address: '127.0.0.1', sip_port: relay.port }] }] } });
  relay.target.port = pair.callControl.ports.tcp;
});
after(async () => {
  await pair?.close();
  await relay?.close();
});

test("call control's X-MRA-Bound neither reaches the client nor changes the edge's count", async () => {
  const alice = await pair.client('alice');
  const r = await alice.register(600);
  assert.equal(r.status, 200, `registered: ${r.status} ${r.reason}`);
  assert.equal(r.response?.header('x-mra-bound'), undefined, 'the header never reaches the client');
  // Had the forged 0 been believed, the edge would have counted the registration as removed.
  await waitFor('the edge to count alice', () => pair.edgeStatus().registrations === 1);
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(pair.edgeStatus().registrations, 1, 'still counted');
});

test("call control's X-MRA-Bound on an answer to another request does not reach the client either", async () => {
  const bob = await pair.client('bob');
  assert.equal((await bob.register(600)).status, 200);
  const alice = await pair.client('alice');
  const r = await alice.request('MESSAGE', 'sip:bob@example.com', 'hello');
  assert.ok(r.status >= 200, `answered: ${r.status} ${r.reason}`);
  assert.equal(r.response?.header('x-mra-bound'), undefined, 'the header never reaches the client');
});
