/**
 * Drain in maintenance mode: the seeds' "existing calls and chat sessions continue; as users end them the node
 * comes to carry no traffic". Read off the status document by the figures every section type shares
 * (SectionStatus in src/host/status.ts), so any plane that publishes `calls` or `streams` takes part without
 * knowing about maintenance mode.
 */
import { TRAFFIC, sectionFigures, type StatusDocument } from '../host/index.js';

export interface DrainReport {
  since: string;
  /** "<section>.<field>" → count, for every traffic figure still above zero. */
  active: Record<string, number>;
  /** Registrations still held here (informative: clients move them when they next refresh). */
  registrations: number;
  /** No call and no chat session left: the node can be stopped without cutting anyone off. */
  drained: boolean;
}

export function drainReport(doc: StatusDocument, since: string): DrainReport {
  const active: Record<string, number> = {};
  let registrations = 0;
  for (const [name, section] of Object.entries(doc)) {
    const figures = sectionFigures(section);
    for (const field of TRAFFIC) {
      const v = figures[field];
      if (v !== undefined && v > 0) active[`${name}.${field}`] = v;
    }
    if (figures.registrations !== undefined) registrations = Math.max(registrations, figures.registrations);
  }
  return { since, active, registrations, drained: Object.keys(active).length === 0 };
}
