// Loads the RFC 4475 messages from the source tree (they are data, not compiled).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const DIR = join(process.env.MRA_ROOT ?? process.cwd(), 'test/sip/fixtures');

export function torture(name: string): Buffer {
  return readFileSync(join(DIR, `${name}.dat`));
}
