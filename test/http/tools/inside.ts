// The lab's inside HTTP servers as one process for the namespace test: UDS (with IM&P's EPASSoap and the OAuth
// issuer) and voicemail over HTTPS, TFTP files over HTTP, on ephemeral ports of the given address.
// Arguments: address certFile keyFile domain. Prints {"event":"listening","ports":{...}}; stops when stdin ends.
import { readFileSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { labUdsHandler } from '../../../src/lab/uds.js';
import { labTftpHandler } from '../../../src/lab/tftp.js';
import { labVoicemailHandler } from '../../../src/lab/voicemail.js';
import { LabTokenIssuer } from '../../../src/lab/tokens.js';

const [address = '127.0.0.1', certFile = '', keyFile = '', domain = 'example.com'] = process.argv.slice(2);
const tls = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
const ports = { uds: 0, tftp: 0, voicemail: 0 };
// Every request line, so the test can show what reached the inside.
const seen =
  (h: (req: IncomingMessage, res: ServerResponse) => void, name: string) =>
  (req: IncomingMessage, res: ServerResponse) => {
    process.stdout.write(
      `${JSON.stringify({ event: 'request', server: name, method: req.method, target: req.url })}\n`,
    );
    h(req, res);
  };
const servers = [
  [
    'uds',
    createHttps(
      tls,
      seen(
        labUdsHandler({ host: address, httpsPort: () => ports.uds, issuer: new LabTokenIssuer(`https://${address}`) }),
        'uds',
      ),
    ),
  ],
  ['tftp', createHttp(seen(labTftpHandler({ callControlHost: address, domain }), 'tftp'))],
  ['voicemail', createHttps(tls, seen(labVoicemailHandler(), 'voicemail'))],
] as const;
await Promise.all(
  servers.map(
    ([name, s]) =>
      new Promise<void>((r) => s.listen(0, address, () => ((ports[name] = (s.address() as AddressInfo).port), r()))),
  ),
);
process.stdout.write(`${JSON.stringify({ event: 'listening', ports })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  for (const [, s] of servers) s.closeAllConnections();
  Promise.all(servers.map(([, s]) => new Promise((r) => s.close(r)))).then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
