import { pino, type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Node name stamped on every line (edge1, core1). */
  node?: string;
  /** Where lines go (default stdout); tests pass a stream to read what was logged. */
  destination?: NodeJS.WritableStream;
  /**
   * `json` (one object a line, for journald, files and log shippers) or `pretty` (coloured, for a person at a
   * terminal). Default: MRA_LOG_FORMAT, else pretty when stdout is a terminal and JSON otherwise.
   */
  format?: 'json' | 'pretty';
}

/**
 * What diagnostics needs of a process's logging: every logger's level at once (pino children keep the level they
 * were made with, so the root alone would not do), and a copy of each line while a capture runs.
 */
export interface LogControl {
  readonly level: string;
  setLevel(level: string): void;
  /** Receives every line as it is written (JSON), until the returned function is called. */
  tap(receive: (line: string) => void): () => void;
}

const controls = new WeakMap<Logger, LogControl>();

/** The control of a logger made by createLogger (or a child of one); undefined for others. */
export function logControlOf(log: Logger): LogControl | undefined {
  return controls.get(log);
}

export function logFormat(
  env: NodeJS.ProcessEnv = process.env,
  tty = process.stdout.isTTY === true,
): 'json' | 'pretty' {
  const f = env.MRA_LOG_FORMAT;
  if (f === 'json' || f === 'pretty') return f;
  return tty ? 'pretty' : 'json';
}

/** One structured logger per process; planes take children of it (`log.child({ plane: 'traversal' })`). */
export function createLogger(opts: LogOptions = {}): Logger {
  const loggers = new Set<WeakRef<Logger>>();
  const taps = new Set<(line: string) => void>();
  const format = opts.format ?? (opts.destination ? 'json' : logFormat());
  // Lines are JSON up to here, whatever the terminal gets: the tap (a diagnostic bundle) always reads JSON.
  const out: { write(s: string): unknown } =
    opts.destination ??
    (format === 'pretty'
      ? pretty({
          colorize: true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname,node,plane',
          messageFormat: '{node}{if plane} {plane}{end}: {msg}',
          singleLine: true,
          sync: true,
        })
      : pino.destination(1));
  const destination = {
    write(line: string) {
      out.write(line);
      for (const t of taps) t(line);
    },
  };
  let control: LogControl;
  const options: LoggerOptions = {
    level: opts.level ?? process.env.MRA_LOG_LEVEL ?? 'info',
    base: opts.node ? { node: opts.node } : { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    onChild: (child) => {
      loggers.add(new WeakRef(child));
      controls.set(child, control);
    },
  };
  const root = pino(options, destination);
  loggers.add(new WeakRef(root));
  control = {
    get level() {
      return root.level;
    },
    setLevel(level) {
      for (const ref of loggers) {
        const l = ref.deref();
        if (l) l.level = level;
        else loggers.delete(ref);
      }
    },
    tap(receive) {
      taps.add(receive);
      return () => taps.delete(receive);
    },
  };
  controls.set(root, control);
  return root;
}

/** A logger that drops everything; for unit tests that do not read logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
export { tlsKeyLog } from './tls-keylog.js';
