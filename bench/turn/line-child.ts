// A child process driven one line at a time: a command on stdin, one JSON line back on stdout.
import type { ChildProcess } from 'node:child_process';
import { readLines, stopChild } from '../media/child.js';

export class LineChild {
  constructor(
    readonly child: ChildProcess,
    readonly what: string,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  /** The first line the child prints by itself (its ports). */
  async hello<T>(timeoutMs = 30000): Promise<T> {
    const [line] = await readLines(this.child, (l) => l.length >= 1, this.what, timeoutMs);
    return this.#parse<T>(line!, 'start');
  }

  async ask<T>(line: string, timeoutMs = 30000): Promise<T> {
    const reply = readLines(this.child, (l) => l.length >= 1, `${this.what} '${line.split(' ')[0]}'`, timeoutMs);
    this.child.stdin!.write(`${line}\n`);
    const [text] = await reply;
    return this.#parse<T>(text!, line);
  }

  #parse<T>(text: string, line: string): T {
    const parsed = JSON.parse(text) as T & { error?: string };
    if (parsed.error) throw new Error(`${this.what} '${line}': ${parsed.error}`);
    return parsed;
  }

  close(): Promise<void> {
    return stopChild(this.child, 10000);
  }
}
