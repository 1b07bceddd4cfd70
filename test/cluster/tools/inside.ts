// The lab call control for the cluster test, as a process in the inside namespace: users u0…u<n-1> (password "pw").
// stdin: {"id":1,"reach":["u0@example.com",…]} sends each an OPTIONS and answers {"id":1,"ok":n,"failed":[…]}.
//   argv: address port users
import { createInterface } from 'node:readline';
import { createLogger } from '../../../src/log/index.js';
import { CallControl } from '../../../src/lab/call-control.js';

const [address = '127.0.0.1', port = '0', count = '10'] = process.argv.slice(2);
const users = Object.fromEntries(Array.from({ length: Number(count) }, (_, i) => [`u${i}`, 'pw']));
const cc = await new CallControl({
  address,
  port: Number(port),
  users,
  log: createLogger({ level: 'warn', destination: process.stderr }),
}).start();
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
out({ event: 'listening', port: cc.ports.tcp });
createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line) as { id: number; reach: string[] };
  void Promise.all(cmd.reach.map(async (aor) => ({ aor, r: await cc.request(aor, 'OPTIONS', '') }))).then((all) => {
    const failed = all.filter((x) => x.r.status !== 200).map((x) => `${x.aor}: ${x.r.status} ${x.r.reason}`);
    out({ id: cmd.id, ok: all.length - failed.length, failed });
  });
});
process.stdin.on('end', () => process.exit(0));
