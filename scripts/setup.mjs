#!/usr/bin/env node
// Idempotent set-up run before `npm start`, `npm test` and the benches: installs missing Debian packages,
// runs `npm ci` when node_modules is stale, builds libsrtp and the native addon and the TypeScript when their
// inputs changed. Says what it does: numbered steps with their timings, the children's output as it comes, and
// a line every few seconds when a child is silent (npm ci, libsrtp's make), so a first run is never mute.
// Uses only Node's standard library: it runs before node_modules exists.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, readdirSync, statSync, mkdirSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const profiles = ['build'];
if (args.has('--test') || process.env.npm_lifecycle_event === 'test') profiles.push('test');
if (args.has('--bench') || (process.env.npm_lifecycle_event ?? '').startsWith('bench')) profiles.push('test', 'bench');

// A child silent this long gets a "still working" line from us.
const QUIET_MS = 10_000;

const elapsed = (ms) =>
  ms < 60_000
    ? `${(ms / 1000).toFixed(1)} s`
    : `${Math.floor(ms / 60_000)} min ${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')} s`;
let label = 'setup';
const say = (msg) => process.stderr.write(`[${label}] ${msg}\n`);

class SetupError extends Error {}

/** Runs a command with its output passed through as it comes, and heartbeats while it says nothing. */
function run(cmd, argv, opts = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let lastOutput = started;
    const child = spawn(cmd, argv, { cwd: root, ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    const pass = (d) => {
      lastOutput = Date.now();
      process.stderr.write(d);
    };
    child.stdout.on('data', pass);
    child.stderr.on('data', pass);
    const beat = setInterval(() => {
      if (Date.now() - lastOutput < QUIET_MS) return;
      lastOutput = Date.now();
      say(`… still running ${opts.what ?? cmd} (${elapsed(Date.now() - started)})`);
    }, 1000);
    child.on('error', (err) => {
      clearInterval(beat);
      reject(new SetupError(`${cmd} could not start: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearInterval(beat);
      if (code === 0) resolve();
      else reject(new SetupError(`${cmd} ${argv.join(' ')} failed (exit ${code ?? signal})`));
    });
  });
}

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
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax, not a template
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

const POLICY = '/usr/sbin/policy-rc.d';
let policyCreated = false;
/** Ours only while apt runs: left behind, it keeps every service installed later on this host from starting. */
function removePolicy() {
  if (!policyCreated) return;
  policyCreated = false;
  rmSync(POLICY, { force: true });
}
process.on('exit', removePolicy);

async function ensureApt() {
  const wanted = aptPackages();
  const missing = wanted.filter((p) => !installed(p));
  if (missing.length === 0) return `all ${wanted.length} present (${profiles.join(', ')})`;
  if (process.getuid?.() !== 0) {
    say(`not root: cannot install ${missing.join(' ')}; install them or run as root`);
    return `${missing.length} missing, not installed (not root)`;
  }
  say(`installing ${missing.length} of ${wanted.length}: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // A service package must not try to start its daemon inside a build; the file goes again when apt is done.
  if (!existsSync(POLICY)) {
    writeFileSync(POLICY, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    policyCreated = true;
  }
  try {
    // One -q: apt prints each download (Get:n …) and each package it unpacks and sets up, without progress bars.
    await run('flock', ['/tmp/mra-apt.lock', 'apt-get', 'update', '-q'], { env, what: 'apt-get update' });
    await run(
      'flock',
      [
        '/tmp/mra-apt.lock',
        'apt-get',
        'install',
        '-y',
        '-q',
        '-o',
        'Dpkg::Use-Pty=0',
        '--no-install-recommends',
        ...missing,
      ],
      { env, what: 'apt-get install' },
    );
  } finally {
    removePolicy();
  }
  return `installed ${missing.length}`;
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
  return {
    stale: want !== have,
    mark: () => {
      mkdirSync(dirname(stamp), { recursive: true });
      writeFileSync(stamp, want);
    },
  };
}

async function ensureNodeModules() {
  const s = stale(join(root, 'node_modules/.mra-lock-hash'), ['package-lock.json']);
  if (!s.stale) return 'up to date';
  say('node_modules is stale: npm ci');
  await run('npm', ['ci', '--no-audit', '--no-fund'], { what: 'npm ci' });
  s.mark();
  return 'npm ci done';
}

async function ensureNative() {
  await run(process.execPath, [join(root, 'scripts/build-native.mjs'), '--if-stale'], {
    what: 'the libsrtp and native builds',
  });
  return 'built or up to date';
}

async function ensureTypeScript() {
  const s = stale(join(root, 'dist/.mra-ts-hash'), ['src', 'test', 'bench', 'tsconfig.json']);
  if (!s.stale) return 'up to date';
  await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { what: 'tsc' });
  s.mark();
  return 'compiled';
}

const steps = [
  ['Debian packages', ensureApt],
  ['npm packages', ensureNodeModules],
  ['libsrtp and the native addon', ensureNative],
  ['TypeScript', ensureTypeScript],
];

const began = Date.now();
for (const [i, [name, step]] of steps.entries()) {
  label = `setup ${i + 1}/${steps.length}`;
  const t0 = Date.now();
  say(`${name} …`);
  try {
    const outcome = await step();
    say(`${name}: ${outcome} (${elapsed(Date.now() - t0)})`);
  } catch (err) {
    if (!(err instanceof SetupError)) throw err;
    say(`${name}: ${err.message} (after ${elapsed(Date.now() - t0)})`);
    removePolicy();
    process.exit(1);
  }
}
label = 'setup';
say(`ready in ${elapsed(Date.now() - began)}`);
