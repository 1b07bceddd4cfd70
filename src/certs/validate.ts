import { createPrivateKey, type KeyObject } from 'node:crypto';
import { describe, parseBundle, parseOne, type ParsedCert } from './pem.js';
import { canonicalName, readSans, sansCover } from './names.js';

export type CertProblemCode =
  | 'unreadable'
  | 'key-mismatch'
  | 'expired'
  | 'not-yet-valid'
  | 'missing-server-auth'
  | 'missing-client-auth'
  | 'san-missing'
  | 'chain-untrusted'
  | 'near-expiry';

/** One thing wrong with a certificate, with a message that says what and how to fix it. */
export interface CertProblem {
  code: CertProblemCode;
  message: string;
}

const DAY_MS = 86_400_000;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EKU = '2.5.29.37.0';
// A chain longer than this is a loop or a mistake, not a PKI.
const MAX_DEPTH = 8;

const problem = (code: CertProblemCode, message: string): CertProblem => ({ code, message });
const day = (d: Date) => d.toISOString().slice(0, 10);

function validityProblems(c: ParsedCert, now: Date, nearExpiryDays?: number): CertProblem[] {
  const from = new Date(c.node.validFrom);
  const to = new Date(c.node.validTo);
  const who = describe(c);
  if (now < from)
    return [
      problem(
        'not-yet-valid',
        `certificate ${who} is not valid until ${from.toISOString()}; check this machine's clock (NTP) or reissue it`,
      ),
    ];
  if (now > to) return [problem('expired', `certificate ${who} expired on ${day(to)}; issue a new one`)];
  if (nearExpiryDays !== undefined && to.getTime() - now.getTime() < nearExpiryDays * DAY_MS) {
    const left = Math.floor((to.getTime() - now.getTime()) / DAY_MS);
    return [
      problem('near-expiry', `certificate ${who} expires on ${day(to)} (${left} days left); renew it before then`),
    ];
  }
  return [];
}

/**
 * The seeds require each EKU to be present, not merely "not forbidden": Expressway refuses a server
 * certificate without clientAuth even though TLS stacks accept a certificate with no EKU at all.
 */
function ekuProblems(c: ParsedCert, serverAuth: boolean, clientAuth: boolean): CertProblem[] {
  const ekus = c.node.keyUsage ?? [];
  const has = (oid: string) => ekus.includes(oid) || ekus.includes(ANY_EKU);
  const out: CertProblem[] = [];
  if (serverAuth && !has(SERVER_AUTH)) {
    out.push(
      problem(
        'missing-server-auth',
        `certificate ${describe(c)} lacks the serverAuth (TLS Web Server Authentication) extended key usage; reissue it with both serverAuth and clientAuth`,
      ),
    );
  }
  if (clientAuth && !has(CLIENT_AUTH)) {
    out.push(
      problem(
        'missing-client-auth',
        `certificate ${describe(c)} lacks the clientAuth (TLS Web Client Authentication) extended key usage, which the traversal link needs; reissue it with both serverAuth and clientAuth and make sure the CA does not strip it`,
      ),
    );
  }
  return out;
}

function issuedBy(child: ParsedCert, parent: ParsedCert): boolean {
  try {
    return child.node.checkIssued(parent.node) && child.node.verify(parent.node.publicKey);
  } catch {
    return false;
  }
}

/** Walks leaf → intermediates (from the node's own file) → a trust anchor from the CA file. */
function chainProblem(chain: ParsedCert[], anchors: ParsedCert[], now: Date): CertProblem | undefined {
  let current = chain[0]!;
  const rest = chain.slice(1);
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const anchor = anchors.find((a) => issuedBy(current, a));
    if (anchor) {
      const [stale] = validityProblems(anchor, now);
      return stale
        ? problem(
            'chain-untrusted',
            `the CA ${describe(anchor)} that signs this certificate is not valid now: ${stale.message}`,
          )
        : undefined;
    }
    const next = rest.find((i) => i !== current && issuedBy(current, i));
    if (!next) break;
    current = next;
  }
  return problem(
    'chain-untrusted',
    `certificate ${describe(chain[0]!)} (issuer ${chain[0]!.asn.issuer}) does not chain to any CA in the trusted CA file (${anchors.map(describe).join(', ')}); add its issuing CA there or reissue it from a trusted CA`,
  );
}

/** Start-up validation of a node's own certificate. Each failure is a named problem, never a throw. */
export function validateNodeCertificate(opts: {
  certPem: string;
  keyPem: string;
  caPem?: string;
  requiredNames?: string[];
  now?: Date;
  nearExpiryDays?: number;
}): CertProblem[] {
  const now = opts.now ?? new Date();
  let chain: ParsedCert[];
  try {
    chain = parseBundle(opts.certPem);
  } catch (err) {
    return [problem('unreadable', `certificate is not a readable PEM certificate: ${(err as Error).message}`)];
  }
  const leaf = chain[0]!;
  const out: CertProblem[] = [];
  let key: KeyObject | undefined;
  try {
    key = createPrivateKey(opts.keyPem);
  } catch (err) {
    out.push(
      problem(
        'unreadable',
        `private key is not a readable unencrypted PEM key (password-protected keys are not supported): ${(err as Error).message}`,
      ),
    );
  }
  if (key && !leaf.node.checkPrivateKey(key)) {
    out.push(
      problem(
        'key-mismatch',
        `private key does not belong to certificate ${describe(leaf)}; use the key generated with its CSR (each peer has its own)`,
      ),
    );
  }
  out.push(...validityProblems(leaf, now, opts.nearExpiryDays ?? 30));
  out.push(...ekuProblems(leaf, true, true));
  const sans = readSans(leaf.asn);
  const missing = (opts.requiredNames ?? []).filter((n) => !sansCover(sans, n));
  if (missing.length) {
    out.push(
      problem(
        'san-missing',
        `certificate ${describe(leaf)} has no SAN entry for ${missing.join(', ')} (SAN: ${[...sans.dns, ...sans.ip].join(', ') || 'none'}); reissue it with these names`,
      ),
    );
  }
  if (opts.caPem !== undefined) {
    let anchors: ParsedCert[] | undefined;
    try {
      anchors = parseBundle(opts.caPem);
    } catch (err) {
      out.push(problem('unreadable', `trusted CA file is not readable: ${(err as Error).message}`));
    }
    const p = anchors && chainProblem(chain, anchors, now);
    if (p) out.push(p);
  }
  return out;
}

/**
 * Checks a TLS peer's certificate after the handshake (e.g. core presenting itself to the edge on the
 * traversal link). Trust is the TLS stack's job; this adds what Expressway adds on top of it.
 * Near expiry is left out: it is the peer's alarm to raise, not a reason to refuse it.
 */
export function checkPeerCertificate(opts: {
  certPem: string | Buffer;
  /** Must be one of the SAN dNSNames or the CN: Expressway's "TLS verify subject name". */
  subjectName: string;
  requireClientAuth: boolean;
  requireServerAuth?: boolean;
  now?: Date;
}): CertProblem[] {
  let c: ParsedCert;
  try {
    c = typeof opts.certPem === 'string' ? parseBundle(opts.certPem)[0]! : parseOne(opts.certPem);
  } catch (err) {
    return [problem('unreadable', `peer certificate is not readable: ${(err as Error).message}`)];
  }
  const out = [
    ...validityProblems(c, opts.now ?? new Date()),
    ...ekuProblems(c, opts.requireServerAuth ?? false, opts.requireClientAuth),
  ];
  const want = canonicalName(opts.subjectName ?? '');
  const sans = readSans(c.asn);
  const cns = c.asn.subjectName.getField('CN').map(canonicalName);
  if (want === '' || !(sansCover(sans, want) || cns.includes(want))) {
    out.push(
      problem(
        'san-missing',
        `peer certificate ${describe(c)} does not carry the TLS verify subject name "${opts.subjectName}" in its SAN or CN (SAN: ${sans.dns.join(', ') || 'none'}); reissue it with that name, or correct the subject name`,
      ),
    );
  }
  return out;
}
