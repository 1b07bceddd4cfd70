// Builds the bench's C tools (the reflector and the load generator) with Debian's cc into build/bench/.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from dist/bench/media or bench/media. */
export const root = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root');
    dir = up;
  }
  return dir;
})();

export const toolDir = join(root, 'build/bench');
/** The generators' shared header (the product's, which the capacity tool's call generator uses too): a change rebuilds them. */
export const GENERATOR_HEADER = join(root, 'src/capacity/generator.h');

/** libsrtp for the generator: the engine's OpenSSL build when present, else Debian's package. */
function srtpFlags(): { cflags: string[]; libs: string[] } {
  const prefix = join(root, '.deps/libsrtp');
  if (existsSync(join(prefix, 'lib/libsrtp2.a'))) {
    return { cflags: [`-I${join(prefix, 'include')}`], libs: [join(prefix, 'lib/libsrtp2.a'), '-lcrypto'] };
  }
  const pc = spawnSync('pkg-config', ['--cflags', '--libs', 'libsrtp2'], { encoding: 'utf8' });
  if (pc.status !== 0)
    throw new Error(
      'no libsrtp for the load generator: build .deps/libsrtp (scripts/build-libsrtp.sh) or install libsrtp2-dev',
    );
  return { cflags: [], libs: pc.stdout.trim().split(/\s+/) };
}

function build(name: string, extra: { cflags: string[]; libs: string[] }): string {
  const src = join(root, 'bench/media', `${name}.c`);
  const out = join(toolDir, name);
  if (existsSync(out) && statSync(out).mtimeMs > Math.max(statSync(src).mtimeMs, statSync(GENERATOR_HEADER).mtimeMs))
    return out;
  mkdirSync(toolDir, { recursive: true });
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', ...extra.cflags, '-o', out, src, ...extra.libs], { stdio: 'inherit' });
  return out;
}

export function buildTools(): { reflector: string; loadgen: string } {
  return { reflector: build('reflector', { cflags: [], libs: [] }), loadgen: build('loadgen', srtpFlags()) };
}

/**
 * The kernel rows' generator (kernel/kgen.c, with libbpf) and its receiving BPF program (kernel/sink.bpf.c, with
 * clang). Null with the reason when this machine lacks clang or libbpf (scripts/apt-packages.txt installs both).
 */
export function buildKernelTools(): { kgen: string; sink: string } | { missing: string } {
  for (const [cmd, pkg] of [
    ['clang', 'clang'],
    ['cc', 'build-essential'],
  ] as const) {
    if (spawnSync(cmd, ['--version']).status !== 0) return { missing: `no ${cmd} (Debian package ${pkg})` };
  }
  if (!existsSync('/usr/include/bpf/libbpf.h')) return { missing: 'no libbpf headers (Debian package libbpf-dev)' };
  const dir = join(root, 'bench/media/kernel');
  const sink = join(toolDir, 'sink.bpf.o');
  const fresh = (out: string, src: string) =>
    existsSync(out) &&
    statSync(out).mtimeMs >
      Math.max(statSync(src).mtimeMs, statSync(join(dir, 'sink.h')).mtimeMs, statSync(GENERATOR_HEADER).mtimeMs);
  mkdirSync(toolDir, { recursive: true });
  if (!fresh(sink, join(dir, 'sink.bpf.c'))) {
    const arch = spawnSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).stdout.trim() || 'x86_64-linux-gnu';
    execFileSync(
      'clang',
      ['-O2', '-g', '-Wall', '-target', 'bpf', `-I/usr/include/${arch}`, '-c', join(dir, 'sink.bpf.c'), '-o', sink],
      { stdio: 'inherit' },
    );
  }
  const kgen = join(toolDir, 'kgen');
  if (!fresh(kgen, join(dir, 'kgen.c'))) {
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-o', kgen, join(dir, 'kgen.c'), '-lbpf'], { stdio: 'inherit' });
  }
  return { kgen, sink };
}
