// A remote client as a process (for the internet namespace): registers (answering the challenge), refreshes
// once, then reports every request the inside sends it, until stdin closes.
//   argv: host port caFile user password domain
import { readFileSync } from 'node:fs';
import { SipClient } from '../../../src/lab/sip-client.js';

const [host, port, caFile, user, password, domain] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
];
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const client = new SipClient({
  host,
  port: Number(port),
  ca: readFileSync(caFile, 'utf8'),
  user,
  password,
  domain,
  expiresS: 600,
});
client.onRequest((req) => out({ event: 'request', method: req.method, body: req.body.toString('utf8') }));
try {
  await client.connect();
  const first = await client.register();
  out({
    event: 'registered',
    status: first.status,
    challenged: client.challenged,
    path: first.response?.header('path') ?? null,
  });
  const refresh = await client.register();
  out({ event: 'refreshed', status: refresh.status, challenged: client.challenged });
} catch (err) {
  out({ event: 'error', message: (err as Error).message });
}
process.stdin.resume();
process.stdin.on('end', () => {
  client.close();
  process.exit(0);
});
