// JSON lines from a child process's stdout, awaited by predicate (tools and nodes report that way).
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';

export interface LineReader {
  next(
    what: string,
    match: (o: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  all(): Array<Record<string, unknown>>;
}

export function jsonLines(child: ChildProcess): LineReader {
  const seen: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      seen.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      return;
    }
    for (const w of waiters) w();
  });
  return {
    all: () => seen,
    next(what, match, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = seen.find(match);
          if (!hit) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}
