// The capacity command's options as an operator types them, checked before anything starts: every refusal names
// the option and what it accepts.
import { checkShare, machineCpus, planCpus } from './cgroup.js';
import { CapacityError } from './errors.js';
import type { PairKind } from './pair.js';
import type { CapacityRunOptions } from './run.js';
import { sizeNamed, type SizeKey } from './sizes.js';
import { CRITERIA } from './step.js';

export interface CapacityCliOptions {
  pair?: string;
  shares?: string;
  size?: string;
  start?: string;
  maxCalls?: string;
  refine?: string;
  cps?: string;
  window?: string;
  settle?: string;
  rates?: string;
  video?: boolean;
  budget?: string;
  mediaPorts?: string;
  maxP99?: string;
}

/** --media-ports edge=A-B,core=C-D,rtpengine=E-F: each node's own UDP range (the defaults suit a host of its own). */
function mediaPorts(text: string | undefined): CapacityRunOptions['mediaPorts'] {
  if (text === undefined) return undefined;
  const ranges: Record<string, [number, number]> = {};
  for (const part of text.split(',')) {
    const m = /^\s*(edge|core|rtpengine)=(\d+)-(\d+)\s*$/.exec(part);
    const [lo, hi] = m ? [Number(m[2]), Number(m[3])] : [0, 0];
    if (!m || lo < 1024 || hi > 65535 || hi < lo + 3)
      throw new CapacityError(
        `--media-ports must be edge=FIRST-LAST,core=FIRST-LAST,rtpengine=FIRST-LAST (ports 1024-65535, two pairs at least each); got "${part}"`,
      );
    ranges[m[1]!] = [lo, hi];
  }
  // Our pair is two nodes: one range alone would leave the other on its default, which may be the range in use.
  if (Boolean(ranges.edge) !== Boolean(ranges.core))
    throw new CapacityError(`--media-ports names edge and core together (one range each); got "${text}"`);
  return {
    ...(ranges.edge && ranges.core ? { ours: [ranges.edge, ranges.core] } : {}),
    ...(ranges.rtpengine ? { reference: [ranges.rtpengine] } : {}),
  };
}

function number(
  name: string,
  text: string | undefined,
  fallback: number,
  check: (n: number) => boolean,
  what: string,
): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || !check(n)) throw new CapacityError(`--${name} must be ${what}; got "${text}"`);
  return n;
}

function list(name: string, text: string, what: string): number[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const out = parts.map(Number);
  if (!parts.length || out.some((n) => !Number.isFinite(n) || n <= 0))
    throw new CapacityError(`--${name} must be a comma-separated list of ${what}; got "${text}"`);
  return out;
}

/** The run's options and the sizes the report compares with, from the command's flags. */
export function capacityOptions(
  c: CapacityCliOptions,
  cpus = machineCpus(),
): { run: Omit<CapacityRunOptions, 'onProgress' | 'log'>; sizes: SizeKey[] } {
  const pair = (c.pair ?? 'ours').toLowerCase();
  const pairs: PairKind[] =
    pair === 'both'
      ? ['ours', 'reference']
      : pair === 'ours' || pair === 'lab'
        ? ['ours']
        : pair === 'reference'
          ? ['reference']
          : [];
  if (!pairs.length)
    throw new CapacityError(
      `--pair must be ours (the built-in lab pair: edge + core), reference (Kamailio + rtpengine) or both; got "${c.pair}"`,
    );
  const sizes: SizeKey[] = c.size ? [sizeNamed(c.size).key] : [];
  const shares = list('shares', c.shares ?? '0.25,0.5,1', 'cores per node (0.25,0.5,1)');
  for (const s of shares) checkShare(s, cpus, '--shares');
  for (const s of shares) planCpus([s, s], cpus);
  // A size whose nodes fit on this machine is measured at its own share too.
  for (const k of sizes) {
    const v = sizeNamed(k).vcpu;
    if (2 * v <= cpus && !shares.includes(v)) shares.push(v);
  }
  shares.sort((a, b) => a - b);
  const start = number('start', c.start, 50, (n) => Number.isInteger(n) && n >= 1, 'a whole number of calls ≥ 1');
  const max = number(
    'max-calls',
    c.maxCalls,
    4000,
    (n) => Number.isInteger(n) && n >= start && n <= 8000,
    `a whole number of calls from --start (${start}) to 8000`,
  );
  return {
    run: {
      pairs,
      shares,
      ladder: {
        start,
        max,
        refine: number(
          'refine',
          c.refine,
          2,
          (n) => Number.isInteger(n) && n >= 0 && n <= 6,
          'a whole number from 0 to 6',
        ),
      },
      cps: number('cps', c.cps, 100, (n) => n > 0 && n <= 1000, 'calls per second above 0, at most 1000'),
      windowMs: 1000 * number('window', c.window, 10, (n) => n >= 1 && n <= 600, 'seconds from 1 to 600'),
      settleMs: 1000 * number('settle', c.settle, 2, (n) => n >= 0 && n <= 60, 'seconds from 0 to 60'),
      rates: c.rates === 'none' ? [] : list('rates', c.rates ?? '25,50,100,200', 'calls per second'),
      rateSeconds: 4,
      rateHoldMs: 2000,
      video: c.video === true,
      criteria: {
        ...CRITERIA,
        maxP99Ms: number(
          'max-p99',
          c.maxP99,
          CRITERIA.maxP99Ms,
          (n) => n > 0 && n <= 10_000,
          'milliseconds above 0, at most 10000',
        ),
      },
      ...(c.mediaPorts !== undefined ? { mediaPorts: mediaPorts(c.mediaPorts) } : {}),
      ...(c.budget !== undefined
        ? { budgetMs: 60_000 * number('budget', c.budget, 0, (n) => n > 0, 'minutes above 0') }
        : {}),
    },
    sizes,
  };
}
