// Remote clients given every edge of a cluster (as DNS SRV gives them), as a process in the internet namespace:
// client i connects to edge i mod n and registers; when its connection drops it connects to the next edge that
// answers and registers again at once (its one binding keeps its Contact: `contactHost`). stdout: JSON lines,
// {"event":"registered","user":"u3","edge":"198.18.1.2:5061","status":200} for every registration.
//   argv: caFile count edges(host:port,host:port)
import { readFileSync } from 'node:fs';
import { SipClient } from '../../../src/lab/sip-client.js';

const [caFile, count, list] = process.argv.slice(2) as [string, string, string];
const ca = readFileSync(caFile, 'utf8');
const edges = list
  .split(',')
  .map((e) => ({ host: e.slice(0, e.lastIndexOf(':')), port: Number(e.slice(e.lastIndexOf(':') + 1)) }));
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
let stopping = false;

async function run(i: number): Promise<void> {
  const user = `u${i}`;
  const client = new SipClient({
    host: edges[0]!.host,
    port: edges[0]!.port,
    ca,
    servername: 'edge.example.com',
    user,
    password: 'pw',
    domain: 'example.com',
    expiresS: 600,
    contactHost: `${user}.clients.invalid`,
  });
  let at = i % edges.length;
  const attach = async (): Promise<void> => {
    for (let tries = 0; !stopping; tries++) {
      const edge = edges[at]!;
      try {
        await client.connect(edge, () => {
          if (stopping) return;
          out({ event: 'lost', user, edge: `${edge.host}:${edge.port}` });
          at = (at + 1) % edges.length;
          void attach();
        });
        const r = await client.register();
        out({ event: 'registered', user, edge: `${edge.host}:${edge.port}`, status: r.status });
        return;
      } catch (err) {
        out({ event: 'connect-failed', user, edge: `${edge.host}:${edge.port}`, err: (err as Error).message });
        at = (at + 1) % edges.length;
        await new Promise((r) => setTimeout(r, Math.min(1000, 100 * (tries + 1))));
      }
    }
  };
  await attach();
}

for (let i = 0; i < Number(count); i++) void run(i);
process.stdin.resume();
process.stdin.on('end', () => {
  stopping = true;
  process.exit(0);
});
