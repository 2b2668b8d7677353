/**
 * Best-effort work whose failure must not stop the caller (a last BYE, closing a socket
 * that may already be gone) but must not vanish either: the failure is logged at `warn`,
 * at most once per `what` per second, with how many were skipped since the last line.
 * This replaces silent `.catch(() => undefined)` and bare `catch {}` blocks.
 */
import { toBridgeError } from './errors.js';
import { LogThrottle, type Logger } from './logger.js';

const throttle = new LogThrottle(1000);

function report(log: Logger, what: string, err: unknown): void {
  const skipped = throttle.take(what);
  if (skipped === undefined) return;
  const e = toBridgeError(err);
  log.warn(
    { err: e.message, code: e.code, ...(skipped > 0 ? { alsoFailedSinceLastLine: skipped } : {}) },
    `${what} failed (ignored)`,
  );
}

/**
 * Runs `fn`; a throw or a rejection is logged (throttled) and swallowed. Returns the
 * result, or `undefined` when it failed. Never throws, never rejects.
 */
export function bestEffort<T>(log: Logger, what: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    report(log, what, err);
    return undefined;
  }
}

/** Like {@link bestEffort} for a promise already made: resolves `undefined` on failure. */
export function bestEffortAsync<T>(log: Logger, what: string, p: Promise<T>): Promise<T | undefined> {
  return p.then(
    (v) => v,
    (err: unknown) => {
      report(log, what, err);
      return undefined;
    },
  );
}
