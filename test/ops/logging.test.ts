import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, logControlOf, logFormat } from '../../src/log/index.js';
import { CLI } from '../support/node-files.js';

test('the log format: pretty on a terminal, JSON otherwise, MRA_LOG_FORMAT decides when set', () => {
  assert.equal(logFormat({}, true), 'pretty');
  assert.equal(logFormat({}, false), 'json');
  assert.equal(logFormat({ MRA_LOG_FORMAT: 'json' }, true), 'json');
  assert.equal(logFormat({ MRA_LOG_FORMAT: 'pretty' }, false), 'pretty');
});

test("one call sets every logger's level, children and grandchildren made before it too; a tap sees each line as JSON", () => {
  const lines: string[] = [];
  const log = createLogger({
    node: 'n1',
    level: 'info',
    destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }),
  });
  const plane = log.child({ plane: 'sip' });
  const deeper = plane.child({ conn: 7 });
  deeper.debug('not yet');
  logControlOf(deeper)!.setLevel('debug');
  assert.deepEqual([log.level, plane.level, deeper.level], ['debug', 'debug', 'debug']);
  deeper.debug('now');
  const seen: string[] = [];
  const stop = logControlOf(log)!.tap((l) => seen.push(l));
  plane.info('tapped');
  stop();
  plane.info('after');
  assert.deepEqual(
    lines.map((l) => JSON.parse(l).msg),
    ['now', 'tapped', 'after'],
  );
  assert.deepEqual(
    seen.map((l) => JSON.parse(l).msg),
    ['tapped'],
  );
  assert.equal(JSON.parse(seen[0]!).plane, 'sip');
});

/** Runs the lab for a few seconds and gives back what it printed on stdout. */
function labOutput(viaTerminal: boolean): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'mra-logfmt-'));
  const args = [CLI, 'lab', '--dir', dir, '--ephemeral-ports', '--clients', '0'];
  // script(1) gives the lab a real pseudo-terminal, as `npm start` in a shell has.
  const p = viaTerminal
    ? spawn('script', ['-qfec', [process.execPath, ...args].map((a) => `'${a}'`).join(' '), '/dev/null'], {
        env: { ...process.env, MRA_LOG_FORMAT: '' },
      })
    : spawn(process.execPath, args, { env: { ...process.env, MRA_LOG_FORMAT: '' } });
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.resume();
  return new Promise((resolve) => {
    const timer = setTimeout(() => p.kill('SIGTERM'), 6000);
    p.on('close', () => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      resolve(out);
    });
  });
}

test('npm start on a terminal logs coloured single lines; piped, the same run logs JSON lines', async () => {
  const [tty, piped] = await Promise.all([labOutput(true), labOutput(false)]);
  assert.match(
    tty,
    /\[\d\d:\d\d:\d\d\.\d{3}\] \x1b\[32mINFO\x1b\[39m: \x1b\[36medge1( traversal)?: traversal server listening/,
  );
  assert.doesNotMatch(tty, /"level":30/);
  const json = piped
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { level: number; node: string; msg: string });
  assert.ok(
    json.some((l) => l.level === 30 && l.node === 'edge1' && l.msg === 'traversal server listening'),
    'JSON lines when stdout is not a terminal',
  );
});
