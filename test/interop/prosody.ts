// Debian's Prosody as the IM and Presence service in place of the lab's: its own config and data in a temp
// folder, users written as its internal_plain store keeps them, one c2s port with TLS required.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/node-files.js';

export const PROSODY_BIN = '/usr/bin/prosody';

export interface Prosody {
  port: number;
  log(): string;
  close(): Promise<void>;
}

/** A reason string when Debian's prosody is not installed. */
export function prosodyMissing(): string | null {
  return spawnSync('test', ['-x', PROSODY_BIN]).status === 0
    ? null
    : 'prosody is not installed (apt-get install prosody)';
}

const lua = (s: string) => JSON.stringify(s);
/** Prosody's file store names a host's folder with every non-alphanumeric character as %xx. */
const encoded = (s: string) => s.replace(/[^a-zA-Z0-9]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

export async function startProsody(o: {
  address: string;
  domain: string;
  tls: { cert: string; key: string };
  users: ReadonlyArray<{ id: string; password: string }>;
}): Promise<Prosody> {
  const dir = mkdtempSync(join(tmpdir(), 'mra-prosody-'));
  const port = await freePort();
  writeFileSync(join(dir, 'cert.pem'), o.tls.cert);
  writeFileSync(join(dir, 'key.pem'), o.tls.key, { mode: 0o600 });
  const accounts = join(dir, 'data', encoded(o.domain), 'accounts');
  mkdirSync(accounts, { recursive: true });
  for (const u of o.users)
    writeFileSync(join(accounts, `${u.id.toLowerCase()}.dat`), `return {\n\t["password"] = ${lua(u.password)};\n};\n`);
  const ssl = `{ certificate = ${lua(join(dir, 'cert.pem'))}, key = ${lua(join(dir, 'key.pem'))} }`;
  writeFileSync(
    join(dir, 'prosody.cfg.lua'),
    [
      'run_as_root = true',
      `prosody_user = "root"`,
      `pidfile = ${lua(join(dir, 'prosody.pid'))}`,
      `data_path = ${lua(join(dir, 'data'))}`,
      `certificates = ${lua(dir)}`,
      'log = { { levels = { min = "info" }, to = "console" } }',
      'modules_enabled = { "roster", "saslauth", "tls", "ping", "disco", "posix", "smacks" }',
      'modules_disabled = { "s2s", "offline" }',
      `c2s_ports = { ${port} }`,
      `c2s_interfaces = { ${lua(o.address)} }`,
      's2s_ports = { }',
      'http_ports = { }',
      'https_ports = { }',
      'c2s_require_encryption = true',
      'allow_registration = false',
      'authentication = "internal_plain"',
      'storage = "internal"',
      `ssl = ${ssl}`,
      `VirtualHost ${lua(o.domain)}`,
      `  ssl = ${ssl}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(PROSODY_BIN, ['--config', join(dir, 'prosody.cfg.lua'), '-F'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const close = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (await canConnect(o.address, port)) return { port, log: () => log, close };
    if (child.exitCode !== null || Date.now() > deadline) {
      await close();
      throw new Error(`prosody did not start: ${log.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function canConnect(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
