// The lab as a test starts it in its own process: every port chosen by the OS, no log, and a media range of its own
// on each host (tests run side by side); what a test needs besides (no scheduled calls, fewer clients) is added.
import { join } from 'node:path';
import { startLab, type Lab, type LabOptions } from '../../src/lab/index.js';
import { mediaRange } from './media-range.js';

/** Starts the lab under `dir`/lab. */
export function startTestLab(dir: string, opts: Omit<LabOptions, 'dir'> = {}): Promise<Lab> {
  return startLab({
    dir: join(dir, 'lab'),
    ports: 'ephemeral',
    logLevel: 'silent',
    media: { edge: mediaRange(), core: mediaRange(), clients: mediaRange() },
    ...opts,
  });
}
