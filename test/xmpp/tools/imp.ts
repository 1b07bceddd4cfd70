// The lab's IM and Presence (XMPP, STARTTLS) as one process for the namespace test, on an ephemeral port of
// the given address. Arguments: address certFile keyFile domain. Prints {"event":"listening","port":n};
// stops when stdin ends.
import { readFileSync } from 'node:fs';
import { LabImp } from '../../../src/lab/index.js';
import { createLogger } from '../../../src/log/index.js';

const [address = '127.0.0.1', certFile = '', keyFile = '', domain = 'example.com'] = process.argv.slice(2);
const imp = await new LabImp({
  address,
  port: 0,
  tls: { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') },
  domain,
  log: createLogger({ level: 'silent', node: 'imp' }),
}).start();
process.stdout.write(`${JSON.stringify({ event: 'listening', port: imp.port })}\n`);
process.stdin.resume();
process.stdin.on('end', () => void imp.close().then(() => process.exit(0)));
