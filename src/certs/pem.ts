import { X509Certificate as NodeX509 } from 'node:crypto';
import { x509 } from './x509-lib.js';

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Both parsers over one certificate: node:crypto verifies and checks keys, @peculiar/x509 reads names. */
export interface ParsedCert {
  node: NodeX509;
  asn: InstanceType<typeof x509.X509Certificate>;
}

export function parseOne(input: string | Buffer): ParsedCert {
  return {
    node: new NodeX509(input),
    asn: new x509.X509Certificate(typeof input === 'string' ? input : new Uint8Array(input)),
  };
}

/**
 * Every certificate in a PEM bundle, in file order (a node's file may carry its chain after the leaf,
 * a CA file several roots). Throws when the text holds no certificate or a block does not parse.
 */
export function parseBundle(pem: string | Buffer): ParsedCert[] {
  if (Buffer.isBuffer(pem) && !pem.subarray(0, 64).toString('latin1').includes('-----BEGIN')) return [parseOne(pem)];
  const blocks = String(pem).match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) throw new TypeError('no PEM "BEGIN CERTIFICATE" block found');
  return blocks.map((b) => parseOne(b));
}

/** Shown in messages: the subject as people write it, e.g. CN=edge1.example.com. */
export function describe(c: ParsedCert): string {
  return c.asn.subject || '(empty subject)';
}
