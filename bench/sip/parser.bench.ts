// Parser micro-benchmark: our SIP parser against the least any parser must do (find the header end, split
// lines at CRLF and names at ':'), on a registration as a Jabber client sends it through the edge.
// Prints `RESULT bench:sip-parser ours=<msgs/s> reference=<msgs/s> ratio=<ours/reference>`.
// Run: npx tsc -p tsconfig.json && node dist/bench/sip/parser.bench.js
import { Bench } from 'tinybench';
import {
  addVia,
  decrementMaxForwards,
  parseMessage,
  removeTopVia,
  type SipRequest,
} from '../../src/sip/message/index.js';

const REGISTER = Buffer.from(
  [
    'REGISTER sip:example.com SIP/2.0',
    'Via: SIP/2.0/TLS 198.51.100.7:51234;branch=z9hG4bK4a7c0e1f8d2b9c63;rport',
    'Max-Forwards: 70',
    'From: "Alice Example" <sip:alice@example.com>;tag=7f3a9c21e04b',
    'To: <sip:alice@example.com>',
    'Call-ID: 0c1f6e7a-3b2d-4c8e-9f10-a1b2c3d4e5f6@198.51.100.7',
    'CSeq: 1042 REGISTER',
    'Contact: <sip:alice@198.51.100.7:51234;transport=tls>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1;expires=3600',
    'Supported: path, outbound, gruu',
    'Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, OPTIONS, REFER, MESSAGE, INFO, UPDATE',
    'User-Agent: Cisco-CSF/12.9.0',
    'Expires: 3600',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n'),
);

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** The floor: split the header section into [name, value] pairs, nothing checked, nothing structured. */
function baseline(buf: Buffer): Array<[string, string]> {
  const end = buf.indexOf(CRLFCRLF);
  const head = buf.toString('latin1', 0, end);
  const out: Array<[string, string]> = [];
  let pos = head.indexOf('\r\n') + 2;
  while (pos > 1 && pos < head.length) {
    let next = head.indexOf('\r\n', pos);
    if (next < 0) next = head.length;
    const colon = head.indexOf(':', pos);
    out.push([head.slice(pos, colon), head.slice(colon + 1, next).trim()]);
    pos = next + 2;
  }
  return out;
}

let sink = 0;
const bench = new Bench({ time: 1000, warmupTime: 200 });
bench
  .add('baseline: indexOf line split', () => {
    sink += baseline(REGISTER).length;
  })
  .add('ours: parseMessage (transaction headers checked)', () => {
    sink += parseMessage(REGISTER, { stream: true }).headers.length;
  })
  .add('ours: parse + Contact + serialize untouched', () => {
    const m = parseMessage(REGISTER, { stream: true });
    m.contacts();
    sink += m.serialize().length;
  })
  .add('ours: proxy hop (parse, add/remove Via, Max-Forwards, serialize)', () => {
    const m = parseMessage(REGISTER, { stream: true }) as SipRequest;
    decrementMaxForwards(m);
    addVia(m, {
      protocolName: 'SIP',
      protocolVersion: '2.0',
      transport: 'TLS',
      host: 'edge.example.com',
      port: 5061,
      params: [{ name: 'branch', value: 'z9hG4bKedge' }],
    });
    removeTopVia(m);
    sink += m.serialize().length;
  });

await bench.run();

const rows = bench.tasks.map((t) => {
  const r = t.result;
  const hz = r.state === 'completed' ? r.throughput.mean : 0;
  return { task: t.name, 'msgs/s': Math.round(hz), 'µs/msg': hz ? (1e6 / hz).toFixed(2) : '-' };
});
console.table(rows);
const ours = rows[1]!['msgs/s'];
const reference = rows[0]!['msgs/s'];
if (sink === 42) console.log('');
console.log(`RESULT bench:sip-parser ours=${ours} reference=${reference} ratio=${(ours / reference).toFixed(3)}`);
