import { x509 } from './x509-lib.js';
import { assertHash, generateKeyPair, privateKeyToPem, signingAlgorithm, type HashAlg, type KeyType } from './keys.js';
import { assertSanName, isFqdn, isHostname, isIpAddress, sanExtension, uniqueNames } from './names.js';

/** What the edge's certificate must name (seeds: "Expressway-E SAN details"). */
export interface EdgeCertInputs {
  role: 'edge';
  /** This peer's FQDN: System host name + Domain name. */
  fqdn: string;
  /** The cluster FQDN and every other alias FQDN of this edge. */
  aliases?: string[];
  /** Unified CM registration domains, i.e. the service-discovery domains remote clients sign in with. */
  registrationDomains?: string[];
  /** 'collab-edge' (Expressway's CollabEdgeDNS) names collab-edge.<domain>, keeping the bare domain out. */
  registrationDomainFormat?: 'dns' | 'collab-edge';
  /** XMPP federation domains, in DNS form (never XMPPAddress: CAs may not support it). */
  xmppFederationDomains?: string[];
  /** IM&P chat node aliases, needed on both nodes for federated group chat over TLS. */
  chatNodeAliases?: string[];
  /** Only when the core dials the edge by address; an FQDN is better. */
  ipAddresses?: string[];
}

/** What the core's certificate must name (seeds: "Expressway-C SAN details"). */
export interface CoreCertInputs {
  role: 'core';
  fqdn: string;
  /** The core cluster's name: also the edge's "TLS verify subject name" for the traversal link. */
  clusterName?: string;
  /**
   * Unified CM phone security profile names in FQDN form (encrypted profiles without OAuth): the core
   * presents its certificate to Unified CM on behalf of remote endpoints and Unified CM matches them.
   */
  phoneSecurityProfiles?: string[];
  chatNodeAliases?: string[];
  ipAddresses?: string[];
}

export type RoleCertInputs = EdgeCertInputs | CoreCertInputs;

export interface CsrOptions {
  /** Default: the fqdn. */
  commonName?: string;
  keyType?: KeyType;
  hash?: HashAlg;
}

function names(
  list: string[] | undefined,
  what: string,
  check: (n: string) => void = (n) => assertSanName(n, what),
): string[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new TypeError(`${what} must be a list of names`);
  for (const n of list) check(n);
  return list;
}

function fqdnOnly(what: string, why: string) {
  return (n: string) => {
    if (typeof n !== 'string' || !isFqdn(n.replace(/\.$/, '')))
      throw new TypeError(`${what}: "${String(n)}" must be an FQDN (e.g. name.example.com); ${why}`);
  };
}

/** Private domains (e.g. corp.local) never reach a public CA and no outside client asks for them. */
const isPrivateDomain = (d: string) => /\.local\.?$/i.test(d) || /^local\.?$/i.test(d);

function edgeSans(i: EdgeCertInputs): string[] {
  const format = i.registrationDomainFormat ?? 'dns';
  if (format !== 'dns' && format !== 'collab-edge')
    throw new TypeError(`registrationDomainFormat must be "dns" or "collab-edge"; got ${String(format)}`);
  const domains = names(i.registrationDomains, 'registrationDomains', (n) => {
    if (typeof n !== 'string' || !isHostname(n.replace(/\.$/, '')))
      throw new TypeError(`registrationDomains: "${String(n)}" is not a domain name`);
  }).filter((d) => !isPrivateDomain(d));
  return [
    ...names(i.aliases, 'aliases'),
    ...domains.map((d) => (format === 'collab-edge' ? `collab-edge.${d}` : d)),
    ...names(i.xmppFederationDomains, 'xmppFederationDomains'),
    ...names(i.chatNodeAliases, 'chatNodeAliases'),
  ];
}

function coreSans(i: CoreCertInputs): string[] {
  const profileRule = 'Expressway X12.6 and later refuse bare phone security profile names';
  return [
    ...names(i.clusterName === undefined ? undefined : [i.clusterName], 'clusterName'),
    ...names(i.phoneSecurityProfiles, 'phoneSecurityProfiles', fqdnOnly('phoneSecurityProfiles', profileRule)),
    ...names(i.chatNodeAliases, 'chatNodeAliases'),
  ];
}

/**
 * The SAN list a role's configuration needs, this peer's FQDN first, duplicates removed. Pure; throws a
 * TypeError naming the field when an input is not a usable name. Also the list to pass as
 * `requiredNames` when validating the certificate that came back from the CA.
 */
export function sansForRole(inputs: RoleCertInputs): string[] {
  if (inputs?.role !== 'edge' && inputs?.role !== 'core')
    throw new TypeError(
      `role must be "edge" or "core"; got ${String((inputs as { role?: unknown } | undefined)?.role)}`,
    );
  fqdnOnly('fqdn', 'it is the name peers and clients connect to')(inputs.fqdn);
  const roleNames = inputs.role === 'edge' ? edgeSans(inputs) : coreSans(inputs);
  const ips = names(inputs.ipAddresses, 'ipAddresses', (n) => {
    if (typeof n !== 'string' || !isIpAddress(n))
      throw new TypeError(`ipAddresses: "${String(n)}" is not an IP address`);
  });
  return uniqueNames([inputs.fqdn, ...roleNames, ...ips]);
}

/**
 * A new key and a PKCS#10 request for one node (one per peer: a CSR's key belongs to that peer only),
 * asking for the SANs of its role and both TLS EKUs, as Expressway's CSR generator does.
 */
export async function createCsr(
  opts: RoleCertInputs & CsrOptions,
): Promise<{ csr: string; key: string; sans: string[] }> {
  const sans = sansForRole(opts);
  const commonName = opts.commonName ?? opts.fqdn;
  if (typeof commonName !== 'string' || commonName.trim() === '' || commonName.length > 64)
    throw new TypeError('commonName must be 1 to 64 characters');
  const hash = opts.hash ?? 'SHA-256';
  assertHash(hash);
  const keys = await generateKeyPair(opts.keyType, hash);
  const isRsa = keys.publicKey.algorithm.name !== 'ECDSA';
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [commonName] }],
    keys,
    signingAlgorithm: signingAlgorithm(keys.privateKey, hash),
    extensions: [
      sanExtension(sans),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | (isRsa ? x509.KeyUsageFlags.keyEncipherment : 0),
        true,
      ),
    ],
  });
  return { csr: `${csr.toString('pem')}\n`, key: await privateKeyToPem(keys.privateKey), sans };
}
