import { writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createCsr, KEY_TYPES, HASH_ALGS, type HashAlg, type KeyType, type RoleCertInputs } from '../certs/index.js';
import { loadConfig } from '../config/index.js';

/** `mra-edge csr` options as commander hands them over (repeatable options arrive as arrays). */
export interface CsrCommandOptions {
  role: string;
  fqdn: string;
  alias: string[];
  registrationDomain: string[];
  collabEdge?: boolean;
  xmppDomain: string[];
  chatAlias: string[];
  clusterName?: string;
  phoneProfile: string[];
  ip: string[];
  domainsFrom?: string;
  keyType: string;
  hash: string;
  outDir: string;
  force?: boolean;
}

/** Registration and federation domains as core's configuration flags them, so the edge's SANs match it. */
function domainsFromCore(file: string): { registration: string[]; xmpp: string[] } {
  const cfg = loadConfig(file);
  if (cfg.role !== 'core')
    throw new TypeError(`--domains-from ${file}: is a ${cfg.role} configuration; the domains live in core's`);
  return {
    registration: cfg.domains.filter((d) => d.sip_registrations).map((d) => d.name),
    xmpp: cfg.domains.filter((d) => d.xmpp_federation).map((d) => d.name),
  };
}

export function csrInputs(o: CsrCommandOptions): RoleCertInputs {
  if (o.role === 'edge') {
    const fromCore = o.domainsFrom ? domainsFromCore(o.domainsFrom) : { registration: [], xmpp: [] };
    return {
      role: 'edge',
      fqdn: o.fqdn,
      aliases: o.alias,
      registrationDomains: [...o.registrationDomain, ...fromCore.registration],
      registrationDomainFormat: o.collabEdge ? 'collab-edge' : 'dns',
      xmppFederationDomains: [...o.xmppDomain, ...fromCore.xmpp],
      chatNodeAliases: o.chatAlias,
      ipAddresses: o.ip,
    };
  }
  if (o.role === 'core') {
    return {
      role: 'core',
      fqdn: o.fqdn,
      clusterName: o.clusterName,
      phoneSecurityProfiles: o.phoneProfile,
      chatNodeAliases: o.chatAlias,
      ipAddresses: o.ip,
    };
  }
  throw new TypeError(`--role must be "edge" or "core"; got "${o.role}"`);
}

/** Writes <fqdn>.key (mode 0600) and <fqdn>.csr; refuses to overwrite a key unless --force. Returns what it wrote. */
export async function writeCsr(o: CsrCommandOptions): Promise<{ keyFile: string; csrFile: string; sans: string[] }> {
  if (!KEY_TYPES.includes(o.keyType as KeyType))
    throw new TypeError(`--key-type must be one of ${KEY_TYPES.join(', ')}; got "${o.keyType}"`);
  if (!HASH_ALGS.includes(o.hash as HashAlg))
    throw new TypeError(`--hash must be one of ${HASH_ALGS.join(', ')}; got "${o.hash}"`);
  const inputs = csrInputs(o);
  const base = join(resolve(o.outDir), inputs.fqdn);
  const keyFile = `${base}.key`;
  const csrFile = `${base}.csr`;
  if (existsSync(keyFile) && !o.force)
    throw new TypeError(`${keyFile} exists; a new CSR needs a new key (use --force to replace it)`);
  const r = await createCsr({ ...inputs, keyType: o.keyType as KeyType, hash: o.hash as HashAlg });
  writeFileSync(keyFile, r.key, { mode: 0o600 });
  writeFileSync(csrFile, r.csr);
  return { keyFile, csrFile, sans: r.sans };
}
