// Runs our TURN server in its own process for the bench, so its CPU time and memory are its own: a media engine
// (one idle worker, no mux pairs) and the TURN server on one thread over it. Argument: JSON { port, portMin,
// portMax, secret, maxAllocations }. Prints one JSON line with the TURN port, then answers `stats` lines with the
// server's counters and the engine's port pairs in use, until stdin closes.
import { createInterface } from 'node:readline';
import { MediaEngine } from '../../src/media/index.js';
import { TurnServer } from '../../src/turn/index.js';

interface HostArgs {
  port: number;
  portMin: number;
  portMax: number;
  secret: string;
  maxAllocations: number;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as HostArgs;
  const engine = await MediaEngine.create({
    workers: 1,
    muxPairs: 0,
    bindAddress: '127.0.0.1',
    portMin: args.portMin,
    portMax: args.portMax,
    mediaTimeoutMs: 0,
  });
  const turn = TurnServer.start(engine, {
    address: '127.0.0.1',
    port: args.port,
    relayAddress: '127.0.0.1',
    realm: 'bench.example.com',
    secrets: [args.secret],
    maxAllocations: args.maxAllocations,
    threads: 1,
    allowPeers: ['127.0.0.0/8'],
  });
  process.stdout.write(`${JSON.stringify({ port: turn.ports.udp, io: turn.io })}\n`);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === 'stats')
      process.stdout.write(`${JSON.stringify({ ...turn.stats(), portPairsInUse: engine.dump().portPairsInUse })}\n`);
  });
  lines.on('close', () => {
    void turn
      .close()
      .then(() => engine.close())
      .then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stdout.write(`${JSON.stringify({ error: (err as Error).message })}\n`);
  process.exit(1);
});
