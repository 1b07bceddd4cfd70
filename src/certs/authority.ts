import { createPrivateKey, randomBytes } from 'node:crypto';
import { x509, type CryptoKey } from './x509-lib.js';
import { parseBundle, type ParsedCert } from './pem.js';
import {
  assertHash,
  generateKeyPair,
  importSigningKey,
  privateKeyToPem,
  signingAlgorithm,
  type HashAlg,
  type KeyType,
} from './keys.js';
import { assertSanName, isHostname, isIpAddress, readSans, sanExtension, uniqueNames } from './names.js';

export interface PemPair {
  cert: string;
  key: string;
}

/** Validity and signature choices shared by a freshly keyed certificate and one signed from a CSR. */
export interface SigningOptions {
  /** Each Expressway is both TLS client and server, so both EKUs are on unless asked otherwise. */
  serverAuth?: boolean;
  clientAuth?: boolean;
  notBefore?: Date;
  notAfter?: Date;
  /** Validity from notBefore when notAfter is not given; default 365. */
  days?: number;
  hash?: HashAlg;
}

export interface IssueOptions extends SigningOptions {
  commonName: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  keyType?: KeyType;
}

const DAY_MS = 86_400_000;
// Back-dating absorbs clock skew between the node that issues and the peer that checks.
const SKEW_MS = 5 * 60_000;

function serialNumber(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01; // positive and without a leading zero byte, as RFC 5280 §4.1.2.2 asks
  return b.toString('hex');
}

function validity(o: SigningOptions, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const days = o.days ?? defaultDays;
  if (!Number.isFinite(days) || days <= 0) throw new TypeError(`days must be a positive number; got ${String(o.days)}`);
  const notBefore = o.notBefore ?? new Date(Date.now() - SKEW_MS);
  const notAfter = o.notAfter ?? new Date(notBefore.getTime() + days * DAY_MS);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime()))
    throw new TypeError('notBefore/notAfter must be valid dates');
  if (notAfter <= notBefore)
    throw new TypeError(`notAfter (${notAfter.toISOString()}) must be after notBefore (${notBefore.toISOString()})`);
  return { notBefore, notAfter };
}

const CA_EXTENSIONS = () => [
  new x509.BasicConstraintsExtension(true, undefined, true),
  new x509.KeyUsagesExtension(
    x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
    true,
  ),
];

function leafExtensions(names: string[], opts: SigningOptions, isRsa: boolean): x509.Extension[] {
  const usages = [
    ...((opts.serverAuth ?? true) ? [x509.ExtendedKeyUsage.serverAuth] : []),
    ...((opts.clientAuth ?? true) ? [x509.ExtendedKeyUsage.clientAuth] : []),
  ];
  // RSA key exchange needs keyEncipherment; ECDHE with an ECDSA key needs only signatures.
  const keyUsage = x509.KeyUsageFlags.digitalSignature | (isRsa ? x509.KeyUsageFlags.keyEncipherment : 0);
  const out: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(keyUsage, true),
  ];
  if (usages.length) out.push(new x509.ExtendedKeyUsageExtension(usages, false));
  if (names.length) out.push(sanExtension(names));
  return out;
}

function assertCommonName(cn: unknown): asserts cn is string {
  if (typeof cn !== 'string' || cn.trim() === '' || cn.length > 64)
    throw new TypeError('commonName must be 1 to 64 characters');
}

/** A CA that issues the nodes' certificates: the lab's own, or an operator's loaded from PEM. */
export class CertificateAuthority {
  readonly cert: string;
  readonly key: string;
  readonly #caCert: InstanceType<typeof x509.X509Certificate>;
  readonly #signers = new Map<HashAlg, Promise<CryptoKey>>();
  /** Empty for a root; for an intermediate, its certificate and those above it, sent after each leaf. */
  readonly #chain: string;

  private constructor(pair: PemPair, caCert: InstanceType<typeof x509.X509Certificate>, chain = '') {
    this.cert = pair.cert;
    this.key = pair.key;
    this.#caCert = caCert;
    this.#chain = chain;
  }

  static async create(opts: {
    commonName: string;
    days?: number;
    keyType?: KeyType;
    hash?: HashAlg;
  }): Promise<CertificateAuthority> {
    assertCommonName(opts.commonName);
    const hash = opts.hash ?? 'SHA-256';
    const keys = await generateKeyPair(opts.keyType, hash);
    const { notBefore, notAfter } = validity({ days: opts.days }, 3650);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serialNumber(),
      name: [{ CN: [opts.commonName] }],
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: signingAlgorithm(keys.privateKey, hash),
      extensions: [...CA_EXTENSIONS(), await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)],
    });
    return new CertificateAuthority(
      { cert: `${cert.toString('pem')}\n`, key: await privateKeyToPem(keys.privateKey) },
      cert,
    );
  }

  /** pair.cert may be a bundle: the CA first, then the certificates above it up to (not needing) the root. */
  static async load(pair: PemPair): Promise<CertificateAuthority> {
    let bundle: ParsedCert[];
    try {
      bundle = parseBundle(pair.cert);
    } catch (err) {
      throw new TypeError(`CA certificate is not a readable PEM certificate: ${(err as Error).message}`);
    }
    const { node, asn } = bundle[0]!;
    if (!node.ca) throw new TypeError(`"${asn.subject}" is not a CA certificate (basicConstraints CA:FALSE or absent)`);
    let matches: boolean;
    try {
      matches = node.checkPrivateKey(createPrivateKey(pair.key));
    } catch (err) {
      throw new TypeError(`CA private key is not a readable unencrypted PEM key: ${(err as Error).message}`);
    }
    if (!matches) throw new TypeError(`CA private key does not belong to the CA certificate "${asn.subject}"`);
    const selfSigned = node.checkIssued(node);
    const chain = selfSigned ? '' : bundle.map((c) => `${c.asn.toString('pem')}\n`).join('');
    return new CertificateAuthority(pair, asn, chain);
  }

  /** Subject of the CA, e.g. "CN=mra-edge lab CA". */
  get subject(): string {
    return this.#caCert.subject;
  }

  /** Issues a new key and a certificate for it (a node's server/client certificate or an SNI domain one). */
  async issue(opts: IssueOptions): Promise<PemPair> {
    assertCommonName(opts?.commonName);
    const hash = opts.hash ?? 'SHA-256';
    assertHash(hash);
    for (const n of opts.dnsNames ?? []) assertSanName(n, 'dnsNames');
    for (const n of opts.ipAddresses ?? []) {
      if (typeof n !== 'string' || !isIpAddress(n))
        throw new TypeError(`ipAddresses: "${String(n)}" is not an IP address`);
    }
    // RFC 6125 clients read only the SAN, so the CN goes there too when it is a host name.
    const cnAsName = isHostname(opts.commonName) ? [opts.commonName] : [];
    const names = uniqueNames([...cnAsName, ...(opts.dnsNames ?? []), ...(opts.ipAddresses ?? [])]);
    const keys = await generateKeyPair(opts.keyType, hash);
    const extensions = leafExtensions(names, opts, keys.publicKey.algorithm.name !== 'ECDSA');
    const cert = await this.#sign([{ CN: [opts.commonName] }], keys.publicKey, opts, extensions);
    return { cert, key: await privateKeyToPem(keys.privateKey) };
  }

  /** Signs a PKCS#10 request, keeping its subject and SANs; the EKUs are the CA's decision, not the CSR's. */
  async signCsr(csrPem: string, opts: SigningOptions = {}): Promise<string> {
    let csr: InstanceType<typeof x509.Pkcs10CertificateRequest>;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch (err) {
      throw new TypeError(`CSR is not a readable PEM certificate request: ${(err as Error).message}`);
    }
    if (!(await csr.verify())) throw new TypeError(`CSR for "${csr.subject}" has a bad signature`);
    const sans = readSans(csr);
    const extensions = leafExtensions([...sans.dns, ...sans.ip], opts, csr.publicKey.algorithm.name !== 'ECDSA');
    return this.#sign(csr.subjectName, csr.publicKey, opts, extensions);
  }

  /** A subordinate CA signed by this one, for sites (and tests) whose node certificates come from an intermediate. */
  async issueIntermediate(opts: {
    commonName: string;
    days?: number;
    keyType?: KeyType;
    hash?: HashAlg;
  }): Promise<CertificateAuthority> {
    assertCommonName(opts?.commonName);
    const keys = await generateKeyPair(opts.keyType, opts.hash ?? 'SHA-256');
    const cert = await this.#sign(
      [{ CN: [opts.commonName] }],
      keys.publicKey,
      { days: opts.days ?? 1825, hash: opts.hash },
      CA_EXTENSIONS(),
    );
    return CertificateAuthority.load({ cert, key: await privateKeyToPem(keys.privateKey) });
  }

  async #sign(
    subject: x509.JsonName | x509.Name,
    publicKey: x509.PublicKeyType,
    opts: SigningOptions,
    extensions: x509.Extension[],
  ): Promise<string> {
    const hash = opts.hash ?? 'SHA-256';
    assertHash(hash);
    const { notBefore, notAfter } = validity(opts, 365);
    extensions = [
      ...extensions,
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(this.#caCert.publicKey),
    ];
    const signingKey = await this.#signer(hash);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serialNumber(),
      subject,
      issuer: this.#caCert.subjectName,
      notBefore,
      notAfter,
      publicKey,
      signingKey,
      signingAlgorithm: signingAlgorithm(signingKey, hash),
      extensions,
    });
    // TLS peers need the intermediates to reach their root, so they travel in the same file.
    return `${cert.toString('pem')}\n${this.#chain}`;
  }

  #signer(hash: HashAlg): Promise<CryptoKey> {
    let k = this.#signers.get(hash);
    if (!k) {
      k = importSigningKey(this.key, hash);
      this.#signers.set(hash, k);
    }
    return k;
  }
}
