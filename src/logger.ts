/**
 * A logger shaped like pino: level methods taking either `(msg)` or `(obj, msg)`, and
 * `child(bindings)`. The library never imports pino; pass any compatible logger.
 * The default is silent.
 */
export interface LogFn {
  (msg: string): void;
  (obj: Record<string, unknown>, msg?: string): void;
}

export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

const noop: LogFn = () => {};

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogRecord {
  level: LogLevel;
  msg: string;
  bindings: Record<string, unknown>;
  obj: Record<string, unknown> | undefined;
}

/**
 * A logger that keeps every record in memory (for tests and for users who want to
 * assert on log points). Children share the parent's record array.
 */
export function createMemoryLogger(
  records: LogRecord[] = [],
  bindings: Record<string, unknown> = {},
): Logger & { records: LogRecord[] } {
  const make =
    (level: LogLevel): LogFn =>
    (a: string | Record<string, unknown>, b?: string) => {
      if (typeof a === 'string') records.push({ level, msg: a, bindings, obj: undefined });
      else records.push({ level, msg: b ?? '', bindings, obj: a });
    };
  return {
    records,
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
    child: (more) => createMemoryLogger(records, { ...bindings, ...more }),
  };
}
