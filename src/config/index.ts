export {
  ConfigError,
  loadConfig,
  parseConfig,
  buildConfig,
  isLoopback,
  fieldProblems,
  type ConfigProblem,
} from './load.js';
export {
  DEFAULT_PORTS,
  type NodeConfig,
  type EdgeConfig,
  type CoreConfig,
  type EdgeConfigInput,
  type CoreConfigInput,
  type RelayConfig,
  type RelayConfigInput,
} from './schema.js';
export { muxPortCount } from './derived.js';
export { domainSchema, type DomainConfig } from './inside.js';
export { DEFAULT_TURN_PORT, DEFAULT_DENIED_PEERS } from './turn.js';
