import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { XmppFramer } from './framing.js';
import { NS, streamHeader, type XmlElement } from './xml.js';

export interface ImpNode {
  address: string;
  port: number;
  /** Check the node's certificate against core's CA bundle and its name (the cluster's tls_verify). */
  tlsVerify: boolean;
}

/**
 * Opens core's connection to an IM and Presence node for one client stream: TCP, a stream header for the
 * client's domain, STARTTLS (required: the client's SASL credentials cross this hop), and the TLS handshake.
 * The stream is then ready for the client's own restarted stream header, which core relays as it came.
 */
export function connectImp(
  node: ImpNode,
  domain: string,
  ca: string,
  timeoutMs: number,
  localAddress?: string,
): Promise<TLSSocket> {
  return new Promise<TLSSocket>((resolve, reject) => {
    let current: Socket = tcpConnect({
      host: node.address,
      port: node.port,
      noDelay: true,
      ...(localAddress ? { localAddress } : {}),
    });
    const fail = (why: string) => {
      clearTimeout(timer);
      current.destroy();
      reject(new Error(`${node.address}:${node.port}: ${why}`));
    };
    const timer = setTimeout(() => fail(`no TLS stream within ${timeoutMs} ms`), timeoutMs);
    current.on('error', (err) => fail(err.message));
    current.on('close', () => fail('closed during STARTTLS'));
    const step = (el: XmlElement) => {
      if (el.is('features', NS.stream)) {
        if (!el.child('starttls', NS.tls)) return fail('the node offers no STARTTLS');
        return void current.write(`<starttls xmlns='${NS.tls}'/>`);
      }
      if (!el.is('proceed', NS.tls)) return fail(`STARTTLS refused (<${el.name}>)`);
      const plain = current;
      plain.removeAllListeners('data');
      plain.removeAllListeners('close');
      const tls = tlsConnect({
        socket: plain,
        ca,
        host: node.address,
        ...(isIP(node.address) ? {} : { servername: node.address }),
        rejectUnauthorized: node.tlsVerify,
        minVersion: 'TLSv1.2',
      });
      current = tls;
      tls.on('error', (err) => fail(`TLS: ${err.message}`));
      tls.once('secureConnect', () => {
        clearTimeout(timer);
        tls.removeAllListeners('error');
        plain.removeAllListeners('error');
        plain.on('error', () => {});
        resolve(tls);
      });
    };
    const framer = new XmppFramer({
      streamStart: () => {},
      element: step,
      streamEnd: () => fail('the node closed its stream'),
    });
    current.on('data', (chunk: Buffer) => {
      try {
        framer.write(chunk);
      } catch (err) {
        fail(`bad XML: ${(err as Error).message}`);
      }
    });
    current.once('connect', () => current.write(streamHeader({ to: domain })));
  });
}
