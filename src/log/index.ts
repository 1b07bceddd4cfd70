import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Node name stamped on every line (edge1, core1). */
  node?: string;
  /** Where lines go (default stdout); tests pass a stream to read what was logged. */
  destination?: NodeJS.WritableStream;
}

/** One structured logger per process; planes take children of it (`log.child({ plane: 'traversal' })`). */
export function createLogger(opts: LogOptions = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? process.env.MRA_LOG_LEVEL ?? 'info',
    base: opts.node ? { node: opts.node } : { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A logger that drops everything; for unit tests that do not read logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
