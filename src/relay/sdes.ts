// SDES (RFC 4568) for the relay: the suites it offers, in rtpengine's order, the keys it makes, and the a=crypto it
// reads. The relay terminates SRTP on each side with keys of its own, so each side negotiates with it alone.
import { randomBytes } from 'node:crypto';
import { SRTP_SUITES, type SrtpKey, type SrtpSuite } from '../media/index.js';
import { parseCrypto, type SdpCrypto } from '../sdp/index.js';
import type { StreamDescription, StreamKey } from '../calls/index.js';
import type { SdesOptions } from './flags.js';

/** rtpengine's order (crypto.c), less what the engine cannot run (AES-192, F8, NULL). */
export const OFFER_ORDER: readonly SrtpSuite[] = [
  'AEAD_AES_256_GCM',
  'AEAD_AES_128_GCM',
  'AES_256_CM_HMAC_SHA1_80',
  'AES_256_CM_HMAC_SHA1_32',
  'AES_CM_128_HMAC_SHA1_80',
  'AES_CM_128_HMAC_SHA1_32',
];

export type UsableCrypto = SdpCrypto & { suite: SrtpSuite };
export const isSecure = (proto: string): boolean => /^RTP\/SAVP/.test(proto);

/** The a=crypto lines of a stream this relay can key: a suite the engine runs, a key of its length, no MKI. */
export function usableCrypto(s: StreamDescription, engineSuites: readonly string[]): UsableCrypto[] {
  return s.crypto
    .map((value, i) => parseCrypto(value, `m= line ${s.index + 1}, a=crypto ${i + 1}`))
    .filter((c): c is UsableCrypto => {
      const info = SRTP_SUITES[c.suite as SrtpSuite];
      return (
        info !== undefined &&
        engineSuites.includes(c.suite) &&
        c.keySalt.length === info.keySaltLength &&
        !c.unsupportedParams
      );
    });
}

/** The suites to offer a side: the offerer's first (in its order), then the rest of ours unless SDES-nonew. */
export function suitesToOffer(
  offered: readonly SrtpSuite[],
  engineSuites: readonly string[],
  o: SdesOptions,
): SrtpSuite[] {
  const ours = OFFER_ORDER.filter((s) => engineSuites.includes(s));
  const list = o.nonew && offered.length > 0 ? [...offered] : [...new Set([...offered, ...ours])];
  if (o.only) return list.filter((s) => o.only!.includes(s));
  return list.filter((s) => !o.no.has(s));
}

/** `have` again when it is of `suite` (a re-offer keeps its key: RFC 3711 §3.2, one context), else a new key. */
export function keyFor(suite: SrtpSuite, tag: number, have?: StreamKey): StreamKey {
  return have?.suite === suite
    ? { ...have, tag }
    : { suite, key: randomBytes(SRTP_SUITES[suite].keySaltLength).toString('base64'), tag };
}

/** The a=crypto value; rtpengine leaves base64 padding out unless asked (SDES-pad). */
export function cryptoLine(k: StreamKey, pad: boolean): string {
  const b64 = pad ? k.key : k.key.replace(/=+$/, '');
  return `${k.tag} ${k.suite} inline:${b64}`;
}

export const srtpKey = (k: StreamKey): SrtpKey => ({ suite: k.suite, key: k.key });
export const theirKey = (c: UsableCrypto): SrtpKey => ({ suite: c.suite, key: c.keySalt });
