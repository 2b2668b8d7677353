/**
 * A monotonic millisecond clock, injected wherever time is read so that timer logic can
 * be tested with a fake clock. The system clock is `performance.now()`: monotonic and
 * sub-millisecond, unaffected by wall-clock adjustments.
 */
import { performance } from 'node:perf_hooks';

/** A monotonic clock in milliseconds (fractional). Only differences are meaningful. */
export interface Clock {
  /** Milliseconds since an arbitrary origin; never goes backwards. */
  now(): number;
}

/** The process clock: `performance.now()`. */
export const systemClock: Clock = {
  now: () => performance.now(),
};

/** A clock that only moves when told to: for tests of timer and pacing logic. */
export class ManualClock implements Clock {
  private t: number;

  constructor(startMs = 0) {
    this.t = startMs;
  }

  /** The current time in ms. */
  now(): number {
    return this.t;
  }

  /** Moves the clock forward by `ms` (negative values are rejected silently as 0). */
  advance(ms: number): number {
    if (ms > 0) this.t += ms;
    return this.t;
  }

  /** Sets the clock to `ms` if that is not in the past. */
  set(ms: number): void {
    if (ms > this.t) this.t = ms;
  }
}
