// RTP endpoints on one host of the namespace topology (test/media/kernel-path.test.ts): named UDP sockets that
// send numbered RTP and count what arrives, by source and by payload fill byte (so a test can tell a spoofer's
// packets from the real ones). Argument: the host's address. JSON-line commands on stdin, answers with their id:
//   {"id":1,"cmd":"open","name":"c1"}                                   -> {"id":1,"port":N}
//   {"id":2,"cmd":"send","name":"c1","to":{address,port},"ssrc":S,"seq":Q,"count":N,"gapMs":G,"fill":F,"skip":[...]}
//   {"id":3,"cmd":"received","name":"c1"}                               -> {"id":3,"count","sources","fills","maxSeq"}
//   {"id":4,"cmd":"close","name":"c1"}
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { rtpPacket } from '../../../src/lab/rtp-packet.js';

interface Command {
  id: number;
  cmd: string;
  name: string;
  to?: { address: string; port: number };
  ssrc?: number;
  seq?: number;
  count?: number;
  gapMs?: number;
  fill?: number;
  size?: number;
  skip?: number[];
}

interface Endpoint {
  socket: Socket;
  count: number;
  sources: Record<string, number>;
  fills: Record<string, number>;
}

const say = (o: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};
const address = process.argv[2] ?? '127.0.0.1';
const endpoints = new Map<string, Endpoint>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function handle(c: Command): Promise<void> {
  switch (c.cmd) {
    case 'open': {
      const socket = createSocket('udp4');
      const ep: Endpoint = { socket, count: 0, sources: {}, fills: {} };
      socket.on('message', (data, from) => {
        ep.count++;
        const src = `${from.address}:${from.port}`;
        ep.sources[src] = (ep.sources[src] ?? 0) + 1;
        const fill = String(data.length > 12 ? data[12] : -1);
        ep.fills[fill] = (ep.fills[fill] ?? 0) + 1;
      });
      socket.bind(0, address);
      await once(socket, 'listening');
      endpoints.set(c.name, ep);
      return say({ id: c.id, port: socket.address().port });
    }
    case 'send': {
      const ep = endpoints.get(c.name)!;
      const skip = new Set(c.skip ?? []);
      let sent = 0;
      for (let i = 0; i < (c.count ?? 1); i++) {
        const seq = ((c.seq ?? 0) + i) & 0xffff;
        if (skip.has(seq)) continue;
        const packet = rtpPacket(seq, c.ssrc ?? 1, { size: c.size ?? 172, fill: c.fill ?? 0xd5 });
        await new Promise<void>((resolve, reject) =>
          ep.socket.send(packet, c.to!.port, c.to!.address, (e) => (e ? reject(e) : resolve())),
        );
        sent++;
        if (c.gapMs) await sleep(c.gapMs);
      }
      return say({ id: c.id, sent });
    }
    case 'received': {
      const ep = endpoints.get(c.name)!;
      return say({ id: c.id, count: ep.count, sources: ep.sources, fills: ep.fills });
    }
    case 'close':
      endpoints.get(c.name)?.socket.close();
      endpoints.delete(c.name);
      return say({ id: c.id });
    default:
      throw new TypeError(`unknown command ${c.cmd}`);
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const c = JSON.parse(line) as Command;
  handle(c).catch((err: unknown) => say({ id: c.id, error: (err as Error).message }));
});
lines.on('close', () => process.exit(0));
say({ event: 'ready' });
