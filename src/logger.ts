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

/**
 * Rate limit for log lines an attacker can trigger (refused requests, bad datagrams): at
 * most one line per `key` per `intervalMs`. `take(key)` returns `undefined` when the line
 * should be skipped, or how many were skipped since the last one logged.
 */
export class LogThrottle {
  private readonly last = new Map<string, { at: number; skipped: number }>();

  constructor(
    private readonly intervalMs = 1000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  take(key: string): number | undefined {
    const t = this.now();
    const e = this.last.get(key);
    if (e !== undefined && t - e.at < this.intervalMs) {
      e.skipped++;
      return undefined;
    }
    const skipped = e?.skipped ?? 0;
    if (this.last.size >= 256 && e === undefined) this.last.clear(); // bounded
    this.last.set(key, { at: t, skipped: 0 });
    return skipped;
  }
}
