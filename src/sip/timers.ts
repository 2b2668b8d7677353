/**
 * SIP timer values (RFC 3261 §17, Table 4) and the injectable timer clock every
 * transaction, dialog and call runs on. Nothing in the SIP stack calls the global
 * `setTimeout` directly: it goes through a {@link TimerClock}, so tests can substitute a
 * fake one (see `src/testing/fake-clock.ts`).
 */
import type { TimerClock, TimerHandle } from '../clock.js';

// The clock lives in `src/clock.ts` (one clock for the whole library); these names stay
// importable from here so the SIP files need no change.
export { systemTimerClock } from '../clock.js';
export type { TimerClock, TimerHandle } from '../clock.js';

/** The three base timer values of RFC 3261 (milliseconds). */
export interface SipTimerValues {
  /** RTT estimate; the base of Timers A, B, D, E, F, G, H, J and M. Default 500 ms. */
  readonly t1: number;
  /** Maximum retransmission interval for non-INVITE requests and INVITE responses. Default 4 s. */
  readonly t2: number;
  /** Maximum time a message stays in the network (Timers I and K). Default 5 s. */
  readonly t4: number;
}

/** RFC 3261 defaults: T1 500 ms, T2 4 s, T4 5 s. */
export const DEFAULT_SIP_TIMERS: SipTimerValues = Object.freeze({ t1: 500, t2: 4000, t4: 5000 });

/** Fills in defaults for any timer value left out (non-positive or non-finite values are ignored). */
export function resolveSipTimers(partial?: Partial<SipTimerValues>): SipTimerValues {
  const pick = (v: number | undefined, d: number): number =>
    v !== undefined && Number.isFinite(v) && v > 0 ? v : d;
  return {
    t1: pick(partial?.t1, DEFAULT_SIP_TIMERS.t1),
    t2: pick(partial?.t2, DEFAULT_SIP_TIMERS.t2),
    t4: pick(partial?.t4, DEFAULT_SIP_TIMERS.t4),
  };
}

/**
 * A set of named one-shot timers on a {@link TimerClock}: starting a name that is already
 * running restarts it, and `clearAll()` stops everything (used on every terminal state).
 */
export class TimerSet<Name extends string = string> {
  private readonly handles = new Map<Name, TimerHandle>();

  constructor(private readonly clock: TimerClock) {}

  /** Starts (or restarts) the timer `name`. */
  start(name: Name, ms: number, fn: () => void): void {
    this.stop(name);
    const h = this.clock.setTimeout(() => {
      this.handles.delete(name);
      fn();
    }, ms);
    this.handles.set(name, h);
  }

  /** Stops the timer `name` if it runs. */
  stop(name: Name): void {
    const h = this.handles.get(name);
    if (h !== undefined) {
      this.clock.clearTimeout(h);
      this.handles.delete(name);
    }
  }

  /** Whether the timer `name` is running. */
  running(name: Name): boolean {
    return this.handles.has(name);
  }

  /** Stops every timer. */
  clearAll(): void {
    for (const h of this.handles.values()) this.clock.clearTimeout(h);
    this.handles.clear();
  }
}
