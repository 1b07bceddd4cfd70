// A tiny network probe run as a child process on one host of the topology, because in-process sockets
// cannot be moved into another namespace. It reports what happens as JSON lines on stdout and sends each
// line it reads on stdin; test/topology/probe.ts drives it.
//
//   tcp-listen ADDRESS [GREETING]    echo server; sends GREETING first so the listener's side speaks too
//   udp-listen ADDRESS               echoes each datagram
//   tcp-connect ADDRESS PORT MS      connects (gives up after MS), then relays stdin lines and reports data
//   udp-send ADDRESS PORT TEXT MS    sends TEXT, reports the reply or a timeout after MS
import { createServer, connect, isIP, type AddressInfo } from 'node:net';
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';

function report(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

function usage(message: string): never {
  process.stderr.write(
    `probe: ${message}\nusage: probe tcp-listen|udp-listen ADDRESS | tcp-connect ADDRESS PORT MS | udp-send ADDRESS PORT TEXT MS\n`,
  );
  process.exit(2);
}

function address(value: string | undefined): string {
  if (!value || isIP(value) === 0) usage(`${JSON.stringify(value)} is not an IP address`);
  return value;
}

function integer(value: string | undefined, what: string, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max)
    usage(`${what} ${JSON.stringify(value)} is not an integer in 1..${max}`);
  return n;
}

function tcpListen(host: string, greeting: string | undefined): void {
  const server = createServer((socket) => {
    report('accepted', { remote: socket.remoteAddress });
    socket.on('error', () => {}); // a peer reset must not end the listener
    if (greeting) socket.write(`${greeting}\n`);
    socket.pipe(socket);
  });
  server.on('error', (err: NodeJS.ErrnoException) => {
    report('error', { code: err.code ?? err.message });
    process.exit(1);
  });
  server.listen(0, host, () => report('listening', { port: (server.address() as AddressInfo).port }));
}

function udpListen(host: string): void {
  const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  socket.on('message', (msg, from) => {
    report('datagram', { remote: from.address, text: msg.toString() });
    socket.send(msg, from.port, from.address);
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    report('error', { code: err.code ?? err.message });
    process.exit(1);
  });
  socket.bind(0, host, () => report('listening', { port: socket.address().port }));
}

function tcpConnect(host: string, port: number, ms: number): void {
  const socket = connect({ host, port });
  // A dropped SYN is retried by the kernel for minutes; the test needs an answer in a bounded time.
  const timer = setTimeout(() => {
    report('timeout', { ms });
    process.exit(0);
  }, ms);
  socket.on('connect', () => {
    clearTimeout(timer);
    report('connected', { local: socket.localAddress });
    createInterface({ input: process.stdin }).on('line', (line) => socket.write(`${line}\n`));
  });
  socket.setEncoding('utf8').on('data', (text: string) => report('data', { text }));
  socket.on('error', (err: NodeJS.ErrnoException) => {
    clearTimeout(timer);
    report('error', { code: err.code ?? err.message });
    process.exit(0);
  });
  socket.on('close', () => {
    report('closed');
    process.exit(0);
  });
}

function udpSend(host: string, port: number, text: string, ms: number): void {
  const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  const timer = setTimeout(() => {
    report('timeout', { ms });
    process.exit(0);
  }, ms);
  socket.on('message', (msg) => {
    clearTimeout(timer);
    report('data', { text: msg.toString() });
    process.exit(0);
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    report('error', { code: err.code ?? err.message });
    process.exit(0);
  });
  socket.send(text, port, host);
}

const [mode, ...rest] = process.argv.slice(2);
switch (mode) {
  case 'tcp-listen':
    tcpListen(address(rest[0]), rest[1]);
    break;
  case 'udp-listen':
    udpListen(address(rest[0]));
    break;
  case 'tcp-connect':
    tcpConnect(address(rest[0]), integer(rest[1], 'port', 65535), integer(rest[2], 'timeout ms', 600_000));
    break;
  case 'udp-send':
    if (rest[2] === undefined) usage('udp-send needs the TEXT to send');
    udpSend(address(rest[0]), integer(rest[1], 'port', 65535), rest[2], integer(rest[3], 'timeout ms', 600_000));
    break;
  default:
    usage(`unknown mode ${JSON.stringify(mode)}`);
}
