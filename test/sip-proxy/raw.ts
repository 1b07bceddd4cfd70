// A bare TLS connection to the edge for bad-input tests: writes bytes as given, reads answers as they come.
import { connect, type TLSSocket } from 'node:tls';

export interface RawConnection {
  socket: TLSSocket;
  /** Resolves with the next whole response's status line and text, or 'closed' if the edge hung up. */
  next(timeoutMs?: number): Promise<{ status: number; text: string } | 'closed'>;
  closed: Promise<void>;
  send(data: string | Buffer): void;
  close(): void;
}

export function rawConnect(port: number, ca: string): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca }, () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      let buf = '';
      let waiter: (() => void) | null = null;
      let ended = false;
      socket.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        waiter?.();
      });
      const closed = new Promise<void>((r) =>
        socket.once('close', () => {
          ended = true;
          waiter?.();
          r();
        }),
      );
      const take = () => {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return null;
        const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + len) return null;
        const text = buf.slice(0, end + 4 + len);
        buf = buf.slice(end + 4 + len);
        return { status: Number(text.split(' ')[1]), text };
      };
      resolve({
        socket,
        closed,
        send: (data) => socket.write(data),
        close: () => socket.destroy(),
        next(timeoutMs = 5000) {
          return new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
            const check = () => {
              const got = take();
              if (got || ended) {
                clearTimeout(timer);
                waiter = null;
                res(got ?? 'closed');
              }
            };
            waiter = check;
            check();
          });
        },
      });
    });
    socket.once('error', reject);
  });
}

/** A REGISTER as bytes, with fields to override or add; Content-Length follows the body. */
export function register(
  opts: { domain?: string; user?: string; maxForwards?: number; extra?: string[]; body?: string; branch?: string } = {},
): string {
  const domain = opts.domain ?? 'example.com';
  const user = opts.user ?? 'alice';
  const body = opts.body ?? '';
  return [
    `REGISTER sip:${domain} SIP/2.0`,
    `Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK${opts.branch ?? Math.random().toString(36).slice(2)}`,
    `Max-Forwards: ${opts.maxForwards ?? 70}`,
    `From: <sip:${user}@${domain}>;tag=abc`,
    `To: <sip:${user}@${domain}>`,
    `Call-ID: ${Math.random().toString(36).slice(2)}@192.0.2.10`,
    'CSeq: 1 REGISTER',
    `Contact: <sip:${user}@192.0.2.10:5061;transport=tls>`,
    'Expires: 600',
    ...(opts.extra ?? []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}
