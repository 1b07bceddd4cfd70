import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority, type IssueOptions } from '../../src/certs/index.js';
import { buildConfig, type CoreConfig, type CoreConfigInput } from '../../src/config/index.js';
import { createContext, type ContextHandle } from '../../src/node/context.js';
import { loadTls } from '../../src/node/tls-files.js';
import type { Logger } from '../../src/log/index.js';
import { MemoryStore } from '../../src/store/index.js';
import { capturedLogger } from '../support/log-capture.js';

export interface CoreFixture {
  dir: string;
  cfg: CoreConfig;
  node: ContextHandle<CoreConfig>;
  log: Logger;
  /** What the node logged, parsed. */
  logLines(): Array<Record<string, unknown>>;
  ca: CertificateAuthority;
  tlsProblems: ReturnType<typeof loadTls>['problems'];
  cleanup(): Promise<void>;
}

/**
 * A core node's context as core.ts builds it (real configuration, real certificate files, real TLS check),
 * without the traversal link, so admin and alarm tests can drive it directly.
 */
export async function coreFixture(
  opts: { cert?: Partial<IssueOptions>; config?: Partial<CoreConfigInput> } = {},
): Promise<CoreFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'mra-ops-'));
  const ca = await CertificateAuthority.create({ commonName: 'mra-edge ops test CA' });
  const core = await ca.issue({ commonName: 'core.example.com', dnsNames: ['core.example.com'], ...opts.cert });
  writeFileSync(join(dir, 'ca.pem'), ca.cert);
  writeFileSync(join(dir, 'core.pem'), core.cert);
  writeFileSync(join(dir, 'core.key'), core.key, { mode: 0o600 });
  const cfg = buildConfig(
    {
      role: 'core',
      name: 'core1',
      admin: { port: 0 },
      tls: { cert_file: join(dir, 'core.pem'), key_file: join(dir, 'core.key'), ca_file: join(dir, 'ca.pem') },
      traversal: { peers: [{ address: '127.0.0.1', sip_port: 1 }], username: 'traversal', password: 'secret' },
      ...opts.config,
    },
    'ops test core',
    dir,
  ) as CoreConfig;
  const { log, lines } = capturedLogger('core1');
  const tls = loadTls(cfg, log);
  const store = new MemoryStore();
  const node = createContext(
    { cfg, log, store, tls },
    { node: cfg.name, role: 'core', started: new Date().toISOString() },
  );
  return {
    dir,
    cfg,
    node,
    log,
    logLines: lines,
    ca,
    tlsProblems: tls.problems,
    async cleanup() {
      await node.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Prometheus text exposition, parsed: every sample with its labels, and the TYPE of each family. */
export function parseExposition(text: string): {
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>;
  types: Map<string, string>;
} {
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    // The format spells these without regard to case (prom-client writes "Nan").
    const special = /^([+-]?)(nan|inf)$/i.exec(m[3]!);
    const value = special
      ? special[2]!.toLowerCase() === 'nan'
        ? NaN
        : special[1] === '-'
          ? -Infinity
          : Infinity
      : Number(m[3]);
    if (!special && Number.isNaN(value)) throw new Error(`not a number in: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { samples, types };
}
