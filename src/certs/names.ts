import { isIP } from 'node:net';
import { x509 } from './x509-lib.js';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/** A DNS host name: letters, digits and hyphens per label, no label starting or ending in a hyphen. */
export function isHostname(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((l) => LABEL.test(l));
}

/**
 * Expressway's FQDN rule (X12.6 refuses a CSR otherwise): at least two labels and the last one
 * starts with a letter, so a bare profile name or an IP address is not taken for an FQDN.
 */
export function isFqdn(name: string): boolean {
  const labels = name.split('.');
  return labels.length >= 2 && isHostname(name) && /^[a-z]/i.test(labels[labels.length - 1] ?? '');
}

export function isIpAddress(name: string): boolean {
  return isIP(name) !== 0;
}

/**
 * One spelling per name so comparisons are exact: DNS is case-insensitive and may carry a root dot;
 * IPv6 has many textual forms, and the WHATWG URL parser reduces them to the compressed one.
 */
export function canonicalName(name: string): string {
  const n = name.trim().replace(/\.$/, '').toLowerCase();
  if (isIP(n) === 6) return new URL(`http://[${n}]/`).hostname.slice(1, -1);
  return n;
}

/** Keeps the first spelling of each name, in order: the first SAN is the one people read. */
export function uniqueNames(names: Iterable<string>): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of names) {
    const n = raw.trim().replace(/\.$/, '');
    const key = canonicalName(n);
    if (n === '' || seen.has(key)) continue;
    seen.add(key);
    out.push(n);
  }
  return out;
}

/** Checks each name before it goes into a certificate, so a typo is an error, not a silent SAN. */
export function assertSanName(name: string, what: string): void {
  if (typeof name !== 'string' || !(isIpAddress(name) || isHostname(name.replace(/\.$/, '')))) {
    throw new TypeError(`${what}: "${String(name)}" is neither a DNS host name nor an IP address`);
  }
}

export function sanExtension(names: string[]): InstanceType<typeof x509.SubjectAlternativeNameExtension> {
  const entries = names.map((n) => ({ type: isIpAddress(n) ? ('ip' as const) : ('dns' as const), value: n }));
  return new x509.SubjectAlternativeNameExtension(entries, false);
}

export interface SanEntries {
  dns: string[];
  ip: string[];
}

const SAN_OID = '2.5.29.17';

/** The dNSName and iPAddress entries of a certificate's or CSR's SAN, in canonical spelling. */
export function readSans(item: { extensions: ReadonlyArray<{ type: string; rawData: ArrayBuffer }> }): SanEntries {
  // A CSR hands back generic extensions, so the SAN is re-read from its DER either way.
  const raw = item.extensions.find((e) => e.type === SAN_OID);
  const out: SanEntries = { dns: [], ip: [] };
  if (!raw) return out;
  for (const g of new x509.SubjectAlternativeNameExtension(raw.rawData).names.toJSON()) {
    if (g.type === 'dns') out.dns.push(canonicalName(g.value));
    else if (g.type === 'ip') out.ip.push(canonicalName(g.value));
  }
  return out;
}

/** Exact match only: the seeds forbid wildcard certificates, so "*.example.com" covers nothing. */
export function sansCover(sans: SanEntries, name: string): boolean {
  const n = canonicalName(name);
  return isIpAddress(n) ? sans.ip.includes(n) : sans.dns.includes(n);
}
