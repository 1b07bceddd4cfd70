// Two SIP elements joined by a real TCP connection (port 0), each with its own transaction layer: what the
// transaction tests drive. Messages are framed, parsed and serialized exactly as a transport would.
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import {
  SipRequest,
  SipStreamFramer,
  fields,
  generateBranch,
  parseMessage,
  type SipMessage,
} from '../../src/sip/message/index.js';
import {
  TransactionLayer,
  type Send,
  type TransactionLayerOptions,
  type TransactionUser,
} from '../support/sip-transaction/index.js';

export interface Element {
  layer: TransactionLayer;
  socket: Socket;
  send: Send;
  /** every message this element received, in order (for asserting on the wire). */
  received: SipMessage[];
}

export interface Pair {
  server: Element;
  client: Element;
  close(): Promise<void>;
}

function attach(socket: Socket, layer: TransactionLayer, received: SipMessage[]): Send {
  const send: Send = (msg) => {
    if (socket.destroyed) throw new Error('connection closed');
    socket.write(msg.serialize());
  };
  const framer = new SipStreamFramer();
  socket.on('data', (chunk: Buffer) => {
    for (const ev of framer.push(chunk)) {
      if (ev.kind !== 'message') continue;
      const msg = parseMessage(ev.data, { stream: true });
      received.push(msg);
      if (msg instanceof SipRequest) layer.receiveRequest(msg, send);
      else layer.receiveResponse(msg);
    }
  });
  socket.on('error', () => {});
  return send;
}

export async function pair(
  serverUser: TransactionUser,
  options: { server?: TransactionLayerOptions; client?: TransactionLayerOptions; clientUser?: TransactionUser } = {},
): Promise<Pair> {
  const server: Server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const clientSocket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(clientSocket, 'connect');
  const [serverSocket] = await accepted;
  const serverLayer = new TransactionLayer(serverUser, options.server);
  const clientLayer = new TransactionLayer(options.clientUser ?? { onRequest: () => {} }, options.client);
  const s: Element = { layer: serverLayer, socket: serverSocket, send: () => {}, received: [] };
  const c: Element = { layer: clientLayer, socket: clientSocket, send: () => {}, received: [] };
  s.send = attach(serverSocket, serverLayer, s.received);
  c.send = attach(clientSocket, clientLayer, c.received);
  return {
    server: s,
    client: c,
    async close() {
      serverLayer.close();
      clientLayer.close();
      clientSocket.destroy();
      serverSocket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export function request(method: string, options: { branch?: string; cseq?: number; callId?: string } = {}): SipRequest {
  const body = Buffer.alloc(0);
  return new SipRequest(
    method,
    'sip:bob@example.com',
    fields([
      ['Via', `SIP/2.0/TCP 127.0.0.1:5060;branch=${options.branch ?? generateBranch()}`],
      ['Max-Forwards', '70'],
      ['From', '<sip:alice@example.com>;tag=a1'],
      ['To', '<sip:bob@example.com>'],
      ['Call-ID', options.callId ?? `call-${Math.random().toString(36).slice(2)}`],
      ['CSeq', `${options.cseq ?? 1} ${method}`],
      ['Content-Length', '0'],
    ]),
    body,
  );
}

/** Resolves when cond() holds, polling on the event loop; rejects after ms so a broken test cannot hang. */
export async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
