import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { NodeConfig } from '../config/index.js';

/** Where a command finds a node's admin API and how it proves itself there. */
export interface AdminTarget {
  url: URL;
  token?: string;
  /** Trusted CAs for an HTTPS admin API (the node's own CA file and admin certificate, with -c). */
  ca?: string[];
  /** SHA-256 fingerprint of the admin certificate the node's configuration names: with -c, that certificate and no other. */
  pin?: string;
  cert?: string;
  key?: string;
  /** How the target was chosen, for error messages ("from core.yaml", "--url", "the default"). */
  from: string;
}

/** The admin API could not be asked at all (exit 2), as opposed to an answer that says no. */
export class AdminUnreachable extends Error {}

export interface TargetOptions {
  url?: string;
  config?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

/** The product's admin.port; without -c or --url a command asks this on loopback, and says so. */
export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9090';

const hostForUrl = (h: string) => (h.includes(':') ? `[${h}]` : h);
const read = (file: string, what: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new AdminUnreachable(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
};

/** From a node's configuration: its admin address (loopback for a wildcard), scheme, token, and its certificate pinned. */
export function targetFromConfig(cfg: NodeConfig, file: string, o: TargetOptions): AdminTarget {
  const a = cfg.admin;
  const host = a.address === '0.0.0.0' ? '127.0.0.1' : a.address === '::' ? '::1' : a.address;
  const token =
    process.env.MRA_ADMIN_TOKEN ||
    a.token ||
    (a.token_file ? read(a.token_file, 'admin.token_file').trim() : undefined);
  const t: AdminTarget = {
    url: new URL(`${a.tls ? 'https' : 'http'}://${hostForUrl(host)}:${a.port}/`),
    from: `admin.address and admin.port of ${file}`,
    ...(token ? { token } : {}),
  };
  if (a.tls) {
    const cert = read(a.tls.cert_file, 'admin.tls.cert_file');
    t.ca = [
      ...('tls' in cfg ? [read(cfg.tls.ca_file, 'tls.ca_file')] : []),
      cert,
      ...(o.ca ? [read(o.ca, '--ca')] : []),
    ];
    t.pin = new X509Certificate(cert).fingerprint256;
  }
  return withClientCert(t, o);
}

export function targetFromUrl(url: string, from: string, o: TargetOptions): AdminTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new AdminUnreachable(`--url ${url} is not a URL (e.g. https://edge1.example.com:9090)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new AdminUnreachable(`--url ${url}: the admin API speaks http or https`);
  const token = process.env.MRA_ADMIN_TOKEN || undefined;
  return withClientCert(
    { url: u, from, ...(token ? { token } : {}), ...(o.ca ? { ca: [read(o.ca, '--ca')] } : {}) },
    o,
  );
}

function withClientCert(t: AdminTarget, o: TargetOptions): AdminTarget {
  if (!o.cert !== !o.key) throw new AdminUnreachable('give both --cert and --key for a client certificate');
  return o.cert && o.key ? { ...t, cert: read(o.cert, '--cert'), key: read(o.key, '--key') } : t;
}

export interface AdminAnswer {
  status: number;
  body: unknown;
}

/** One request to the admin API; rejects with AdminUnreachable when no answer came (refused, TLS, timeout). */
export function adminRequest(
  t: AdminTarget,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<AdminAnswer> {
  const url = new URL(path.replace(/^\//, ''), t.url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const opts: RequestOptions = {
    method,
    headers: {
      accept: 'application/json',
      ...(t.token ? { authorization: `Bearer ${t.token}` } : {}),
      ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
    },
    timeout: 5000,
    ...(t.ca ? { ca: t.ca } : {}),
    ...(t.cert && t.key ? { cert: t.cert, key: t.key } : {}),
    // Pinned: the certificate the node's own configuration names, whatever name the address has.
    ...(t.pin
      ? {
          checkServerIdentity: (_host: string, cert: { fingerprint256: string }) =>
            cert.fingerprint256 === t.pin
              ? undefined
              : new Error(`the admin API's certificate is not the one in the configuration (${cert.fingerprint256})`),
        }
      : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // Not JSON (a proxy's error page): shown as it is.
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on('error', (err) => reject(unreachable(t, err)));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', (err) => reject(unreachable(t, err)));
    req.end(payload);
  });
}

function unreachable(t: AdminTarget, err: Error & { code?: string }): AdminUnreachable {
  const why =
    err.code === 'ECONNREFUSED'
      ? 'connection refused: is the node running, and is this its admin address?'
      : err.code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' || /certificate required/i.test(err.message)
        ? 'the admin API asks for a client certificate (admin.tls.client_ca_file): give --cert and --key'
        : `${err.code ? `${err.code}: ` : ''}${err.message}`;
  return new AdminUnreachable(`admin API at ${t.url.origin} (${t.from}) unreachable: ${why}`);
}

/** The answer's error text when the API said no. */
export function refusal(a: AdminAnswer): string {
  const b = a.body as { error?: unknown } | string;
  const text = typeof b === 'string' ? b.trim() : typeof b?.error === 'string' ? b.error : JSON.stringify(b);
  return `HTTP ${a.status}: ${text}`;
}
