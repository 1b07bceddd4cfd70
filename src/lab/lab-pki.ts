import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CertificateAuthority, isHostname, validateNodeCertificate } from '../certs/index.js';

export interface LabNodeFiles {
  certFile: string;
  keyFile: string;
  /** False when the certificate was (re)issued by this call. */
  reused: boolean;
}

export interface LabPki {
  ca: CertificateAuthority;
  caFile: string;
  node(name: string, dnsNames: string[], ipAddresses?: string[]): Promise<LabNodeFiles>;
}

const CA_NAME = 'mra-edge lab CA';
const CA_DAYS = 3650;
const NODE_DAYS = 397;
// Renewing this long before the end keeps the lab clear of its own near-expiry alarm.
const RENEW_DAYS = 30;
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Write-then-rename, so a node starting beside us never reads half a key. */
async function writeAtomically(file: string, body: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, body, { mode: 0o600 });
  await rename(tmp, file);
}

async function loadOrCreateCa(caFile: string, caKeyFile: string): Promise<CertificateAuthority> {
  const [cert, key] = await Promise.all([readIfPresent(caFile), readIfPresent(caKeyFile)]);
  if (cert !== undefined && key !== undefined) {
    const stale = validateNodeCertificate({ certPem: cert, keyPem: key, nearExpiryDays: RENEW_DAYS }).filter(
      (p) =>
        p.code === 'unreadable' ||
        p.code === 'key-mismatch' ||
        p.code === 'expired' ||
        p.code === 'not-yet-valid' ||
        p.code === 'near-expiry',
    );
    if (stale.length === 0) {
      try {
        return await CertificateAuthority.load({ cert, key });
      } catch {
        // Not a CA after all (a stray file): a new one replaces it, and every node certificate follows.
      }
    }
  }
  const ca = await CertificateAuthority.create({ commonName: CA_NAME, days: CA_DAYS });
  await writeAtomically(caKeyFile, ca.key);
  await writeAtomically(caFile, ca.cert);
  return ca;
}

/**
 * Lab PKI kept in a directory: a CA made on first use, then one certificate per node name, reused
 * while present, trusted by that CA, valid beyond the renewal window and covering the names asked for.
 * Files: ca.pem, ca-key.pem, <name>.pem, <name>-key.pem (keys are 0600).
 */
export async function labPki(dir: string): Promise<LabPki> {
  if (typeof dir !== 'string' || dir === '') throw new TypeError('labPki needs a directory path');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caFile = join(dir, 'ca.pem');
  const ca = await loadOrCreateCa(caFile, join(dir, 'ca-key.pem'));
  // Two callers asking for the same node at once must not both issue and race on the files.
  const pending = new Map<string, Promise<LabNodeFiles>>();

  async function ensureNode(name: string, dnsNames: string[], ipAddresses: string[]): Promise<LabNodeFiles> {
    const certFile = join(dir, `${name}.pem`);
    const keyFile = join(dir, `${name}-key.pem`);
    const [certPem, keyPem] = await Promise.all([readIfPresent(certFile), readIfPresent(keyFile)]);
    if (certPem !== undefined && keyPem !== undefined) {
      const problems = validateNodeCertificate({
        certPem,
        keyPem,
        caPem: ca.cert,
        requiredNames: [...dnsNames, ...ipAddresses],
        nearExpiryDays: RENEW_DAYS,
      });
      if (problems.length === 0) return { certFile, keyFile, reused: true };
    }
    const commonName = dnsNames[0] ?? (isHostname(name) ? name : `${name}.lab`);
    const pair = await ca.issue({ commonName, dnsNames, ipAddresses, days: NODE_DAYS });
    await writeAtomically(keyFile, pair.key);
    await writeAtomically(certFile, pair.cert);
    return { certFile, keyFile, reused: false };
  }

  return {
    ca,
    caFile,
    node(name, dnsNames, ipAddresses = []) {
      if (typeof name !== 'string' || !FILE_NAME.test(name)) {
        return Promise.reject(
          new TypeError(`lab node name "${String(name)}" must be letters, digits, '.', '_' or '-' (it names a file)`),
        );
      }
      if (!Array.isArray(dnsNames) || !Array.isArray(ipAddresses)) {
        return Promise.reject(new TypeError('dnsNames and ipAddresses must be arrays of names'));
      }
      const run = (pending.get(name) ?? Promise.resolve())
        .catch(() => undefined)
        .then(() => ensureNode(name, dnsNames, ipAddresses));
      pending.set(name, run);
      return run;
    },
  };
}
