// The report's plots: Vega-Lite specifications compiled to Vega and rendered to SVG headless (vega's 'none'
// renderer needs no browser and no canvas). Ours and the reference share each plot's axes.
import { View, parse } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { CapacityRun } from './run.js';

export interface Plot {
  file: string;
  title: string;
  svg: string;
}

type Row = Record<string, string | number | null>;

async function render(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

const base = (title: string, values: Row[]) => ({
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  title,
  width: 460,
  height: 260,
  data: { values },
  config: { font: 'sans-serif', legend: { orient: 'bottom', columns: 2 } },
});

const finite = (x: number) => (Number.isFinite(x) ? x : null);

export async function plots(run: CapacityRun): Promise<Plot[]> {
  const out: Plot[] = [];
  const audio = run.runs.filter((r) => !r.video);
  const largest = Math.max(...run.runs.map((r) => r.share));

  // Capacity against the share each node had.
  const cap: Row[] = run.runs.map((r) => ({
    pair: r.label,
    share: r.share,
    calls: r.capacity,
    kind: r.video ? 'video' : 'audio',
  }));
  out.push({
    file: 'capacity-vs-share.svg',
    title: 'Capacity (concurrent calls) against the CPU share of each node',
    svg: await render({
      ...base('Capacity against CPU share per node', cap),
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'share', type: 'quantitative', title: 'cores per node (quota)' },
        y: {
          field: 'calls',
          type: 'quantitative',
          title: `concurrent calls at 0 failed set-up, loss < ${run.options.criteria.maxLossPercent} %, p99 < ${run.options.criteria.maxP99Ms} ms`,
        },
        color: { field: 'pair', type: 'nominal', title: null },
        strokeDash: { field: 'kind', type: 'nominal', title: null },
      },
    } as TopLevelSpec),
  });

  // Loss and p99 against concurrent calls, every step of every audio search.
  const steps: Row[] = audio.flatMap((r) =>
    r.steps.map((s) => ({
      series: `${r.label}, ${r.share} core`,
      pair: r.label,
      share: String(r.share),
      calls: s.calls,
      loss: finite(Math.max(s.lossPercent.up, s.lossPercent.down)),
      p99: finite(s.latencyMs.p99),
    })),
  );
  for (const [field, file, title, threshold, yTitle] of [
    [
      'loss',
      'loss-vs-calls.svg',
      'Loss against concurrent calls',
      run.options.criteria.maxLossPercent,
      'loss in the window, worse direction (%)',
    ],
    [
      'p99',
      'p99-vs-calls.svg',
      'p99 latency through the pair against concurrent calls',
      run.options.criteria.maxP99Ms,
      'p99 one-way latency, worse direction (ms)',
    ],
  ] as const) {
    out.push({
      file,
      title,
      svg: await render({
        ...base(title, steps),
        layer: [
          {
            mark: { type: 'line', point: true },
            encoding: {
              x: { field: 'calls', type: 'quantitative', title: 'concurrent calls', scale: { type: 'log' } },
              y: { field, type: 'quantitative', title: yTitle, scale: { type: 'symlog' } },
              color: { field: 'pair', type: 'nominal', title: null },
              strokeDash: { field: 'share', type: 'nominal', title: 'cores per node' },
              detail: { field: 'series' },
            },
          },
          { mark: { type: 'rule', color: 'firebrick', strokeDash: [4, 4] }, encoding: { y: { datum: threshold } } },
        ],
      } as TopLevelSpec),
    });
  }

  // CPU per call per node against load, at the largest share: flat lines are linear cost.
  const cpu: Row[] = audio
    .filter((r) => r.share === largest)
    .flatMap((r) =>
      r.steps
        .filter((s) => s.up > 0)
        .flatMap((s) =>
          Object.entries(s.cpuMsPerCallSecond).map(([node, ms]) => ({
            node: `${r.label}: ${node}`,
            calls: s.calls,
            ms: finite(ms),
          })),
        ),
    );
  out.push({
    file: 'cpu-per-call.svg',
    title: `CPU per call per node against concurrent calls (${largest} core per node)`,
    svg: await render({
      ...base(`CPU per call per node (${largest} core per node)`, cpu),
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'calls', type: 'quantitative', title: 'concurrent calls', scale: { type: 'log' } },
        y: { field: 'ms', type: 'quantitative', title: 'CPU ms per second per call' },
        color: { field: 'node', type: 'nominal', title: null },
      },
    } as TopLevelSpec),
  });

  // Set-up time against the offered rate.
  const rates: Row[] = run.runs.flatMap((r) =>
    r.rates.flatMap((x) => [
      { pair: r.label, cps: x.cps, ms: finite(x.setup.p50Ms), percentile: 'p50' },
      { pair: r.label, cps: x.cps, ms: finite(x.setup.p99Ms), percentile: 'p99' },
    ]),
  );
  if (rates.length) {
    out.push({
      file: 'setup-vs-rate.svg',
      title: 'Set-up time (INVITE → 200) against calls per second',
      svg: await render({
        ...base('Set-up time against calls per second', rates),
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'cps', type: 'quantitative', title: 'calls set up per second (offered)' },
          y: { field: 'ms', type: 'quantitative', title: 'INVITE → 200 (ms)', scale: { type: 'symlog' } },
          color: { field: 'pair', type: 'nominal', title: null },
          strokeDash: { field: 'percentile', type: 'nominal', title: null },
        },
      } as TopLevelSpec),
    });
  }
  return out;
}
