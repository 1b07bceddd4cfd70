// The lab call control for the cluster tests, as a process in the inside namespace: users u0…u<n-1> (password "pw"),
// and the desk phone (sip:desk@…): it answers an INVITE with plain RTP at an echo socket, which sends every packet back
// where it came from (core's inside leg), and a BYE with 200, reporting {"event":"bye","callId":…}.
// stdin: {"id":1,"reach":["u0@example.com",…]} sends each an OPTIONS and answers {"id":1,"ok":n,"failed":[…]}.
//   argv: address port users
import dgram from 'node:dgram';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { createLogger } from '../../../src/log/index.js';
import { CallControl } from '../../../src/lab/call-control.js';
import { Sdp } from '../../../src/sdp/index.js';

const [address = '127.0.0.1', port = '0', count = '10'] = process.argv.slice(2);
const users = Object.fromEntries(Array.from({ length: Number(count) }, (_, i) => [`u${i}`, 'pw']));
const cc = await new CallControl({
  address,
  port: Number(port),
  users,
  log: createLogger({ level: 'warn', destination: process.stderr }),
}).start();
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const echo = dgram.createSocket('udp4');
echo.bind(0, address);
await once(echo, 'listening');
echo.on('message', (data, from) => echo.send(data, from.port, from.address));
cc.phones.set('desk', (req) => {
  if (req.method === 'BYE') out({ event: 'bye', callId: req.callId() });
  if (req.method !== 'INVITE') return { status: 200 };
  const m = Sdp.parse(req.body).media[0]!;
  const body = `v=0\r\no=desk 1 1 IN IP4 ${address}\r\ns=-\r\nc=IN IP4 ${address}\r\nt=0 0\r\nm=audio ${echo.address().port} ${m.proto} ${m.formats.join(' ')}\r\na=sendrecv\r\n`;
  return { status: 200, body };
});
out({ event: 'listening', port: cc.ports.tcp });
createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line) as { id: number; reach: string[] };
  void Promise.all(cmd.reach.map(async (aor) => ({ aor, r: await cc.request(aor, 'OPTIONS', '') }))).then((all) => {
    const failed = all.filter((x) => x.r.status !== 200).map((x) => `${x.aor}: ${x.r.status} ${x.r.reason}`);
    out({ id: cmd.id, ok: all.length - failed.length, failed });
  });
});
process.stdin.on('end', () => process.exit(0));
