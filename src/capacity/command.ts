// `mra-edge capacity` (and `npm run bench:capacity`): checks the options, runs the search with a progress line,
// writes the report, and says where it is and what it found.
import { resolve } from 'node:path';
import { capacityOptions, type CapacityCliOptions } from './options.js';
import { callsPerCore, writeReport } from './report.js';
import { runCapacity } from './run.js';
import type { Progress } from './step.js';

export interface CapacityCommandOptions extends CapacityCliOptions {
  out?: string;
}

function progressLine(p: Progress): string {
  const loss = p.lossPercent === undefined ? '' : ` · loss ${p.lossPercent.toFixed(3)} %`;
  const cpu = p.cpu
    ? ` · CPU ${Object.entries(p.cpu)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(' ')}`
    : '';
  return `${p.pair}: step ${p.calls} calls · ${p.phase} · ${p.up} up${loss}${cpu}`;
}

/** Runs the command; resolves with the report's path. Option errors throw CapacityError before anything starts. */
export async function capacityCommand(
  o: CapacityCommandOptions,
  write: (s: string) => void = (s) => process.stderr.write(s),
): Promise<string> {
  const { run: opts, sizes } = capacityOptions(o);
  const out = resolve(o.out ?? 'capacity-report');
  const tty = process.stderr.isTTY === true;
  let last = 0;
  const run = await runCapacity({
    ...opts,
    log: (line) => write(`${tty ? '\r\x1b[K' : ''}[capacity] ${line}\n`),
    onProgress: (p) => {
      if (tty) return write(`\r\x1b[K${progressLine(p)}`);
      if (Date.now() - last >= 5000) {
        last = Date.now();
        write(`[capacity] ${progressLine(p)}\n`);
      }
    },
  });
  const argv = process.argv.slice(2).join(' ');
  const report = await writeReport(run, out, `mra-edge ${argv}`.trim(), { sizes });
  write(
    `${tty ? '\r\x1b[K' : ''}[capacity] report: ${out}/capacity.md (plots: ${report.files.filter((f) => f.endsWith('.svg')).join(', ')})\n`,
  );
  for (const r of run.runs)
    write(
      `[capacity] ${r.label} at ${r.share} core per node${r.video ? ' (video)' : ''}: ${r.capacity} concurrent calls (${Math.round(callsPerCore(r))} per core); above it: ${r.limitedBy}\n`,
    );
  return `${out}/capacity.md`;
}
