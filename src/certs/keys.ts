import { createPrivateKey, type KeyObject } from 'node:crypto';
import { subtle, type CryptoKey, type CryptoKeyPair, type SigningAlgorithm } from './x509-lib.js';
import type { webcrypto } from 'node:crypto';

export type KeyType = 'ecdsa-p256' | 'rsa-2048' | 'rsa-4096';
export type HashAlg = 'SHA-256' | 'SHA-384' | 'SHA-512';

export const KEY_TYPES: readonly KeyType[] = ['ecdsa-p256', 'rsa-2048', 'rsa-4096'];
export const HASH_ALGS: readonly HashAlg[] = ['SHA-256', 'SHA-384', 'SHA-512'];

/** What a WebCrypto key needs to know to sign: for RSA the hash is bound to the key itself. */
type KeyFamily = { kind: 'ec'; namedCurve: 'P-256' | 'P-384' } | { kind: 'rsa'; modulusLength: number };

const FAMILIES = {
  'ecdsa-p256': { kind: 'ec', namedCurve: 'P-256' },
  'rsa-2048': { kind: 'rsa', modulusLength: 2048 },
  'rsa-4096': { kind: 'rsa', modulusLength: 4096 },
} as const satisfies Record<KeyType, KeyFamily>;

export function assertKeyType(k: unknown): asserts k is KeyType {
  if (!KEY_TYPES.includes(k as KeyType))
    throw new TypeError(`key type must be one of ${KEY_TYPES.join(', ')}; got ${String(k)}`);
}

export function assertHash(h: unknown): asserts h is HashAlg {
  if (!HASH_ALGS.includes(h as HashAlg))
    throw new TypeError(`hash must be one of ${HASH_ALGS.join(', ')}; got ${String(h)}`);
}

function importParams(f: KeyFamily, hash: HashAlg): webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams {
  return f.kind === 'ec' ? { name: 'ECDSA', namedCurve: f.namedCurve } : { name: 'RSASSA-PKCS1-v1_5', hash };
}

/** The algorithm handed to @peculiar/x509 for the signature (and its OID in the certificate). */
export function signingAlgorithm(key: CryptoKey, hash: HashAlg): SigningAlgorithm {
  return key.algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash } : { name: 'RSASSA-PKCS1-v1_5', hash };
}

export async function generateKeyPair(type: KeyType = 'ecdsa-p256', hash: HashAlg = 'SHA-256'): Promise<CryptoKeyPair> {
  assertKeyType(type);
  assertHash(hash);
  const f: KeyFamily = FAMILIES[type];
  const params =
    f.kind === 'ec'
      ? { name: 'ECDSA', namedCurve: f.namedCurve }
      : { name: 'RSASSA-PKCS1-v1_5', modulusLength: f.modulusLength, publicExponent: new Uint8Array([1, 0, 1]), hash };
  return (await subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair;
}

export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
}

function familyOf(k: KeyObject): KeyFamily {
  const d = k.asymmetricKeyDetails ?? {};
  if (k.asymmetricKeyType === 'rsa') return { kind: 'rsa', modulusLength: d.modulusLength ?? 0 };
  if (k.asymmetricKeyType === 'ec' && d.namedCurve === 'prime256v1') return { kind: 'ec', namedCurve: 'P-256' };
  if (k.asymmetricKeyType === 'ec' && d.namedCurve === 'secp384r1') return { kind: 'ec', namedCurve: 'P-384' };
  throw new TypeError(
    `unsupported private key (${k.asymmetricKeyType ?? 'unknown'} ${d.namedCurve ?? ''}): use ECDSA P-256/P-384 or RSA`,
  );
}

/**
 * A PEM private key (PKCS#8, SEC1 or PKCS#1) as a WebCrypto signing key. Keys from elsewhere come in
 * any of those forms; node:crypto reads them all and hands WebCrypto the PKCS#8 it insists on.
 */
export async function importSigningKey(pem: string, hash: HashAlg): Promise<CryptoKey> {
  let obj: KeyObject;
  try {
    obj = createPrivateKey(pem);
  } catch (err) {
    throw new TypeError(`private key is not a readable unencrypted PEM key: ${(err as Error).message}`);
  }
  const der = obj.export({ type: 'pkcs8', format: 'der' });
  return subtle.importKey('pkcs8', der, importParams(familyOf(obj), hash), false, ['sign']);
}
