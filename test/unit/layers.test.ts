// The layers of docs/architecture.md, held against the sources' imports: the kernel (src/host and the folders
// beside it) imports no plane, no plane imports the composition roots (src/node, src/cli), product code never
// imports the lab, tests or benches statically, a folder reaches another only through its index.ts, and the
// folders' imports have no cycle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = process.env.MRA_ROOT ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SRC = join(ROOT, 'src');

/** Folders of single-purpose files that need no face (each file is one helper). */
const NO_FACE = new Set(['util', 'native']);
/** What src/host, the kernel below the planes, may import besides itself. */
const HOST_USES = new Set(['log', 'store']);
const ROOTS = new Set(['node', 'cli']);
/** Tools above the composition root that no node carries: the lab, and the capacity search that drives it (loaded by the CLI on demand). */
const TOOLS = new Set(['lab', 'capacity']);
const isTool = (path: string) => TOOLS.has(folderOf(path) ?? '');

interface Import {
  from: string;
  /** Path from the repository root, without extension. */
  to: string;
  dynamic: boolean;
}

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (e.endsWith('.ts')) out.push(p);
  }
  return out;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const out: Import[] = [];
  for (const m of text.matchAll(
    /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'|(?:^|\n)\s*import\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g,
  )) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    out.push({
      from: relative(ROOT, file),
      to: relative(ROOT, resolve(dirname(file), spec)).replace(/\.js$/, ''),
      dynamic: m[3] !== undefined,
    });
  }
  return out;
}

const folderOf = (path: string): string | undefined => (path.startsWith('src/') ? path.split('/')[1] : undefined);
const all = sources(SRC).flatMap(importsOf);
const across = all.filter((i) => folderOf(i.to) !== folderOf(i.from));

test('the sources are read (the check below would pass on nothing)', () => {
  assert.ok(all.length > 300, `${all.length} imports`);
  assert.ok(across.some((i) => i.from === 'src/node/edge.ts' && i.to === 'src/sip/index'));
});

test('product code never imports the lab, tests or benches statically', () => {
  const bad = all.filter(
    (i) => i.to.startsWith('test/') || i.to.startsWith('bench/') || (!isTool(i.from) && isTool(i.to) && !i.dynamic),
  );
  assert.deepEqual(bad, []);
  assert.deepEqual(
    all.filter((i) => i.dynamic && folderOf(i.from) !== 'cli'),
    [],
    'only the CLI loads code on demand',
  );
});

test('no plane imports the composition roots; the kernel imports no plane', () => {
  assert.deepEqual(
    across.filter((i) => ROOTS.has(folderOf(i.to)!) && !ROOTS.has(folderOf(i.from)!) && !isTool(i.from)),
    [],
  );
  assert.deepEqual(
    across.filter((i) => folderOf(i.from) === 'host' && !HOST_USES.has(folderOf(i.to)!)),
    [],
  );
});

test("a folder reaches another only through its index.ts (the lab may use a plane's sub-faces)", () => {
  const bad = across.filter((i) => {
    const target = folderOf(i.to);
    if (!target || NO_FACE.has(target)) return false;
    if (i.to === `src/${target}/index`) return false;
    // The lab (and the capacity tool) build SIP elements from the SIP plane's own parts, each through its face.
    if (isTool(i.from) && /^src\/[a-z]+\/[a-z-]+\/index$/.test(i.to)) return false;
    // The lab's constants are read by the CLI without loading the lab.
    return !(i.from === 'src/cli/main.ts' && i.to === 'src/lab/addresses');
  });
  assert.deepEqual(bad, []);
});

test('the folders import each other without a cycle', () => {
  const edges = new Map<string, Set<string>>();
  for (const i of across) {
    const [a, b] = [folderOf(i.from), folderOf(i.to)];
    if (a && b) edges.set(a, (edges.get(a) ?? new Set()).add(b));
  }
  const done = new Set<string>();
  const walk = (f: string, path: string[]): void => {
    if (path.includes(f)) assert.fail(`a cycle: ${[...path.slice(path.indexOf(f)), f].join(' -> ')}`);
    if (done.has(f)) return;
    for (const g of edges.get(f) ?? []) walk(g, [...path, f]);
    done.add(f);
  };
  for (const f of edges.keys()) walk(f, []);
});
