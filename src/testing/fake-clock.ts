/**
 * The fake {@link TimerClock} for tests: time only moves when the test says so, and due
 * callbacks run in deadline order (ties in scheduling order) while it moves. Immediates
 * are 0 ms timers: they run at the current fake time, on the next `advance`/`runAll`.
 */
import type { TimerClock, TimerHandle } from '../clock.js';

interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/** A manual clock with timers, usable in users' own tests of the SIP client and the media path. */
export class FakeTimerClock implements TimerClock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, FakeTimer>();

  /** A clock reading `startMs` (default 0), with no timers. */
  constructor(startMs = 0) {
    this.t = startMs;
  }

  /** The current fake time in ms. */
  now(): number {
    return this.t;
  }

  /** Schedules `fn` at now + `ms` (negative delays count as 0); `unref` means nothing here. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { id, at: this.t + Math.max(0, ms), fn });
    return { id };
  }

  /** Cancels a scheduled callback. */
  clearTimeout(handle: TimerHandle): void {
    if (typeof handle === 'object' && handle !== null && 'id' in handle) {
      this.timers.delete((handle as { id: number }).id);
    }
  }

  /** Schedules `fn` as a 0 ms timer. */
  setImmediate(fn: () => void): TimerHandle {
    return this.setTimeout(fn, 0);
  }

  /** Cancels a callback scheduled with `setImmediate`. */
  clearImmediate(handle: TimerHandle): void {
    this.clearTimeout(handle);
  }

  /** Number of callbacks still scheduled. */
  get pending(): number {
    return this.timers.size;
  }

  /** Deadline of the earliest scheduled callback, or `undefined`. */
  nextDeadline(): number | undefined {
    return this.next()?.at;
  }

  /**
   * Moves time forward by `ms`, running every callback that falls due on the way (also
   * those scheduled by callbacks), each at its own deadline. Returns how many ran.
   */
  advance(ms: number): number {
    return this.runUntil(this.t + Math.max(0, ms));
  }

  /**
   * Moves time forward to `ms` (nothing happens if that is in the past), running every
   * callback that falls due on the way. Returns how many ran.
   */
  set(ms: number): number {
    return ms > this.t ? this.runUntil(ms) : 0;
  }

  /** Runs callbacks until none is left or `limit` ran; returns how many ran. */
  runAll(limit = 10_000): number {
    let ran = 0;
    for (;;) {
      const n = this.next();
      if (n === undefined || ran >= limit) return ran;
      ran++;
      this.timers.delete(n.id);
      this.t = Math.max(this.t, n.at);
      n.fn();
    }
  }

  private runUntil(end: number): number {
    let ran = 0;
    for (;;) {
      const n = this.next();
      if (n === undefined || n.at > end) break;
      this.timers.delete(n.id);
      this.t = Math.max(this.t, n.at);
      n.fn();
      if (++ran >= 1_000_000) return ran; // a runaway 0 ms loop: stop rather than hang
    }
    this.t = end;
    return ran;
  }

  private next(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const tm of this.timers.values()) if (best === undefined || tm.at < best.at) best = tm;
    return best;
  }
}

/**
 * The former time-only test clock, now a {@link FakeTimerClock} (it has timers too).
 * Its `advance` returns the new time, as it always did.
 * @deprecated Use {@link FakeTimerClock}; its `advance` returns how many callbacks ran.
 */
export class ManualClock extends FakeTimerClock {
  /** Moves the clock forward by `ms` (negative values count as 0); returns the new time. */
  override advance(ms: number): number {
    super.advance(ms);
    return this.now();
  }
}
