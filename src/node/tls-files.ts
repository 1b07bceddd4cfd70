import { readFileSync } from 'node:fs';
import type { Logger } from '../log/index.js';
import type { CoreConfig, EdgeConfig } from '../config/index.js';

/** The roles with a certificate of their own (the relay's is ng.tls, read by its plane). */
type NodeConfig = EdgeConfig | CoreConfig;
import { validateNodeCertificate, type CertProblem } from '../certs/index.js';
import type { NodeContext, TlsFiles } from '../host/index.js';

/** Problems that make a certificate unusable; the rest (e.g. a missing EKU) are the peer's to refuse. */
const FATAL = new Set(['unreadable', 'key-mismatch']);
/** Certificates age while the node runs: near expiry must show up without a restart. */
const RECHECK_MS = 6 * 3_600_000;

/** A start-up problem; `scope` names a certificate other than the node's own (e.g. "domain_certs.0"). */
export type ScopedProblem = CertProblem & { scope?: string };

export interface LoadedTls extends TlsFiles {
  problems: ScopedProblem[];
  /** The same checks again, on the material the node holds in memory (what it serves), at `now`. */
  recheck(now?: Date): ScopedProblem[];
}

interface Held {
  cert: string;
  key: string;
  /** Where the configuration names it, and the message prefix with its file; absent for the node's own. */
  name?: string;
  field?: string;
  scope?: string;
  requiredNames: string[];
}

function check(held: readonly Held[], ca: string, now?: Date): ScopedProblem[] {
  return held.flatMap((h) =>
    validateNodeCertificate({ certPem: h.cert, keyPem: h.key, caPem: ca, requiredNames: h.requiredNames, now }).map(
      (p) => (h.field ? { ...p, message: `${h.field}: ${p.message}`, scope: h.scope } : p),
    ),
  );
}

/**
 * The edge's SNI domain certificates (http.domain_certs) get the node certificate's checks but the names: a
 * domain certificate is offered only to clients asking for a name it carries, so it needs none in particular.
 */
function readDomainCerts(cfg: NodeConfig): Held[] {
  if (cfg.role !== 'edge') return [];
  return cfg.http.domain_certs.map((d, i) => {
    const field = `http.domain_certs[${i}]`;
    try {
      return {
        cert: readFileSync(d.cert_file, 'utf8'),
        key: readFileSync(d.key_file, 'utf8'),
        name: field,
        field: `${field} (${d.cert_file})`,
        scope: `domain_certs.${i}`,
        requiredNames: [],
      };
    } catch (err) {
      throw new Error(`${field}: ${(err as Error).message}`);
    }
  });
}

/** Reads the node's certificate, key and CA, and says at start-up what is wrong with them. */
export function loadTls(cfg: NodeConfig, log: Logger): LoadedTls {
  const files = {
    cert: readFileSync(cfg.tls.cert_file, 'utf8'),
    key: readFileSync(cfg.tls.key_file, 'utf8'),
    ca: readFileSync(cfg.tls.ca_file, 'utf8'),
  };
  // The edge's public name is what clients connect to; without it in the SAN every sign-in fails.
  const requiredNames = cfg.role === 'edge' && cfg.http.public_name ? [cfg.http.public_name] : [];
  const own = check([{ cert: files.cert, key: files.key, requiredNames }], files.ca);
  for (const p of own) log.warn({ certificate: cfg.tls.cert_file, problem: p.code }, p.message);
  const fatal = own.filter((p) => FATAL.has(p.code));
  if (fatal.length) throw new Error(`${cfg.tls.cert_file}: ${fatal.map((p) => p.message).join('; ')}`);
  const held: Held[] = [{ cert: files.cert, key: files.key, requiredNames }, ...readDomainCerts(cfg)];
  const domains = held.slice(1).flatMap((h) => {
    const problems = check([h], files.ca);
    for (const p of problems) log.warn({ field: h.name, problem: p.code }, p.message);
    return problems;
  });
  const fatalDomain = domains.filter((p) => FATAL.has(p.code));
  if (fatalDomain.length) throw new Error(fatalDomain.map((p) => p.message).join('; '));
  return { ...files, problems: [...own, ...domains], recheck: (now) => check(held, files.ca, now) };
}

const alarmId = (p: ScopedProblem) => `certificate.${p.scope ? `${p.scope}.` : ''}${p.code}`;

/**
 * Each certificate problem is an alarm too ("certificate.<code>", or "certificate.<scope>.<code>" for a domain
 * certificate), so it stays visible after start-up logs scroll away.
 */
export function raiseCertificateAlarms(
  ctx: Pick<NodeContext<unknown>, 'alarm'>,
  problems: readonly ScopedProblem[],
): void {
  for (const p of problems) ctx.alarm(alarmId(p), p.code === 'near-expiry' ? 'warning' : 'error', p.message);
}

/**
 * Raises the start-up problems, then re-runs the checks every few hours while the node runs: a certificate
 * that comes within 30 days of expiry (or expires) raises its alarm without a restart.
 */
export function watchCertificates(
  ctx: Pick<NodeContext<unknown>, 'alarm' | 'clearAlarm' | 'onClose' | 'log'>,
  tls: Pick<LoadedTls, 'problems' | 'recheck'>,
  everyMs = RECHECK_MS,
): { recheck(now?: Date): void } {
  let raised = new Set(tls.problems.map(alarmId));
  raiseCertificateAlarms(ctx, tls.problems);
  const recheck = (now?: Date) => {
    const problems = tls.recheck(now);
    const ids = new Set(problems.map(alarmId));
    for (const id of raised) if (!ids.has(id)) ctx.clearAlarm(id);
    for (const p of problems) if (!raised.has(alarmId(p))) ctx.log.warn({ problem: p.code }, p.message);
    raiseCertificateAlarms(ctx, problems);
    raised = ids;
  };
  const timer = setInterval(() => recheck(), everyMs);
  timer.unref();
  ctx.onClose(() => clearInterval(timer));
  return { recheck };
}
