// Loads the one native addon (build/Release/mra_native.node, built by scripts/build-native.mjs). Each plane
// types its own part of the boundary: src/media/native.ts the media engine, src/sip/transport/ the TLS listener.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function addonPath(): string {
  if (process.env.MRA_NATIVE_ADDON) return process.env.MRA_NATIVE_ADDON;
  // From src/native (ts-node style) or dist/src/native (compiled): walk up to the folder holding build/.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'build/Release/mra_native.node');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('native addon not built: run `node scripts/build-native.mjs` (build/Release/mra_native.node)');
}

let loaded: Record<string, unknown> | undefined;

/** The addon's exports; `name` must be one of them (an older build without it is a clear error). */
export function nativeExport<T>(name: string): T {
  loaded ??= createRequire(import.meta.url)(addonPath()) as Record<string, unknown>;
  const found = loaded[name];
  if (!found) throw new Error(`native addon has no ${name}: rebuild it with \`node scripts/build-native.mjs\``);
  return found as T;
}
