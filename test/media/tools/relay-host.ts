// A media engine on one host of the namespace topology (test/media/kernel-path.test.ts), because an engine in
// the test process cannot move into another namespace. Argument: the engine's options as JSON. Prints
// {"event":"ready","pid","info"} and then answers JSON-line commands on stdin, each answer carrying the command's
// `id`; relay events are printed as they come ({"event":"latched",...}). Exits when stdin closes.
//   {"id":1,"cmd":"create","relay":"r1","a":{...},"b":{...}}   -> {"id":1,"ports":{...}}
//   {"id":2,"cmd":"stats","relay":"r1"}                          -> {"id":2,"stats":{a,b}}
//   {"id":3,"cmd":"workers"}                                     -> {"id":3,"workers":[...]}
//   {"id":4,"cmd":"setRemote","relay":"r1","leg":"a","remote":{address,port}}
//   {"id":5,"cmd":"close","relay":"r1"}                          -> {"id":5} once the ports are free
import { createInterface } from 'node:readline';
import { MediaEngine, type LegOptions, type MediaEngineOptions } from '../../../src/media/index.js';

interface Command {
  id: number;
  cmd: string;
  relay?: string;
  a?: LegOptions;
  b?: LegOptions;
  leg?: 'a' | 'b';
  remote?: { address: string; port: number };
}

const say = (o: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as MediaEngineOptions;
  const engine = await MediaEngine.create(opts);
  say({ event: 'ready', pid: process.pid, info: engine.info });
  const lines = createInterface({ input: process.stdin });
  lines.on(
    'line',
    (line) =>
      void handle(JSON.parse(line) as Command).catch((err: unknown) => {
        say({ id: (JSON.parse(line) as Command).id, error: (err as Error).message });
      }),
  );
  lines.on('close', () => void engine.close().then(() => process.exit(0)));

  async function handle(c: Command): Promise<void> {
    const relay = c.relay === undefined ? undefined : engine.getRelay(c.relay);
    switch (c.cmd) {
      case 'create': {
        const r = engine.createRelay({ id: c.relay!, a: c.a ?? {}, b: c.b ?? {} });
        r.on('latched', (e) => say({ event: 'latched', relay: r.id, ...e }));
        r.on('timeout', (e) => say({ event: 'timeout', relay: r.id, ...e }));
        return say({ id: c.id, ports: r.ports });
      }
      case 'stats':
        return say({ id: c.id, stats: relay!.stats() });
      case 'workers':
        return say({ id: c.id, workers: engine.workerStats() });
      case 'setRemote':
        relay!.setRemote(c.leg!, c.remote!);
        return say({ id: c.id });
      case 'close':
        await relay!.close();
        return say({ id: c.id });
      default:
        throw new TypeError(`unknown command ${c.cmd}`);
    }
  }
}

main().catch((err: unknown) => {
  say({ event: 'failed', error: (err as Error).message });
  process.exit(1);
});
