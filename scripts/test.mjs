#!/usr/bin/env node
// Runs the native unit tests (ctest) then the TypeScript tests (node --test) from dist/.
// Suites: `unit` (test/unit), default (everything but soak), `soak` (test/soak only).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const suite = process.argv[2] ?? 'all';
let failed = false;

// The linter (biome.json) first: seconds, and a finding fails the run like a failing test.
if (suite !== 'soak') {
  console.log('lint and format check: biome (biome.json)');
  const r = spawnSync(
    join(root, 'node_modules/.bin/biome'),
    ['ci', '--error-on-warnings', '--no-errors-on-unmatched'],
    { stdio: 'inherit', cwd: root },
  );
  if (r.status !== 0) failed = true;
}

if (suite !== 'soak' && existsSync(join(root, 'build/CTestTestfile.cmake'))) {
  const r = spawnSync('ctest', ['--test-dir', 'build', '--output-on-failure', '-C', 'Release'], {
    stdio: 'inherit',
    cwd: root,
  });
  if (r.status !== 0) failed = true;
}

function collect(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) collect(p, out);
    else if (e.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

// Sources decide which compiled files run, so a deleted test never runs from a stale dist/.
const sources = collect(join(root, 'test')).filter((p) => {
  const rel = relative(join(root, 'test'), p);
  if (suite === 'soak') return rel.startsWith('soak/');
  if (rel.startsWith('soak/')) return false;
  return suite === 'unit' ? rel.startsWith('unit/') : true;
});
const compiled = (p) => join(root, 'dist', relative(root, p)).replace(/\.ts$/, '.js');
// A test that measures the machine's spare capacity (a flood against the relay) says `// test: alone` and runs after
// the others, by itself: next to another test file it reads the neighbour's load, not the code under test. So does a
// test whose short leases a neighbour's load would let lapse (test/cluster/adoption).
const alone = sources.filter((p) => /^\/\/ test: alone$/m.test(readFileSync(p, 'utf8')));
const batches = [
  { files: sources.filter((p) => !alone.includes(p)).map(compiled), concurrency: 2 },
  { files: alone.map(compiled), concurrency: 1 },
].filter((b) => b.files.length > 0);
if (batches.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
for (const b of batches) {
  const r = spawnSync(
    process.execPath,
    ['--test', `--test-concurrency=${b.concurrency}`, '--test-timeout=180000', ...b.files],
    {
      stdio: 'inherit',
      cwd: root,
      env: { ...process.env, MRA_ROOT: root },
    },
  );
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
