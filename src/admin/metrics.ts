import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Alarm } from './alarms.js';
import { METRIC_FAMILIES } from './metric-families.js';

type Doc = Record<string, unknown>;

// These walk every handle, resource or /proc/self/fd entry on each scrape: 20 ms at 10,000 client connections,
// spent on the event loop that carries SIP. The cheap defaults (CPU, memory, heap, event-loop lag, GC) stay.
const COSTLY_DEFAULTS = [
  'process_open_fds',
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_requests',
  'nodejs_active_requests_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
];

/**
 * The Prometheus registry for one node: read from the same status document the page shows, at scrape time,
 * so the two can never disagree. The families are METRIC_FAMILIES (docs/metrics.md); the process and Node.js
 * runtime figures keep the names every exporter gives them (`process_cpu_seconds_total`, `nodejs_heap_…`),
 * so stock dashboards find them. Every series carries `role` (edge or core).
 */
export interface NodeMetrics {
  /** The exposition text for one scrape. */
  scrape(): Promise<string>;
  contentType: string;
}

export function createMetrics(read: () => { doc: Doc; alarms: Alarm[] }, role: string): NodeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry });
  for (const name of COSTLY_DEFAULTS) registry.removeSingleMetric(name);
  let snapshot: { doc: Doc; alarms: Alarm[] } | undefined;
  // One read per scrape, shared by every family's collect().
  const current = () => (snapshot ??= read());
  for (const f of METRIC_FAMILIES) {
    if (f.role && f.role !== role) continue;
    const base = { name: f.name, help: f.help, labelNames: [...f.labels], registers: [registry] };
    if (f.type === 'gauge') {
      new Gauge({
        ...base,
        collect() {
          this.reset();
          for (const [labels, v] of f.read(current())) this.set(labels, v);
        },
      });
    } else {
      // A counter here mirrors one the plane keeps: its value is set from the plane's figure at each scrape.
      new Counter({
        ...base,
        collect() {
          this.reset();
          for (const [labels, v] of f.read(current())) this.inc(labels, Math.max(0, v));
        },
      });
    }
  }
  return {
    scrape: async () => {
      snapshot = undefined;
      try {
        return await registry.metrics();
      } finally {
        snapshot = undefined;
      }
    },
    contentType: registry.contentType,
  };
}
