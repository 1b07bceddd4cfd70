import { spawn } from 'node:child_process';
import { CLI } from './node-files.js';

/**
 * Runs `mra-edge …` as an operator would (a child process) and gives back its exit code and output. Never
 * spawnSync: the node under test often runs on this process's own event loop.
 */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, MRA_ADMIN_URL: '', MRA_ADMIN_TOKEN: '', ...env },
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}
