/**
 * A fake {@link TimerClock} for tests: time only moves when the test says so, and due
 * callbacks run in deadline order (ties in scheduling order) while advancing.
 */
import type { TimerClock, TimerHandle } from '../sip/timers.js';

interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/** A manual clock with timers, usable in users' own tests of the SIP client. */
export class FakeTimerClock implements TimerClock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, FakeTimer>();

  constructor(startMs = 0) {
    this.t = startMs;
  }

  /** The current fake time in ms. */
  now(): number {
    return this.t;
  }

  /** Schedules `fn` at now + `ms` (negative delays count as 0). */
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
    const end = this.t + Math.max(0, ms);
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

  private next(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const tm of this.timers.values()) if (best === undefined || tm.at < best.at) best = tm;
    return best;
  }
}
