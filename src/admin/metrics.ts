import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Alarm } from './alarms.js';

type Doc = Record<string, unknown>;
const isObject = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);

// Deeper than this a status document holds per-item detail (one call, one flow) that would explode label sets.
const MAX_DEPTH = 3;
const SAFE = /[^a-zA-Z0-9_]/g;

/** Every number (and boolean, as 0/1) in the status document, as section + dotted field path. */
export function numericFigures(doc: Doc): Array<{ section: string; field: string; value: number }> {
  const out: Array<{ section: string; field: string; value: number }> = [];
  const walk = (section: string, path: string[], v: unknown) => {
    if (typeof v === 'number' && Number.isFinite(v)) out.push({ section, field: path.join('.'), value: v });
    else if (typeof v === 'boolean') out.push({ section, field: path.join('.'), value: v ? 1 : 0 });
    else if (isObject(v) && path.length < MAX_DEPTH) for (const [k, child] of Object.entries(v)) walk(section, [...path, k], child);
    else if (Array.isArray(v) && path.length < MAX_DEPTH) out.push({ section, field: [...path, 'count'].join('.'), value: v.length });
  };
  for (const [section, value] of Object.entries(doc)) {
    if (section === 'alarms') continue;
    if (isObject(value)) for (const [k, child] of Object.entries(value)) walk(section, [k], child);
    else if (Array.isArray(value)) out.push({ section, field: 'count', value: value.length });
  }
  return out;
}

const DEFAULTS_PREFIX = 'mra_process_';
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
 * so the two can never disagree. Named gauges for what dashboards alert on; `mra_status` for the rest.
 */
export interface NodeMetrics {
  /** The exposition text for one scrape. */
  scrape(): Promise<string>;
  contentType: string;
}

export function createMetrics(read: () => { doc: Doc; alarms: Alarm[] }): NodeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: DEFAULTS_PREFIX });
  for (const name of COSTLY_DEFAULTS) registry.removeSingleMetric(DEFAULTS_PREFIX + name);
  let snapshot: { doc: Doc; alarms: Alarm[] } | undefined;
  // One read per scrape, shared by every gauge's collect().
  const current = () => (snapshot ??= read());
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, s: { doc: Doc; alarms: Alarm[] }) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill(this, current());
      },
    });
  gauge('mra_maintenance_mode', '1 when the node refuses new registrations, sign-ins and calls', [], (g, s) => g.set(s.doc.maintenance === true ? 1 : 0));
  gauge('mra_traversal_link_up', '1 when the traversal link is up', [], (g, s) => g.set(isObject(s.doc.traversal) && s.doc.traversal.state === 'up' ? 1 : 0));
  gauge('mra_alarms_active', 'Active alarms by severity', ['severity'], (g, s) => {
    g.set({ severity: 'warning' }, s.alarms.filter((a) => a.severity === 'warning').length);
    g.set({ severity: 'error' }, s.alarms.filter((a) => a.severity === 'error').length);
  });
  gauge('mra_alarm', 'One series per active alarm (value 1)', ['id', 'severity'], (g, s) => {
    for (const a of s.alarms) g.set({ id: a.id, severity: a.severity }, 1);
  });
  gauge('mra_status', 'Every figure of GET /api/status: section and dotted field path', ['section', 'field'], (g, s) => {
    for (const f of numericFigures(s.doc)) g.set({ section: f.section.replace(SAFE, '_'), field: f.field }, f.value);
  });
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
