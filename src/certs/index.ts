// The certificates plane: a CA (the lab's PKI, src/lab/lab-pki.ts, is built on it), CSRs per node role, and
// the checks a node runs on its own certificate at start-up and on its traversal peer's after the handshake.
export type { KeyType, HashAlg } from './keys.js';
export { KEY_TYPES, HASH_ALGS } from './keys.js';
export { CertificateAuthority, type PemPair, type IssueOptions, type SigningOptions } from './authority.js';
export { validateNodeCertificate, checkPeerCertificate, type CertProblem, type CertProblemCode } from './validate.js';
export {
  createCsr,
  sansForRole,
  type RoleCertInputs,
  type EdgeCertInputs,
  type CoreCertInputs,
  type CsrOptions,
} from './csr.js';
export { nameCovers, dnsNames, ipAddressNames, sniCallback, type SniCallback } from './sni.js';
export { isHostname } from './names.js';
