/**
 * The one clock of the library: a monotonic millisecond reading plus the timer functions,
 * injected wherever time is read or a timer is armed (SIP transactions, RTP timeouts, the
 * paced sender, LiveKit connect bounds, the bridge's own timers) so that every timer can be
 * tested on a fake clock (`FakeTimerClock`, `exotel-livekit-bridge/testing`).
 *
 * This is the only file that calls the global timer functions. The system clock reads
 * `performance.now()`: monotonic and sub-millisecond, unaffected by wall-clock adjustments.
 */
import { performance } from 'node:perf_hooks';
import { timerArmed, timerSettled } from './resources.js';

/** An opaque handle returned by {@link TimerClock.setTimeout} and {@link TimerClock.setImmediate}. */
export type TimerHandle = object | number;

/** How a timer is armed. */
export interface TimerOptions {
  /**
   * The timer alone must not keep the process alive (Node's `unref()`). A fake clock
   * ignores it.
   */
  unref?: boolean;
}

/** A monotonic clock that can also schedule callbacks. */
export interface TimerClock {
  /** Milliseconds (fractional) since an arbitrary origin; never goes backwards. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number, options?: TimerOptions): TimerHandle;
  /** Cancels a callback scheduled with `setTimeout` (no-op when it already ran). */
  clearTimeout(handle: TimerHandle): void;
  /** Runs `fn` once on the next event-loop turn, after pending I/O (a fake: a 0 ms timer). */
  setImmediate(fn: () => void): TimerHandle;
  /** Cancels a callback scheduled with `setImmediate` (no-op when it already ran). */
  clearImmediate(handle: TimerHandle): void;
}

/** The process clock: `performance.now()` and Node's timer functions. */
export const systemTimerClock: TimerClock = Object.freeze({
  now: () => performance.now(),
  setTimeout: (fn: () => void, ms: number, options?: TimerOptions): TimerHandle => {
    const t: NodeJS.Timeout = setTimeout(() => {
      timerSettled(t);
      fn();
    }, ms);
    timerArmed(t); // counted until fired or cleared (resourceCounts().timer), unref'd or not
    if (options?.unref === true) t.unref();
    return t;
  },
  clearTimeout: (h: TimerHandle) => {
    timerSettled(h);
    clearTimeout(h as NodeJS.Timeout);
  },
  setImmediate: (fn: () => void): TimerHandle => setImmediate(fn),
  clearImmediate: (h: TimerHandle) => clearImmediate(h as NodeJS.Immediate),
});

/**
 * Clears `handle` on `clock` if there is one; returns `undefined`, so a field can be reset
 * in the same statement: `this.timer = clearTimer(this.clock, this.timer)`.
 */
export function clearTimer(clock: TimerClock, handle: TimerHandle | undefined): undefined {
  if (handle !== undefined) clock.clearTimeout(handle);
  return undefined;
}

/**
 * The clock interface under its old name: a monotonic time in ms and timers.
 * @deprecated Use {@link TimerClock}: there is one clock interface, with its timers.
 */
export type Clock = TimerClock;

/**
 * The process clock (`performance.now()` and Node's timers) under its old name.
 * @deprecated Use {@link systemTimerClock} (the same object).
 */
export const systemClock: TimerClock = systemTimerClock;
