// A media port range of its own for each node a test starts: test files run two at a time, a node's media range
// cannot be port 0, and two engines on one range would take each other's packets (SO_REUSEADDR). Slices of
// 20000-32599 (below the product's 36000 and Linux's ephemeral ports, 32768 up) are claimed with a lock file naming the
// process, and a slice whose process is gone is taken over.
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FIRST = 20000;
const SLICE = 200;
const SLICES = (32600 - FIRST) / SLICE;
const DIR = join(tmpdir(), 'mra-media-ranges');
const mine: string[] = [];

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Claims `file` for this process: the lock is a hard link to a file already holding our pid, so it is never seen empty. */
function claim(file: string): boolean {
  const tmp = `${file}.${process.pid}`;
  writeFileSync(tmp, String(process.pid));
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(tmp, file);
        return true;
      } catch {
        const owner = Number(readFileSync(file, 'utf8'));
        if (owner === process.pid || alive(owner)) return false;
        rmSync(file, { force: true });
      }
    }
    return false;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** `{ port_min, port_max }` for a node's `media` configuration, this process's until it exits. */
export function mediaRange(): { port_min: number; port_max: number } {
  mkdirSync(DIR, { recursive: true });
  for (let i = 0; i < SLICES; i++) {
    const file = join(DIR, String(i));
    if (!claim(file)) continue;
    if (mine.length === 0) process.once('exit', () => mine.forEach((f) => rmSync(f, { force: true })));
    mine.push(file);
    return { port_min: FIRST + i * SLICE, port_max: FIRST + (i + 1) * SLICE - 1 };
  }
  throw new Error('no free media port slice for this test');
}
