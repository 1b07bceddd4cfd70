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

/** libsrtp for the generator: the engine's OpenSSL build when present, else Debian's package. */
function srtpFlags(): { cflags: string[]; libs: string[] } {
  const prefix = join(root, '.deps/libsrtp');
  if (existsSync(join(prefix, 'lib/libsrtp2.a'))) {
    return { cflags: [`-I${join(prefix, 'include')}`], libs: [join(prefix, 'lib/libsrtp2.a'), '-lcrypto'] };
  }
  const pc = spawnSync('pkg-config', ['--cflags', '--libs', 'libsrtp2'], { encoding: 'utf8' });
  if (pc.status !== 0) throw new Error('no libsrtp for the load generator: build .deps/libsrtp (scripts/build-libsrtp.sh) or install libsrtp2-dev');
  return { cflags: [], libs: pc.stdout.trim().split(/\s+/) };
}

function build(name: string, extra: { cflags: string[]; libs: string[] }): string {
  const src = join(root, 'bench/media', `${name}.c`);
  const out = join(toolDir, name);
  if (existsSync(out) && statSync(out).mtimeMs > statSync(src).mtimeMs) return out;
  mkdirSync(toolDir, { recursive: true });
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', ...extra.cflags, '-o', out, src, ...extra.libs], { stdio: 'inherit' });
  return out;
}

export function buildTools(): { reflector: string; loadgen: string } {
  return { reflector: build('reflector', { cflags: [], libs: [] }), loadgen: build('loadgen', srtpFlags()) };
}
