// The MRA domains: the table (which domains the pair serves and for what) and, on core, the table as the cluster's
// shared configuration with the operator's actions on it.
export * from './table.js';
export { parseDomains, shareDomains } from './shared.js';
