// Runs our media engine in its own process for the bench, so its CPU time is its own: one worker thread,
// one relay per stream, leg A latching onto the generator, leg B sending to the generator's rx port.
// Argument: JSON { streams, mode, rxPort, txKey (hex or null), portMin, portMax, and for the kernel rows bindAddress,
// rxAddress, kernelPath }. Mode `edge` is the edge's pass-through relay: leg A external, leg B a mux leg whose remote
// (its demux key, one per relay, RTCP one above) is rxPort + 2i on the generator. Prints one JSON line with the A ports and the B
// send keys, then answers `stats` lines with the worker's counters, until stdin closes.
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { MediaEngine, type KernelPathMode } from '../../src/media/index.js';
import type { Mode } from './subject.js';

interface HostArgs {
  streams: number;
  mode: Mode;
  rxPort: number;
  txKey: string | null;
  portMin: number;
  portMax: number;
  bindAddress?: string;
  rxAddress?: string;
  kernelPath?: KernelPathMode;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as HostArgs;
  if (!Number.isInteger(args.streams) || args.streams < 1) throw new TypeError('streams must be a positive integer');
  if (!['plain', 'rtp-srtp', 'srtp-srtp', 'edge'].includes(args.mode))
    throw new TypeError(`unknown mode ${String(args.mode)}`);
  const rxAddress = args.rxAddress ?? '127.0.0.1';
  const engine = await MediaEngine.create({
    workers: 1,
    muxPairs: args.mode === 'edge' ? 1 : 0,
    bindAddress: args.bindAddress ?? '127.0.0.1',
    portMin: args.portMin,
    portMax: args.portMax,
    mediaTimeoutMs: 0,
    kernelPath: args.kernelPath ?? 'off',
  });
  const ports: number[] = [];
  const rxKeys: string[] = [];
  for (let i = 0; i < args.streams; i++) {
    const relay = engine.createRelay({
      a: { latch: true },
      b:
        args.mode === 'edge'
          ? { mux: true, remote: { address: rxAddress, port: args.rxPort + 2 * i } }
          : { latch: false, remote: { address: rxAddress, port: args.rxPort } },
      timeoutMs: 0,
    });
    if (args.mode === 'rtp-srtp' || args.mode === 'srtp-srtp') {
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
  process.stdout.write(
    `${JSON.stringify({ ports, rxKeys, srtpBackend: engine.info.srtpBackend, kernelPath: engine.info.kernelPath })}\n`,
  );
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() !== 'stats') return;
    const w = engine.workerStats()[0]!;
    process.stdout.write(
      `${JSON.stringify({ packetsIn: w.packetsIn, kernelInstalls: w.kernelInstalls, kernelRemovals: w.kernelRemovals, kernelRefusals: w.kernelRefusals })}\n`,
    );
  });
  lines.on('close', () => {
    void engine.close().then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stdout.write(`${JSON.stringify({ error: (err as Error).message })}\n`);
  process.exit(1);
});
