#!/usr/bin/env node
// Builds the native addon (and its C++ unit tests) with cmake-js from CMakeLists.txt, the build of record.
// --if-stale: only when native/, CMakeLists.txt or the third-party builds changed since the last build.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, readdirSync, statSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ifStale = process.argv.includes('--if-stale');
const say = (msg) => process.stderr.write(`[build-native] ${msg}\n`);
const run = (cmd, argv) => {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) {
    say(`${cmd} ${argv.join(' ')} failed`);
    process.exit(r.status || 1);
  }
};

function hashOf(paths) {
  const h = createHash('sha256');
  const walk = (p) => {
    if (!existsSync(p)) return;
    if (statSync(p).isDirectory()) {
      for (const e of readdirSync(p).sort()) walk(join(p, e));
      return;
    }
    h.update(p.slice(root.length));
    h.update(readFileSync(p));
  };
  for (const p of paths) walk(join(root, p));
  return h.digest('hex');
}

// Third-party libraries built from Debian source packages (libsrtp with OpenSSL) come first.
if (existsSync(join(root, 'scripts/build-libsrtp.sh'))) run('bash', [join(root, 'scripts/build-libsrtp.sh')]);

const stamp = join(root, 'build/.mra-native-hash');
const want = hashOf(['native', 'CMakeLists.txt', 'scripts/build-native.mjs', '.deps/libsrtp/STAMP']);
if (ifStale && existsSync(stamp) && readFileSync(stamp, 'utf8') === want && existsSync(join(root, 'build/Release')))
  process.exit(0);
if (!existsSync(join(root, 'CMakeLists.txt'))) {
  say('no CMakeLists.txt yet: nothing to build');
  process.exit(0);
}
say('building the native addon with cmake-js');
run(process.execPath, [
  join(root, 'node_modules/cmake-js/bin/cmake-js'),
  'compile',
  '--config',
  'Release',
  '--parallel',
  '2',
]);
mkdirSync(dirname(stamp), { recursive: true });
writeFileSync(stamp, want);
