// The inside server for bench:http in its own process (so its CPU is not the proxies'): the lab's UDS on HTTPS,
// the same handler `npm start` serves. Argument: JSON { cert, key, host }. Prints { port } and serves until
// stdin closes.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { labUdsHandler } from '../../src/lab/uds.js';
import { LabTokenIssuer } from '../../src/lab/tokens.js';

const args = JSON.parse(process.argv[2] ?? '{}') as { cert: string; key: string; host: string };
let port = 0;
const server = createServer(
  { cert: readFileSync(args.cert), key: readFileSync(args.key), keepAliveTimeout: 60_000 },
  labUdsHandler({ host: args.host, httpsPort: () => port, issuer: new LabTokenIssuer(`https://${args.host}`) }),
);
server.maxRequestsPerSocket = 0;
server.listen(0, '127.0.0.1', () => {
  port = (server.address() as AddressInfo).port;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
process.stdin.resume();
process.stdin.on('end', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
