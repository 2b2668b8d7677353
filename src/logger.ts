/**
 * A logger shaped like pino: level methods taking either `(msg)` or `(obj, msg)`, and
 * `child(bindings)`. The library never imports pino; pass any compatible logger.
 * The default is silent.
 */
/** One level's log method, as pino has it: a message, or fields and then a message. */
export interface LogFn {
  (msg: string): void;
  (obj: Record<string, unknown>, msg?: string): void;
}

/**
 * What the library logs through: any pino-compatible logger fits (pino itself, or a small
 * adapter over another library). The default everywhere is {@link silentLogger}.
 */
export interface Logger {
  /** Detail useful when debugging one call (SIP messages sent and received, timings). */
  debug: LogFn;
  /** A call's milestones: INVITE sent, answered, media flowing, ended. */
  info: LogFn;
  /** Something went wrong but the call or listener carries on (refused requests, retries). */
  warn: LogFn;
  /** A failure that ends a call or an operation. */
  error: LogFn;
  /** A logger whose every record also carries `bindings` (per call: `callId`, `room`, `phone`). */
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

/** The four levels the library logs at, from the most to the least verbose. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One log call kept by {@link createMemoryLogger}. */
export interface LogRecord {
  /** The level it was logged at. */
  level: LogLevel;
  /** The message (empty when only fields were logged). */
  msg: string;
  /** The bindings of the child logger it went through (merged from every `child()` call). */
  bindings: Record<string, unknown>;
  /** The fields object passed before the message, if any. */
  obj: Record<string, unknown> | undefined;
}

/**
 * A logger that keeps every record in memory (for tests and for users who want to
 * assert on log points). Children share the parent's record array, which is returned as
 * `records` (or is the array passed in).
 */
export function createMemoryLogger(
  records: LogRecord[] = [],
  bindings: Record<string, unknown> = {},
): Logger & {
  /** Every record logged so far through this logger and its children, oldest first. */
  records: LogRecord[];
} {
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
