#!/usr/bin/env node
// Idempotent set-up run before `npm start`, `npm test` and the benches: installs missing Debian packages,
// runs `npm ci` when node_modules is stale, builds the native addon and the TypeScript when their inputs
// changed. Uses only Node's standard library: it runs before node_modules exists.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, readdirSync, statSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const profiles = ['build'];
if (args.has('--test') || process.env.npm_lifecycle_event === 'test') profiles.push('test');
if (args.has('--bench') || (process.env.npm_lifecycle_event ?? '').startsWith('bench')) profiles.push('test', 'bench');

const say = (msg) => process.stderr.write(`[setup] ${msg}\n`);
const run = (cmd, argv, opts = {}) => {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) {
    say(`${cmd} ${argv.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
};

function aptPackages() {
  const wanted = [];
  let section = 'build';
  for (const raw of readFileSync(join(root, 'scripts/apt-packages.txt'), 'utf8').split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const m = /^\[(\w+)\]$/.exec(line);
    if (m) section = m[1];
    else if (profiles.includes(section)) wanted.push(line);
  }
  return wanted;
}

function installed(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

function ensureApt() {
  const missing = aptPackages().filter((p) => !installed(p));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    say(`not root: cannot install ${missing.join(' ')}; install them or run as root`);
    return;
  }
  say(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // A service package must not try to start its daemon inside a build.
  const policy = '/usr/sbin/policy-rc.d';
  if (!existsSync(policy)) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  run('apt-get', ['update', '-qq'], { env });
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

function hashOf(paths) {
  const h = createHash('sha256');
  const walk = (p) => {
    if (!existsSync(p)) return;
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const e of readdirSync(p).sort()) if (e !== 'node_modules' && !e.startsWith('.')) walk(join(p, e));
    } else {
      h.update(p.slice(root.length));
      h.update(readFileSync(p));
    }
  };
  for (const p of paths) walk(join(root, p));
  return h.digest('hex');
}

function stale(stamp, inputs) {
  const want = hashOf(inputs);
  const have = existsSync(stamp) ? readFileSync(stamp, 'utf8') : '';
  return { stale: want !== have, mark: () => { mkdirSync(dirname(stamp), { recursive: true }); writeFileSync(stamp, want); } };
}

function ensureNodeModules() {
  const s = stale(join(root, 'node_modules/.mra-lock-hash'), ['package-lock.json']);
  if (!s.stale) return;
  say('node_modules is stale: npm ci');
  run('npm', ['ci', '--no-audit', '--no-fund']);
  s.mark();
}

function ensureNative() {
  run(process.execPath, [join(root, 'scripts/build-native.mjs'), '--if-stale']);
}

function ensureTypeScript() {
  const s = stale(join(root, 'dist/.mra-ts-hash'), ['src', 'test', 'bench', 'tsconfig.json']);
  if (!s.stale) return;
  say('compiling TypeScript');
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']);
  s.mark();
}

ensureApt();
ensureNodeModules();
ensureNative();
ensureTypeScript();
