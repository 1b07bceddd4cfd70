import { readFileSync } from 'node:fs';
import type { NodeConfig } from '../config/index.js';
import type { AdminTls } from '../admin/index.js';

/** The admin API's token and TLS material as the configuration names them (files read once, at start). */
export function adminSecurity(cfg: NodeConfig): { token?: string; tls?: AdminTls } {
  const a = cfg.admin;
  const token = a.token ?? (a.token_file ? readFileSync(a.token_file, 'utf8').trim() : undefined);
  const tls = a.tls
    ? {
        cert: readFileSync(a.tls.cert_file, 'utf8'),
        key: readFileSync(a.tls.key_file, 'utf8'),
        ...(a.tls.client_ca_file ? { clientCa: readFileSync(a.tls.client_ca_file, 'utf8') } : {}),
      }
    : undefined;
  return { ...(token ? { token } : {}), ...(tls ? { tls } : {}) };
}
