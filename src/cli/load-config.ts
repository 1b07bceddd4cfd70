import { ConfigError, loadConfig, type NodeConfig } from '../config/index.js';

/** Exit codes: 0 done, 1 runtime failure (or the node said no), 2 bad configuration, usage, or no admin API. */
export const EXIT_CONFIG = 2;

/** A node's configuration, or exit 2 with every problem named (file, line, field). */
export function loadOrExit(file: string, role?: 'edge' | 'core' | 'relay'): NodeConfig {
  try {
    const cfg = loadConfig(file);
    if (role && cfg.role !== role)
      throw new ConfigError(file, [
        { field: 'role', message: `is "${cfg.role}", but this command starts a ${role} node` },
      ]);
    return cfg;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error:\n${err.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
}
