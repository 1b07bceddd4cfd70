import { readFileSync } from 'node:fs';
import type { Logger } from '../log/index.js';
import type { NodeConfig } from '../config/index.js';
import { validateNodeCertificate } from '../certs/index.js';
import type { TlsFiles } from '../traversal/index.js';

/** Problems that make a certificate unusable; the rest (e.g. a missing EKU) are the peer's to refuse. */
const FATAL = new Set(['unreadable', 'key-mismatch']);

/** Reads the node's certificate, key and CA, and says at start-up what is wrong with them. */
export function loadTls(cfg: NodeConfig, log: Logger): TlsFiles {
  const files = {
    cert: readFileSync(cfg.tls.cert_file, 'utf8'),
    key: readFileSync(cfg.tls.key_file, 'utf8'),
    ca: readFileSync(cfg.tls.ca_file, 'utf8'),
  };
  const problems = validateNodeCertificate({ certPem: files.cert, keyPem: files.key, caPem: files.ca });
  for (const p of problems) log.warn({ certificate: cfg.tls.cert_file, problem: p.code }, p.message);
  const fatal = problems.filter((p) => FATAL.has(p.code));
  if (fatal.length) throw new Error(`${cfg.tls.cert_file}: ${fatal.map((p) => p.message).join('; ')}`);
  return files;
}
