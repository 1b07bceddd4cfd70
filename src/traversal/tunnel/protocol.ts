/**
 * What the two ends of a tunnel agree on besides its framing (mux-frames.ts). The edge adds `x-mra-*` headers (after
 * stripping any a client sent), and core marks refusals so the edge's intrusion protection can count them.
 */
export const MRA_HEADER_PREFIX = 'x-mra-';
export const VERDICT_HEADER = 'x-mra-verdict';
export const MAINTENANCE_HEADER = 'x-mra-maintenance';

/** What core said about a refused request, so intrusion protection can count it without reading bodies. */
export type Verdict = 'auth-failed' | 'not-allowed' | 'rate-limited' | undefined;

/** RFC 9110 §7.6.1 connection-specific fields: meaningful on one hop only, never sent through the tunnel. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'proxy-authorization',
  'proxy-authenticate',
]);

/** The edge's public face, as core needs it for the edge-config answer. */
export interface EdgeIdentity {
  node: string;
  address: string;
  sipTlsPort: number;
  httpsPort: number;
  xmppPort: number;
}

export function encodeIdentity(id: EdgeIdentity): string {
  return Buffer.from(JSON.stringify(id)).toString('base64url');
}

export function decodeIdentity(text: string | string[] | undefined): EdgeIdentity | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const v = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as EdgeIdentity;
    return typeof v.address === 'string' && typeof v.node === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}
