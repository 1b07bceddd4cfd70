import { createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import type { NodeContext } from '../host/index.js';
import { logControlOf, tlsKeyLog, type Logger } from '../log/index.js';
import { HepFeed } from './hep.js';
import { captureFilter, startCapture, type Capture } from './capture.js';
import { redact } from './redact.js';

export { redact, REDACTED } from './redact.js';
export { captureFilter } from './capture.js';
export { HepFeed, encodeHep, type HepMessage, type HepTarget } from './hep.js';

/** The node's HEP feed when its configuration names a collector (hep:), else undefined. */
export function hepFeed(
  cfg: { hep?: { address: string; port: number; agent_id: number; password?: string | undefined } | undefined },
  log: Logger,
): HepFeed | undefined {
  const h = cfg.hep;
  return h
    ? new HepFeed(
        { address: h.address, port: h.port, agentId: h.agent_id, ...(h.password ? { password: h.password } : {}) },
        log,
      )
    : undefined;
}

/**
 * Diagnostic logging, as Expressway's Maintenance > Diagnostics > Diagnostic logging gives it: `diag-start` turns
 * every logger of the node to debug and copies its lines, snapshots the status every 10 s, captures the node's
 * ports with tcpdump and, when asked, logs TLS keys; `diag-stop` puts all of it, with the configuration (secrets
 * redacted) and a manifest, into one .tar.gz on the node's host and answers its path.
 */
export interface DiagnosticsOptions {
  /** The TCP ports worth capturing (the node's listeners and what it dials); never the admin port. */
  ports(): number[];
  /** The media range, captured only when a start asks for media. */
  media: { min: number; max: number };
  /** Where bundles go unless a start names another folder (default: the system's temporary folder). */
  dir?: string;
}

const SNAPSHOT_MS = 10_000;

interface Running {
  since: string;
  work: string;
  notes: Record<string, string>;
  stop(): Promise<Bundle>;
}

interface Bundle {
  bundle: string;
  bytes: number;
  files: string[];
  notes: Record<string, string>;
}

export function attachDiagnostics(
  ctx: NodeContext<{ name: string }>,
  status: () => Record<string, unknown>,
  opts: DiagnosticsOptions,
): void {
  let running: Running | undefined;
  let last: Bundle | undefined;

  async function start(input: Record<string, unknown>): Promise<Running> {
    const dir = input.dir ?? opts.dir ?? tmpdir();
    if (typeof dir !== 'string' || !isAbsolute(dir)) throw new Error('dir must be an absolute path on the node');
    mkdirSync(dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const work = mkdtempSync(join(dir, `mra-diag-${ctx.cfg.name}-${stamp}-`));
    const since = new Date().toISOString();
    const notes: Record<string, string> = {};
    writeFileSync(join(work, 'config.json'), `${JSON.stringify(redact(ctx.cfg), null, 2)}\n`, { mode: 0o600 });

    mkdirSync(join(work, 'status'));
    let n = 0;
    const snapshot = (label: string) =>
      writeFileSync(
        join(work, 'status', `${String(n++).padStart(3, '0')}-${label}.json`),
        `${JSON.stringify(status(), null, 2)}\n`,
      );
    snapshot('start');
    const timer = setInterval(() => snapshot(new Date().toISOString().replace(/[:.]/g, '-')), SNAPSHOT_MS);
    timer.unref();

    const control = logControlOf(ctx.log);
    let logStream: WriteStream | undefined;
    let untap: (() => void) | undefined;
    const level = control?.level;
    if (control) {
      logStream = createWriteStream(join(work, 'node.log'), { mode: 0o600 });
      const out = logStream;
      untap = control.tap((line) => void out.write(line));
      control.setLevel('debug');
      notes.logs = `every logger at debug from ${since} (was ${level})`;
    } else notes.logs = "not captured: this node's logger was not made by createLogger";

    let capture: Capture | undefined;
    if (input.capture === false) notes.capture = 'not asked for';
    else {
      const c = await startCapture(
        join(work, 'capture.pcap'),
        captureFilter(opts.ports(), input.media === true ? opts.media : undefined),
      );
      if ('unavailable' in c) notes.capture = `none: ${c.unavailable}`;
      else {
        capture = c;
        notes.capture = 'running (tcpdump)';
      }
    }

    let keys: WriteStream | undefined;
    if (input.tlsKeys !== true) notes.tlsKeys = 'not asked for';
    else if (tlsKeyLog.active) notes.tlsKeys = 'none: another capture in this process holds the TLS key log';
    else {
      keys = createWriteStream(join(work, 'tls-keys.log'), { mode: 0o600 });
      const out = keys;
      tlsKeyLog.start((line) => void out.write(line));
      notes.tlsKeys =
        'NSS key log of the HTTPS listener and the traversal link (not of the native SIP TLS listener); it decrypts capture.pcap: keep the bundle as secret as the keys';
    }
    ctx.log.warn({ dir: work, capture: !!capture, tlsKeys: !!keys }, 'diagnostic logging started');

    return {
      since,
      work,
      notes,
      async stop() {
        clearInterval(timer);
        snapshot('stop');
        if (capture) notes.capture = (await capture.stop()).note;
        if (keys) {
          tlsKeyLog.stop();
          keys.end();
          await once(keys, 'finish');
        }
        if (control && level) control.setLevel(level);
        untap?.();
        if (logStream) {
          logStream.end();
          await once(logStream, 'finish');
        }
        const doc = status();
        const stoppedAt = new Date().toISOString();
        writeFileSync(
          join(work, 'manifest.json'),
          `${JSON.stringify({ node: doc.node, role: doc.role, version: doc.version, startedAt: since, stoppedAt, notes }, null, 2)}\n`,
        );
        const bundle = `${work}.tar.gz`;
        const tar = spawnSync('tar', ['-czf', bundle, '-C', dirname(work), basename(work)], { encoding: 'utf8' });
        if (tar.status !== 0)
          throw new Error(
            `tar could not write ${bundle}: ${tar.stderr || tar.error?.message}; the files are in ${work}`,
          );
        const files = spawnSync('tar', ['-tzf', bundle], { encoding: 'utf8' })
          .stdout.split('\n')
          .filter((f) => f && !f.endsWith('/'));
        rmSync(work, { recursive: true, force: true });
        ctx.log.warn({ bundle }, 'diagnostic logging stopped');
        return { bundle, bytes: statSync(bundle).size, files, notes };
      },
    };
  }

  ctx.addAction('diag-start', async (input) => {
    if (running)
      throw new Error(`diagnostic logging is already running since ${running.since} (${running.work}); stop it first`);
    running = await start(input);
    return { since: running.since, dir: running.work, notes: running.notes };
  });
  ctx.addAction('diag-stop', async () => {
    if (!running) throw new Error('no diagnostic logging is running (mra-edge diag start)');
    const r = running;
    running = undefined;
    last = await r.stop();
    return last;
  });
  ctx.addStatus('diagnostics', () =>
    running
      ? { running: true, since: running.since, dir: running.work }
      : { running: false, lastBundle: last?.bundle ?? null },
  );
  ctx.onClose(async () => {
    if (running) await running.stop().catch(() => undefined);
    running = undefined;
  });
}
