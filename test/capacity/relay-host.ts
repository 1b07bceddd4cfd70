// A relay standing in for a pair in the search test: the media engine in its own process (so a cgroup can hold it to a
// share), one relay per call made on request. Lines on stdin: "add <id> <client port> <inside port> <client key hex>
// <pair key hex>" answers {"id","client":<port>,"inside":<port>}; "del <id>" answers {"id"}. Argument: "portMin-portMax".
import { createInterface } from 'node:readline';
import { MediaEngine, type Relay } from '../../src/media/index.js';

const SUITE = 'AES_CM_128_HMAC_SHA1_80';
const [min, max] = (process.argv[2] ?? '').split('-').map(Number);
const engine = await MediaEngine.create({
  workers: 1,
  muxPairs: 0,
  bindAddress: '127.0.0.1',
  portMin: min!,
  portMax: max!,
  mediaTimeoutMs: 0,
});
const relays = new Map<string, Relay>();
const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
say({ ready: true });
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, id = '', ...rest] = line.trim().split(' ');
  try {
    if (cmd === 'add') {
      const [clientPort, insidePort, clientKey, pairKey] = rest;
      const relay = engine.createRelay({
        a: { remote: { address: '127.0.0.1', port: Number(clientPort) } },
        b: { remote: { address: '127.0.0.1', port: Number(insidePort) } },
        timeoutMs: 0,
      });
      relay.setKeys('a', {
        recv: { suite: SUITE, key: Buffer.from(clientKey!, 'hex') },
        send: { suite: SUITE, key: Buffer.from(pairKey!, 'hex') },
      });
      relays.set(id, relay);
      say({ id, client: relay.ports.a.rtp, inside: relay.ports.b.rtp });
    } else if (cmd === 'del') {
      await relays.get(id)?.close();
      relays.delete(id);
      say({ id });
    } else say({ id, error: `unknown command ${cmd}` });
  } catch (err) {
    say({ id, error: (err as Error).message });
  }
}
await engine.close();
