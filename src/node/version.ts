import { readFileSync } from 'node:fs';

/** This release's version, from package.json (compiled to dist/src/node/, three folders below it). */
export const VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string })
      .version;
  } catch {
    return 'unknown';
  }
})();
