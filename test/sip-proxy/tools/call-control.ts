// The lab call control as a process (for a namespace), with a desk phone on the same host: JSON-line commands
// on stdin, results on stdout. {"id":1,"aor":"alice@example.com","method":"OPTIONS","body":""} sends a request;
// {"id":1,"call":"alice@example.com"} INVITEs with plain RTP/AVP at the phone's socket; {"id":2,"send":10} sends
// that many G.711-sized RTP packets to the answer's address; {"id":3,"bye":true} hangs up. stdout: results, and
// {"event":"rtp","count":n,"from":"addr:port"} for every packet the phone receives.
//   argv: address port
import dgram from 'node:dgram';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { createLogger } from '../../../src/log/index.js';
import { CallControl, LAB_SIP_USERS, type Dialog } from '../../../src/lab/call-control.js';
import { Sdp } from '../../../src/sdp/index.js';
import { rtpPacket } from '../../../src/lab/rtp-packet.js';

const [address = '127.0.0.1', port = '0'] = process.argv.slice(2);
const cc = await new CallControl({
  address,
  port: Number(port),
  users: LAB_SIP_USERS,
  log: createLogger({ level: 'warn', destination: process.stderr }),
}).start();
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const socket = dgram.createSocket('udp4');
socket.bind(0, address);
await once(socket, 'listening');
let received = 0;
socket.on('message', (_data, from) => out({ event: 'rtp', count: ++received, from: `${from.address}:${from.port}` }));
let call: { aor: string; dialog: Dialog; to: { address: string; port: number } } | undefined;
let seq = 1;
const rtp = () => rtpPacket(seq++, 0x0de5c000, { fill: 0xff });
out({ event: 'listening', port: cc.ports.tcp });
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const cmd = JSON.parse(line) as {
    id: number;
    aor?: string;
    method?: string;
    body?: string;
    call?: string;
    send?: number;
    bye?: boolean;
  };
  if (cmd.aor && cmd.method) {
    void cc
      .request(cmd.aor, cmd.method, cmd.body ?? '')
      .then((r) => out({ id: cmd.id, ...r, body: undefined, bindings: cc.bindings.size }));
  } else if (cmd.call) {
    const offer = `v=0\r\no=desk 1 1 IN IP4 ${address}\r\ns=-\r\nc=IN IP4 ${address}\r\nt=0 0\r\nm=audio ${socket.address().port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;
    void cc.request(cmd.call, 'INVITE', offer, 'application/sdp').then((r) => {
      const m = r.body?.length ? Sdp.parse(r.body).media[0] : undefined;
      if (r.dialog && m) call = { aor: cmd.call!, dialog: r.dialog, to: { address: m.address, port: m.port } };
      out({ id: cmd.id, status: r.status, reason: r.reason, answer: r.body?.toString('utf8') ?? '' });
    });
  } else if (cmd.send && call) {
    for (let i = 0; i < cmd.send; i++) socket.send(rtp(), call.to.port, call.to.address);
    out({ id: cmd.id, sent: cmd.send });
  } else if (cmd.bye && call) {
    void cc
      .request(call.aor, 'BYE', '', 'text/plain', 5000, [], call.dialog)
      .then((r) => out({ id: cmd.id, status: r.status }));
  }
});
lines.on('close', () => void cc.close().then(() => process.exit(0)));
