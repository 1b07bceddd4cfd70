// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect
// polyfill loaded before the library itself; ESM evaluates imports in order, so this file is the
// one place that pairs them. Every other file in the plane imports x509 from here.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
export const subtle = webcrypto.subtle;

// The project compiles without the DOM library, so WebCrypto's types come from node:crypto.
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
export type SigningAlgorithm = webcrypto.EcdsaParams | webcrypto.RsaHashedImportParams;
