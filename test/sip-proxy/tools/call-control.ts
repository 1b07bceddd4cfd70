// The lab call control as a process (for a namespace): JSON-line commands on stdin, results on stdout.
//   argv: address port   stdin: {"id":1,"aor":"alice@example.com","method":"OPTIONS","body":""}
import { createInterface } from 'node:readline';
import { createLogger } from '../../../src/log/index.js';
import { CallControl, LAB_SIP_USERS } from '../../../src/lab/call-control.js';

const [address = '127.0.0.1', port = '0'] = process.argv.slice(2);
const cc = await new CallControl({ address, port: Number(port), users: LAB_SIP_USERS, log: createLogger({ level: 'warn', destination: process.stderr }) }).start();
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
out({ event: 'listening', port: cc.ports.tcp });
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const cmd = JSON.parse(line) as { id: number; aor: string; method: string; body?: string };
  void cc.request(cmd.aor, cmd.method, cmd.body ?? '').then((r) => out({ id: cmd.id, ...r, bindings: cc.bindings.size }));
});
lines.on('close', () => void cc.close().then(() => process.exit(0)));
