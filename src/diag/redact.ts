/**
 * A configuration with its secrets replaced, for a diagnostic bundle that leaves the site: passwords, password
 * hashes and tokens by key name (wherever they are: traversal, AXL accounts, admin). File paths stay (a key file's
 * path says where, not what); no file is ever read into the bundle.
 */
const SECRET_KEYS = /^(password|password_hash|token|secret|private_key|key_pem)$/i;
export const REDACTED = '***redacted***';

export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      SECRET_KEYS.test(k) && v !== undefined && v !== null ? REDACTED : redact(v),
    ]),
  );
}
