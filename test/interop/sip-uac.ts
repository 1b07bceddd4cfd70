import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { SipStreamFramer, parseMessage, SipResponse } from '../../src/sip/message/index.js';

/**
 * Sends one out-of-dialog request (OPTIONS, MESSAGE) over a fresh TCP connection, as another party inside
 * would, and resolves with the final response. Kamailio then routes it to the registered user.
 */
export async function sendOverTcp(opts: {
  host: string;
  port: number;
  method: 'OPTIONS' | 'MESSAGE';
  to: string;
  body?: string;
  timeoutMs?: number;
}): Promise<SipResponse> {
  const sock = connect({ host: opts.host, port: opts.port });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  try {
    const branch = `z9hG4bK${randomBytes(8).toString('hex')}`;
    const body = Buffer.from(opts.body ?? '');
    const head = [
      `${opts.method} ${opts.to} SIP/2.0`,
      `Via: SIP/2.0/TCP ${sock.localAddress}:${sock.localPort};branch=${branch}`,
      'Max-Forwards: 70',
      `From: <sip:inside-tester@${sock.localAddress}>;tag=${randomBytes(4).toString('hex')}`,
      `To: <${opts.to}>`,
      `Call-ID: ${randomBytes(8).toString('hex')}@interop`,
      `CSeq: 1 ${opts.method}`,
      ...(body.length ? ['Content-Type: text/plain'] : []),
      `Content-Length: ${body.length}`,
      '',
      '',
    ].join('\r\n');
    sock.write(Buffer.concat([Buffer.from(head), body]));
    const framer = new SipStreamFramer();
    return await new Promise<SipResponse>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no final response to ${opts.method} ${opts.to}`)),
        opts.timeoutMs ?? 10_000,
      );
      sock.on('data', (chunk: Buffer) => {
        for (const ev of framer.push(chunk)) {
          if (ev.kind !== 'message') continue;
          const msg = parseMessage(ev.data, { stream: true });
          if (msg instanceof SipResponse && msg.status >= 200) {
            clearTimeout(timer);
            resolve(msg);
          }
        }
      });
      sock.once('close', () => {
        clearTimeout(timer);
        reject(new Error(`connection closed before a final response to ${opts.method}`));
      });
    });
  } finally {
    sock.destroy();
  }
}
