import { connect } from 'node:tls';

/**
 * Sends exact bytes to the edge over TLS (HTTP/1.1) and returns what came back before the edge closed or the
 * time ran out: for requests no well-behaved client library would send.
 */
export function rawExchange(
  port: number,
  ca: string,
  bytes: string | Buffer,
  opts: { localAddress?: string; waitMs?: number } = {},
): Promise<{ text: string; status: number; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect({
      host: '127.0.0.1',
      port,
      ca,
      servername: 'edge.lab.example.com',
      ALPNProtocols: ['http/1.1'],
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
    let text = '';
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ text, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), closed });
    };
    const timer = setTimeout(finish, opts.waitMs ?? 3000);
    s.on('secureConnect', () => s.write(bytes));
    s.on('data', (d) => {
      text += d.toString('latin1');
      // One whole answer with a length is enough; the edge may keep the connection open.
      const m = /\r\n\r\n/.exec(text);
      const len = /content-length: (\d+)/i.exec(text);
      if (m && len && text.length >= m.index + 4 + Number(len[1])) finish();
    });
    s.on('close', () => {
      closed = true;
      finish();
    });
    s.on('error', (err) => (text ? undefined : reject(err)));
  });
}
