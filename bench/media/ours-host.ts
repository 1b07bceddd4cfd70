// Runs our media engine in its own process for the bench, so its CPU time is its own: one worker thread,
// one relay per stream, leg A latching onto the generator, leg B sending to the generator's rx port.
// Argument: JSON { streams, mode, rxPort, txKey (hex or null), portMin, portMax }. Prints one JSON line with the
// A ports and the B send keys, then serves until stdin closes.
import { randomBytes } from 'node:crypto';
import { MediaEngine } from '../../src/media/index.js';
import type { Mode } from './subject.js';

interface HostArgs { streams: number; mode: Mode; rxPort: number; txKey: string | null; portMin: number; portMax: number }

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as HostArgs;
  if (!Number.isInteger(args.streams) || args.streams < 1) throw new TypeError('streams must be a positive integer');
  if (!['plain', 'rtp-srtp', 'srtp-srtp'].includes(args.mode)) throw new TypeError(`unknown mode ${String(args.mode)}`);
  const engine = await MediaEngine.create({
    workers: 1, muxPairs: 0, bindAddress: '127.0.0.1', portMin: args.portMin, portMax: args.portMax, mediaTimeoutMs: 0,
  });
  const ports: number[] = [];
  const rxKeys: string[] = [];
  for (let i = 0; i < args.streams; i++) {
    const relay = engine.createRelay({
      a: { latch: true },
      b: { latch: false, remote: { address: '127.0.0.1', port: args.rxPort } },
      timeoutMs: 0,
    });
    if (args.mode !== 'plain') {
      const out = randomBytes(30);
      relay.setKeys('b', { send: { suite: 'AES_CM_128_HMAC_SHA1_80', key: out } });
      rxKeys.push(out.toString('hex'));
    }
    if (args.mode === 'srtp-srtp') {
      if (!args.txKey) throw new TypeError('srtp-srtp needs the generator key');
      relay.setKeys('a', { recv: { suite: 'AES_CM_128_HMAC_SHA1_80', key: Buffer.from(args.txKey, 'hex') } });
    }
    ports.push(relay.ports.a.rtp);
  }
  process.stdout.write(`${JSON.stringify({ ports, rxKeys, srtpBackend: engine.info.srtpBackend })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => { void engine.close().then(() => process.exit(0)); });
}

main().catch((err: unknown) => {
  process.stdout.write(`${JSON.stringify({ error: (err as Error).message })}\n`);
  process.exit(1);
});
