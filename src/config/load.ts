import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isIP } from 'node:net';
import { LineCounter, parseDocument, isMap, isScalar, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { FILE_FIELDS, nodeSchema, type NodeConfig, type RelayConfig } from './schema.js';
import { turnProblems } from './turn.js';
import { MraError } from '../host/index.js';

export interface ConfigProblem {
  line?: number;
  /** Dotted path with indices: traversal.peers[0].sip_port */
  field: string;
  message: string;
}

/** A configuration that must not start a node. Its message names the file, the line and the field. */
export class ConfigError extends MraError {
  readonly code = 'MRA_CONFIG';
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(
      problems.map((p) => `${file}${p.line ? `:${p.line}` : ''}: ${p.field || '(top level)'}: ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

type Path = readonly (string | number)[];

export function fieldName(path: Path): string {
  return path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${k}` : k), '');
}

/** Where a path points in the YAML source: the key for an unknown field, else the value, else the nearest parent. */
function lineOf(doc: Document, lc: LineCounter, path: Path, key?: string): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = (n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true)) as Node | undefined;
    if (!node) continue;
    if (key && n === path.length && isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
      const k = pair?.key as Node | undefined;
      if (k?.range) return lc.linePos(k.range[0]).line;
    }
    if (node.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && (issue as { input?: unknown }).input === undefined)
    return `is required (${issue.message})`;
  if (issue.code === 'invalid_value' && 'values' in issue)
    return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return issue.message;
}

/**
 * A schema's refusal of a value that came at run time (an admin action's body), one "field: reason" per problem, the
 * fields named as the configuration file names them under `prefix`.
 */
export function fieldProblems(error: z.ZodError, prefix: Path = []): string[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => `${fieldName([...prefix, ...(issue.path as Path), key])}: unknown field`)
      : [`${fieldName([...prefix, ...(issue.path as Path)]) || '(value)'}: ${describe(issue)}`],
  );
}

/** Checks the schema cannot express: cross-field rules and files that must exist. */
function semanticProblems(cfg: NodeConfig, baseDir: string): Array<{ path: Path; message: string }> {
  const out: Array<{ path: Path; message: string }> = [];
  if (cfg.media.port_min >= cfg.media.port_max)
    out.push({ path: ['media', 'port_max'], message: 'must be above media.port_min' });
  if (!isLoopback(cfg.admin.address)) {
    const where = `admin.address ${cfg.admin.address} is not loopback`;
    if (!cfg.admin.tls)
      out.push({
        path: ['admin', 'tls'],
        message: `is required when ${where}: the admin API then serves HTTPS only (cert_file, key_file)`,
      });
    if (!cfg.admin.token && !cfg.admin.token_file && !cfg.admin.tls?.client_ca_file)
      out.push({
        path: ['admin', 'token'],
        message: `(or admin.token_file, or admin.tls.client_ca_file for client certificates) is required when ${where}`,
      });
  }
  if (cfg.role === 'relay') out.push(...relayProblems(cfg));
  if (cfg.role === 'edge') out.push(...turnProblems(cfg));
  if (cfg.role === 'core' && cfg.traversal.reconnect_initial_s > cfg.traversal.reconnect_max_s)
    out.push({ path: ['traversal', 'reconnect_initial_s'], message: 'must not exceed traversal.reconnect_max_s' });
  for (const path of fileFields(cfg)) {
    const value = valueAt(cfg, path);
    if (typeof value !== 'string') continue;
    const abs = isAbsolute(value) ? value : resolve(baseDir, value);
    if (!existsSync(abs) || !statSync(abs).isFile()) out.push({ path, message: `file not found: ${abs}` });
  }
  for (const [path, value] of addressFields(cfg))
    if (
      value !== 'localhost' &&
      !isIP(value) &&
      !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(value)
    )
      out.push({ path, message: `not a host name or IP address: ${JSON.stringify(value)}` });
  return out;
}

/** Addresses only this host can reach: the admin API may be plain HTTP without a token there. */
export function isLoopback(address: string): boolean {
  return address === 'localhost' || address.startsWith('127.') || address === '::1';
}

function addressFields(cfg: NodeConfig): Array<[Path, string]> {
  const out: Array<[Path, string]> = [[['admin', 'address'], cfg.admin.address]];
  if (cfg.role === 'edge')
    out.push([['public', 'address'], cfg.public.address], [['traversal', 'address'], cfg.traversal.address]);
  else if (cfg.role === 'core')
    cfg.traversal.peers.forEach((p, i) => out.push([['traversal', 'peers', i, 'address'], p.address]));
  else {
    out.push([['ng', 'udp', 'address'], cfg.ng.udp.address]);
    if (cfg.ng.tcp) out.push([['ng', 'tcp', 'address'], cfg.ng.tcp.address]);
    if (cfg.ng.tls) out.push([['ng', 'tls', 'address'], cfg.ng.tls.address]);
  }
  return out;
}

/** The relay's interfaces have distinct names, and ng.allow holds addresses or CIDR blocks. */
function relayProblems(cfg: RelayConfig): Array<{ path: Path; message: string }> {
  const out: Array<{ path: Path; message: string }> = [];
  cfg.interfaces.forEach((i, n) => {
    if (cfg.interfaces.findIndex((o) => o.name === i.name) !== n)
      out.push({ path: ['interfaces', n, 'name'], message: `"${i.name}" is named twice` });
  });
  cfg.ng.allow.forEach((entry, n) => {
    const [addr, bits, more] = entry.split('/');
    const family = isIP(addr ?? '');
    const max = family === 6 ? 128 : 32;
    if (family === 0 || more !== undefined || (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > max)))
      out.push({ path: ['ng', 'allow', n], message: `not an address or CIDR block: ${JSON.stringify(entry)}` });
  });
  return out;
}

const valueAt = (o: unknown, path: Path): unknown =>
  path.reduce<unknown>((v, k) => (v as Record<string | number, unknown> | undefined)?.[k], o);

/** Every file field this configuration has: the fixed ones, plus each SNI certificate of the edge's HTTPS listener. */
function fileFields(cfg: NodeConfig): Path[] {
  if (cfg.role === 'relay')
    return cfg.ng.tls
      ? [
          ['ng', 'tls', 'cert_file'],
          ['ng', 'tls', 'key_file'],
          ['ng', 'tls', 'ca_file'],
        ]
      : [];
  const domainCerts = (cfg.http as { domain_certs?: unknown[] } | undefined)?.domain_certs ?? [];
  return [
    ...FILE_FIELDS,
    ...domainCerts.flatMap((_, i) => [
      ['http', 'domain_certs', i, 'cert_file'],
      ['http', 'domain_certs', i, 'key_file'],
    ]),
  ];
}

/** File fields are made absolute against the configuration file's folder, so a node can run from anywhere. */
function resolveFiles(cfg: NodeConfig, baseDir: string): NodeConfig {
  const copy = structuredClone(cfg);
  for (const path of fileFields(copy)) {
    const v = valueAt(copy, path);
    if (typeof v === 'string' && !isAbsolute(v))
      (valueAt(copy, path.slice(0, -1)) as Record<string | number, unknown>)[path.at(-1)!] = resolve(baseDir, v);
  }
  return copy;
}

/** Parses and validates one node's YAML. `file` names the source in errors; paths resolve against its folder. */
export function parseConfig(text: string, file: string): NodeConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0)
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        line: e.linePos?.[0]?.line,
        field: '',
        message: `YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column (\d+):?$/, ' (column $1)')}`,
      })),
    );
  const raw: unknown = doc.toJS() ?? {};
  const parsed = nodeSchema.safeParse(raw);
  if (!parsed.success) {
    const problems: ConfigProblem[] = [];
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys)
          problems.push({
            line: lineOf(doc, lc, issue.path as Path, key),
            field: fieldName([...(issue.path as Path), key]),
            message: 'unknown field',
          });
      } else
        problems.push({
          line: lineOf(doc, lc, issue.path as Path),
          field: fieldName(issue.path as Path),
          message: describe(issue),
        });
    }
    throw new ConfigError(file, problems);
  }
  const baseDir = dirname(resolve(file));
  const semantic = semanticProblems(parsed.data, baseDir);
  if (semantic.length > 0)
    throw new ConfigError(
      file,
      semantic.map((p) => ({ line: lineOf(doc, lc, p.path), field: fieldName(p.path), message: p.message })),
    );
  return resolveFiles(parsed.data, baseDir);
}

export function loadConfig(file: string): NodeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ field: '', message: `cannot read the file: ${(err as Error).message}` }]);
  }
  return parseConfig(text, file);
}

/** Validates a configuration built in code (the lab), with the same rules and messages as a file. */
export function buildConfig(input: unknown, origin: string, baseDir = process.cwd()): NodeConfig {
  const parsed = nodeSchema.safeParse(input);
  if (!parsed.success)
    throw new ConfigError(
      origin,
      parsed.error.issues.map((i) => ({ field: fieldName(i.path as Path), message: describe(i) })),
    );
  const semantic = semanticProblems(parsed.data, baseDir);
  if (semantic.length > 0)
    throw new ConfigError(
      origin,
      semantic.map((p) => ({ field: fieldName(p.path), message: p.message })),
    );
  return resolveFiles(parsed.data, baseDir);
}
