import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';

/** Does a certificate name (exact or `*.` one label deep) cover the host name a client asked for? */
export function nameCovers(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  if (p === h) return true;
  return p.startsWith('*.') && h.endsWith(p.slice(1)) && !h.slice(0, h.length - p.length + 1).includes('.');
}

export function dnsNames(certPem: string): string[] {
  return sanEntries(certPem, 'DNS:');
}

/** The IP addresses in a certificate's subjectAltName. */
export function ipAddressNames(certPem: string): string[] {
  return sanEntries(certPem, 'IP Address:');
}

function sanEntries(certPem: string, prefix: string): string[] {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  return san
    .split(/,\s*/)
    .filter((e) => e.startsWith(prefix))
    .map((e) => e.slice(prefix.length));
}

export type SniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;

/**
 * The certificate a public listener offers by SNI: the first of `domainCerts` whose names cover the name the
 * client asked for, else (undefined) the listener's own. HTTPS and XMPP listeners share it.
 */
export function sniCallback(domainCerts: ReadonlyArray<{ cert: string; key: string }>): SniCallback {
  const contexts: Array<{ names: string[]; ctx: SecureContext }> = domainCerts.map((c) => ({
    names: dnsNames(c.cert),
    ctx: createSecureContext({ cert: c.cert, key: c.key }),
  }));
  return (servername, cb) => cb(null, contexts.find((c) => c.names.some((n) => nameCovers(n, servername)))?.ctx);
}
