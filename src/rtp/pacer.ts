/**
 * The paced sender: one scheduler per process that every media session registers with.
 * The per-session RTP packetizer it drives is in `packetizer.ts`, the pacing-error
 * histogram in `pacing-histogram.ts` (both re-exported here).
 *
 * Timing. Each session has an absolute deadline schedule on a monotonic clock (20 ms
 * apart, advanced by exactly one period per packet, never re-based on when the timer
 * fired), so 100 calls are 100 deadlines on one timer, not 100 drifting
 * `setTimeout(20)` chains. The scheduler arms a single timer for the earliest deadline:
 * `setTimeout` to `spinMs` before it (Node timers have 1 ms granularity and usually fire
 * up to ~1 ms late), then, inside that window, short thread sleeps (`Atomics.wait`, at most
 * `spinSliceMs` each) alternating with `setImmediate` turns (so socket I/O keeps being
 * served), and a busy-wait for the last ~0.05 ms. A new session joins the phase of the
 * existing ones while that phase holds fewer than `slotCapacity` (16) sessions; beyond, it
 * starts on the least used slot of a grid of `slotMs` (default 5 ms). So up to 16 sessions
 * cost one wake-up per period, and at most `periodMs / slotMs` wake-ups happen per period
 * whatever the session count; each wake-up sends every session whose deadline has passed,
 * then runs the sessions' after-send work (jitter-buffer playout, events), so consumer
 * work never delays a send.
 *
 * Why (bench/pacing.bench.ts, 2 shared cores): plain timers (`spinMs: 0`) cost least CPU
 * but land 0.7–1.5 ms late (p99 ≈ 1.4–2 ms). A `setImmediate` polling loop in the window
 * hit the deadline but burnt the CPU (≈ 10 % of a core for one session, ≈ 40 % for 100)
 * and, reading the clock ~35 000 times a second (each `performance.now()` result is a heap
 * number), caused a minor GC every few hundred ms whose pauses became the p99. Sleeping
 * in slices keeps the precision at a fraction of that CPU and garbage. One grid slot
 * (20 ms) sends all sessions in one burst (the last of 100 ≈ 2.5 ms late); a 5 ms grid
 * spreads them over four bursts. Each wake-up costs CPU whatever it sends (the timer, the
 * slices, the event-loop turns between them), so sessions share one until their burst
 * grows long: at 10 sessions the 5 ms grid alone (200 wake-ups a second, 0.25 ms slices,
 * 0.15 ms busy-wait) took ~75 ms of CPU a second, one shared phase with 0.5 ms slices and
 * a 0.05 ms busy-wait ~20–28 ms (10 sessions each sending one UDP packet per tick, 2 busy
 * shared cores; `slotCapacity: 1, spinSliceMs: 0.25, busyWaitMs: 0.15` gives the old way).
 *
 * A session that is more than `maxBurstPeriods` behind (the event loop was blocked) skips
 * ahead instead of bursting the backlog: the skipped periods are counted and the
 * packetizer advances its RTP timestamp over them, so the receiver sees a gap in time, not
 * a rush of packets.
 */
import { systemTimerClock, type TimerClock, type TimerHandle } from '../clock.js';
import { PacingHistogram, type PacingSummary } from './pacing-histogram.js';
import { resourceClosed, resourceOpened } from '../resources.js';

export { PacingHistogram } from './pacing-histogram.js';
export type { PacingSummary } from './pacing-histogram.js';
export { RtpPacketizer } from './packetizer.js';
export type { RtpPacketizerOptions, RtpPacketizerStats } from './packetizer.js';

/** What a session gives the scheduler. Methods are called on the scheduler's timer. */
export interface PacerClient {
  /**
   * Send this period's packet. Called once per period at or after `deadlineMs`
   * (`nowMs` is the clock reading just before the call). Must not block.
   */
  onTick(deadlineMs: number, nowMs: number): void;
  /** Work that may wait until every due session has sent (playout, events). */
  onAfterTick?(nowMs: number): void;
  /** `periods` whole periods were skipped because the scheduler was far behind. */
  onSkip?(periods: number): void;
  /** A callback above threw; the scheduler keeps running. */
  onError?(err: unknown): void;
}

/** A registration with the scheduler. */
export interface PacerHandle {
  /** False once unregistered. */
  readonly active: boolean;
  /** The next deadline (ms on the scheduler's clock). */
  readonly nextDeadlineMs: number;
  /** Periods this client skipped (scheduler far behind). */
  readonly skippedPeriods: number;
  /** Stops the schedule; idempotent. The timer stops when no client is left. */
  unregister(): void;
}

/**
 * The timer functions the scheduler uses: those of its {@link TimerClock}.
 * @deprecated Pass a `clock` (a `TimerClock`, e.g. `FakeTimerClock` in tests) instead of `timers`.
 */
export type PacerTimers = Pick<TimerClock, 'setTimeout' | 'clearTimeout' | 'setImmediate' | 'clearImmediate'>;

/**
 * The timer is unref'd (an idle scheduler never keeps the process alive). The immediate is
 * not (it cannot be on the clock): an unref'd immediate lets the event loop block in poll
 * until some other event, which would turn the short wait before a deadline into an
 * arbitrary delay. It only exists for the last `spinMs` before a deadline.
 */
const UNREF = Object.freeze({ unref: true });

/** Options of {@link PacedScheduler}. */
export interface PacedSchedulerOptions {
  /** The clock: its time and its timers (default: the system clock; the timer is unref'd). */
  clock?: TimerClock;
  /**
   * Timer functions overriding the clock's.
   * @deprecated Pass a `clock` with its timers instead.
   */
  timers?: PacerTimers;
  /** When false no timer is armed: call {@link PacedScheduler.poll} yourself (tests). */
  autoRun?: boolean;
  /** Packet period in ms (default 20). */
  periodMs?: number;
  /** New schedules start on a grid of this many ms (default 5; 0 = start at once). */
  slotMs?: number;
  /**
   * A new schedule joins the phase (deadline modulo the period) of existing ones while that
   * phase holds fewer than this many sessions, so they are sent in one wake-up; beyond, it
   * takes the grid slot with the fewest sessions (default 16; 1 = every session to the next grid slot).
   */
  slotCapacity?: number;
  /**
   * Wake `spinMs` (plus up to 1 ms timer rounding) before a deadline and poll with setImmediate
   * until it (default 1; 0 = timer only). On a fake clock use 0: the poll waits for real time.
   */
  spinMs?: number;
  /** At most this many periods are sent back to back to catch up; beyond, skip ahead (default 3). */
  maxBurstPeriods?: number;
  /**
   * Inside the last `spinMs` before a deadline the scheduler sleeps the thread in slices of
   * at most this many ms (`Atomics.wait`: no CPU burnt), running an event-loop turn
   * (`setImmediate`: socket I/O is served) between slices, and busy-waits only the final
   * `busyWaitMs`. Default 0.5. 0 = a plain `setImmediate` polling loop (burns the CPU and
   * allocates an Immediate and a clock reading per turn).
   */
  spinSliceMs?: number;
  /**
   * The final stretch before a deadline that is busy-waited rather than slept (ms, default
   * 0.05: a thread sleep wakes about 0.07 ms late, so the wait aims that much early).
   */
  busyWaitMs?: number;
}

/** Counters of a {@link PacedScheduler}. */
export interface PacedSchedulerStats {
  /** Registered clients. */
  sessions: number;
  /** Times the scheduler ran (timer or immediate). */
  wakeups: number;
  /** Packets (ticks) delivered. */
  ticks: number;
  /** Periods skipped over all clients. */
  skippedPeriods: number;
  /** Client callbacks that threw. */
  errors: number;
  /** Actual tick time minus deadline. */
  pacing: PacingSummary;
}

/** The final stretch before a deadline that is busy-waited rather than slept (ms). */
const BUSY_WAIT_MS = 0.05;
/** A cell nobody notifies: `Atomics.wait` on it is a sub-millisecond sleep. */
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

class Registration implements PacerHandle {
  active = true;
  nextDeadlineMs: number;
  skippedPeriods = 0;
  afterPending = false;

  constructor(
    readonly client: PacerClient,
    firstDeadline: number,
    private readonly owner: PacedScheduler,
  ) {
    this.nextDeadlineMs = firstDeadline;
  }

  unregister(): void {
    if (!this.active) return;
    this.active = false;
    resourceClosed('pacer');
    this.owner.remove(this);
  }
}

/**
 * One timer for every session's 20 ms schedule. Use {@link getSharedScheduler} in
 * production; construct one with a `FakeTimerClock` (and `autoRun: false`, or `spinMs: 0`) in tests.
 */
export class PacedScheduler {
  /** Packet period in ms. */
  readonly periodMs: number;
  private readonly clock: TimerClock;
  private readonly timers: PacerTimers;
  private readonly autoRun: boolean;
  private readonly slotMs: number;
  private readonly slotCapacity: number;
  private readonly spinMs: number;
  private readonly maxBurst: number;
  private readonly spinSlice: number;
  private readonly busyWait: number;
  private readonly hist = new PacingHistogram();
  private entries: Registration[] = [];
  private dirty = false;
  private running = false;
  private timeout: TimerHandle | undefined;
  private immediate: TimerHandle | undefined;
  private wakeups = 0;
  private ticks = 0;
  private skipped = 0;
  private errors = 0;
  private readonly runBound = (): void => this.run();

  /** A scheduler with no sessions; with `autoRun` (the default) it arms its timer once one registers. */
  constructor(opts: PacedSchedulerOptions = {}) {
    this.clock = opts.clock ?? systemTimerClock;
    this.timers = opts.timers ?? this.clock;
    this.autoRun = opts.autoRun ?? true;
    this.periodMs = opts.periodMs ?? 20;
    this.slotMs = opts.slotMs ?? 5;
    this.slotCapacity = Math.max(1, opts.slotCapacity ?? 16);
    this.spinMs = opts.spinMs ?? 1;
    this.maxBurst = Math.max(1, opts.maxBurstPeriods ?? 3);
    this.spinSlice = Math.max(0, opts.spinSliceMs ?? 0.5);
    this.busyWait = Math.max(0, opts.busyWaitMs ?? BUSY_WAIT_MS);
  }

  /** Registered clients. */
  get size(): number {
    return this.entries.length - (this.dirty ? this.entries.filter((e) => !e.active).length : 0);
  }

  /** True while a timer or immediate is armed. */
  get armed(): boolean {
    return this.timeout !== undefined || this.immediate !== undefined;
  }

  /**
   * Adds a client. Its first deadline is the next slot boundary (or `firstDeadlineMs`);
   * later ones follow every `periodMs` exactly.
   */
  register(client: PacerClient, firstDeadlineMs?: number): PacerHandle {
    const now = this.clock.now();
    const first = firstDeadlineMs ?? this.firstDeadline(now);
    const reg = new Registration(client, first, this);
    this.entries.push(reg);
    resourceOpened('pacer');
    if (!this.running) this.arm(now);
    return reg;
  }

  /**
   * The first deadline of a new schedule: the next deadline of the fullest phase that still
   * has room (sessions of one phase share a wake-up), else the next grid slot among those
   * with the fewest sessions.
   */
  private firstDeadline(now: number): number {
    const slot = this.slotMs;
    if (slot <= 0) return now;
    const period = this.periodMs;
    /** The first time at or after `now` that is a whole number of periods from `t`. */
    const onOrAfterNow = (t: number): number => t + Math.ceil((now - t) / period) * period;
    const phase = (t: number): number => Math.round((((t % period) + period) % period) * 1000);
    const phases = new Map<number, { count: number; at: number }>();
    for (const e of this.entries) {
      if (!e.active) continue;
      const p = phases.get(phase(e.nextDeadlineMs));
      if (p !== undefined) p.count++;
      else phases.set(phase(e.nextDeadlineMs), { count: 1, at: e.nextDeadlineMs });
    }
    let best: { count: number; at: number } | undefined;
    for (const p of phases.values()) {
      if (p.count < this.slotCapacity && (best === undefined || p.count > best.count)) best = p;
    }
    if (best !== undefined) return onOrAfterNow(best.at);
    // every phase is full (or there is none): the least used grid slot, nearest first
    const grid = Math.ceil(now / slot) * slot;
    let first = grid;
    let fewest = Infinity;
    for (let t = grid; t < grid + period; t += slot) {
      const n = phases.get(phase(t))?.count ?? 0;
      if (n < fewest) {
        fewest = n;
        first = t;
      }
    }
    return first;
  }

  /** @internal called by a registration's unregister(). */
  remove(reg: Registration): void {
    reg.active = false;
    this.dirty = true;
    if (!this.running) {
      this.compact();
      this.arm(this.clock.now());
    }
  }

  /**
   * Runs every client whose deadline has passed (the timer calls this; tests call it
   * after moving a manual clock). Returns the number of ticks delivered.
   */
  poll(): number {
    return this.runOnce();
  }

  /** Counters and the pacing-error summary. */
  stats(): PacedSchedulerStats {
    return {
      sessions: this.size,
      wakeups: this.wakeups,
      ticks: this.ticks,
      skippedPeriods: this.skipped,
      errors: this.errors,
      pacing: this.hist.summary(),
    };
  }

  /** The raw pacing-error histogram (for benchmarks). */
  get histogram(): PacingHistogram {
    return this.hist;
  }

  /** Clears the pacing histogram and counters (not the schedules). */
  resetStats(): void {
    this.hist.reset();
    this.wakeups = 0;
    this.ticks = 0;
    this.skipped = 0;
    this.errors = 0;
  }

  private run(): void {
    this.timeout = undefined;
    this.immediate = undefined;
    if (this.spinSlice > 0 && this.spinMs > 0) this.spinSliceWait();
    this.runOnce();
  }

  /**
   * Inside the spin window: sleeps one slice when the deadline is further than the final
   * busy-wait window, else busy-waits up to it. The busy-wait is also bounded by an
   * iteration count, so a clock that does not move (a test clock) cannot hang it.
   */
  private spinSliceWait(): void {
    const now = this.clock.now();
    const ahead = this.earliestDeadline() - now;
    if (!(ahead > 0) || ahead > this.spinMs + 1) return;
    if (ahead > this.busyWait) {
      Atomics.wait(sleepCell, 0, 0, Math.min(ahead - this.busyWait, this.spinSlice));
      return;
    }
    const until = now + ahead;
    for (let i = 0; i < 100_000 && this.clock.now() < until; i++) {
      // busy-wait: the last few dozen microseconds that no timer can hit
    }
  }

  private earliestDeadline(): number {
    let next = Infinity;
    const entries = this.entries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e !== undefined && e.active && e.nextDeadlineMs < next) next = e.nextDeadlineMs;
    }
    return next;
  }

  private runOnce(): number {
    if (this.running) return 0;
    this.running = true;
    this.wakeups++;
    let delivered = 0;
    const period = this.periodMs;
    const entries = this.entries;
    let now = this.clock.now();
    try {
      // Phase 1: every due client sends.
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i];
        if (e === undefined || !e.active || e.nextDeadlineMs > now) continue;
        const owed = Math.floor((now - e.nextDeadlineMs) / period) + 1;
        if (owed > this.maxBurst) {
          const skip = owed - 1;
          e.nextDeadlineMs += skip * period;
          e.skippedPeriods += skip;
          this.skipped += skip;
          try {
            e.client.onSkip?.(skip);
          } catch (err) {
            this.fail(e, err);
          }
        }
        while (e.active && e.nextDeadlineMs <= now) {
          this.hist.record(now - e.nextDeadlineMs);
          try {
            e.client.onTick(e.nextDeadlineMs, now);
          } catch (err) {
            this.fail(e, err);
          }
          e.nextDeadlineMs += period;
          e.afterPending = true;
          delivered++;
          now = this.clock.now();
        }
      }
      this.ticks += delivered;
      // Phase 2: after-send work of the clients that sent.
      if (delivered > 0) {
        for (let i = 0; i < entries.length; i++) {
          const e = entries[i];
          if (e === undefined || !e.afterPending) continue;
          e.afterPending = false;
          if (!e.active || e.client.onAfterTick === undefined) continue;
          try {
            e.client.onAfterTick(now);
          } catch (err) {
            this.fail(e, err);
          }
        }
      }
    } finally {
      this.running = false;
      if (this.dirty) this.compact();
      this.arm(this.clock.now());
    }
    return delivered;
  }

  private fail(e: Registration, err: unknown): void {
    this.errors++;
    try {
      e.client.onError?.(err);
    } catch {
      // a failing error handler must not stop the other sessions
    }
  }

  private compact(): void {
    this.entries = this.entries.filter((e) => e.active);
    this.dirty = false;
  }

  private disarm(): void {
    if (this.timeout !== undefined) this.timers.clearTimeout(this.timeout);
    if (this.immediate !== undefined) this.timers.clearImmediate(this.immediate);
    this.timeout = undefined;
    this.immediate = undefined;
  }

  private arm(now: number): void {
    this.disarm();
    if (!this.autoRun) return;
    const next = this.earliestDeadline();
    if (next === Infinity) return; // nobody left: no timer
    const delay = next - now;
    if (this.spinMs <= 0) {
      this.timeout = this.timers.setTimeout(this.runBound, delay > 0 ? Math.ceil(delay) : 0, UNREF);
    } else if (delay - this.spinMs >= 1) {
      this.timeout = this.timers.setTimeout(this.runBound, Math.floor(delay - this.spinMs), UNREF);
    } else {
      this.immediate = this.timers.setImmediate(this.runBound);
    }
  }
}

let shared: PacedScheduler | undefined;

/** The process-wide scheduler every media bridge uses unless given another. */
export function getSharedScheduler(): PacedScheduler {
  shared ??= new PacedScheduler();
  return shared;
}
