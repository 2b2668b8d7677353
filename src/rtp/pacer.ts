/**
 * The paced sender: one scheduler per process that every media session registers with,
 * and the per-session RTP packetizer it drives.
 *
 * Timing. Each session has an absolute deadline schedule on a monotonic clock (20 ms
 * apart, advanced by exactly one period per packet, never re-based on when the timer
 * fired), so 100 calls are 100 deadlines on one timer, not 100 drifting
 * `setTimeout(20)` chains. The scheduler arms a single timer for the earliest deadline:
 * `setTimeout` to `spinMs` before it (Node timers have 1 ms granularity and usually fire
 * up to ~1 ms late), then, inside that window, short thread sleeps (`Atomics.wait`, at most
 * `spinSliceMs` each) alternating with `setImmediate` turns (so socket I/O keeps being
 * served), and a busy-wait for the last ~0.15 ms. New sessions start on a grid of
 * `slotMs` (default 5 ms), so at most `periodMs / slotMs` wake-ups happen per period
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
 * spreads them over four bursts.
 *
 * A session that is more than `maxBurstPeriods` behind (the event loop was blocked) skips
 * ahead instead of bursting the backlog: the skipped periods are counted and the
 * packetizer advances its RTP timestamp over them, so the receiver sees a gap in time, not
 * a rush of packets.
 */
import { randomBytes } from 'node:crypto';
import { systemTimerClock, type TimerClock, type TimerHandle } from '../clock.js';
import { G711Codec, silenceByte } from '../codec/g711.js';
import { ConfigError } from '../errors.js';
import { DtmfSender, dtmfDigitToEvent } from './dtmf.js';
import { writeRtpHeader, type RtpHeaderFields } from './packet.js';

// ---------------------------------------------------------------------------------------
// Pacing-error histogram

/** Percentiles of recorded pacing errors, in milliseconds. */
export interface PacingSummary {
  /** Samples recorded. */
  count: number;
  /** Median pacing error (ms). */
  p50: number;
  /** 99th percentile pacing error (ms). */
  p99: number;
  /** 99.9th percentile pacing error (ms). */
  p999: number;
  /** Largest pacing error seen (ms). */
  max: number;
  /** Mean pacing error (ms). */
  mean: number;
}

/**
 * A fixed-size histogram of non-negative durations in milliseconds: 10 µs bins up to
 * 100 ms plus an overflow bin. Recording allocates nothing.
 */
export class PacingHistogram {
  /** Width of one bin in ms. */
  static readonly BIN_MS = 0.01;
  private readonly bins: Uint32Array;
  private count = 0;
  private sum = 0;
  private maxMs = 0;

  /** @param rangeMs upper bound of the binned range; larger values go to the overflow bin. */
  constructor(rangeMs = 100) {
    this.bins = new Uint32Array(Math.ceil(rangeMs / PacingHistogram.BIN_MS) + 1);
  }

  /** Records one duration (negative values count as 0). */
  record(ms: number): void {
    const v = ms > 0 ? ms : 0;
    let i = Math.floor(v / PacingHistogram.BIN_MS);
    if (i >= this.bins.length) i = this.bins.length - 1;
    this.bins[i] = (this.bins[i] ?? 0) + 1;
    this.count++;
    this.sum += v;
    if (v > this.maxMs) this.maxMs = v;
  }

  /** The value below which `q` (0..1) of the samples fall (upper edge of the bin). */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.bins.length; i++) {
      seen += this.bins[i] ?? 0;
      if (seen >= rank) {
        const edge = (i + 1) * PacingHistogram.BIN_MS;
        return edge < this.maxMs ? edge : this.maxMs;
      }
    }
    return this.maxMs;
  }

  /** p50/p99/p99.9/max/mean of everything recorded since the last reset. */
  summary(): PacingSummary {
    return {
      count: this.count,
      p50: this.quantile(0.5),
      p99: this.quantile(0.99),
      p999: this.quantile(0.999),
      max: this.maxMs,
      mean: this.count === 0 ? 0 : this.sum / this.count,
    };
  }

  /** Clears every bin. */
  reset(): void {
    this.bins.fill(0);
    this.count = 0;
    this.sum = 0;
    this.maxMs = 0;
  }
}

// ---------------------------------------------------------------------------------------
// The scheduler

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
  /** Wake `spinMs` (plus up to 1 ms timer rounding) before a deadline and poll with setImmediate until it (default 1; 0 = timer only). */
  spinMs?: number;
  /** At most this many periods are sent back to back to catch up; beyond, skip ahead (default 3). */
  maxBurstPeriods?: number;
  /**
   * Inside the last `spinMs` before a deadline the scheduler sleeps the thread in slices of
   * at most this many ms (`Atomics.wait`: no CPU burnt), running an event-loop turn
   * (`setImmediate`: socket I/O is served) between slices, and busy-waits only the final
   * ~0.15 ms. Default 0.25. 0 = a plain `setImmediate` polling loop (burns the CPU and
   * allocates an Immediate and a clock reading per turn).
   */
  spinSliceMs?: number;
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
const BUSY_WAIT_MS = 0.15;
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
  private readonly spinMs: number;
  private readonly maxBurst: number;
  private readonly spinSlice: number;
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

  constructor(opts: PacedSchedulerOptions = {}) {
    this.clock = opts.clock ?? systemTimerClock;
    this.timers = opts.timers ?? this.clock;
    this.autoRun = opts.autoRun ?? true;
    this.periodMs = opts.periodMs ?? 20;
    this.slotMs = opts.slotMs ?? 5;
    this.spinMs = opts.spinMs ?? 1;
    this.maxBurst = Math.max(1, opts.maxBurstPeriods ?? 3);
    this.spinSlice = Math.max(0, opts.spinSliceMs ?? 0.25);
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
    const first = firstDeadlineMs ?? (this.slotMs > 0 ? Math.ceil(now / this.slotMs) * this.slotMs : now);
    const reg = new Registration(client, first, this);
    this.entries.push(reg);
    if (!this.running) this.arm(now);
    return reg;
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
    if (ahead > BUSY_WAIT_MS) {
      Atomics.wait(sleepCell, 0, 0, Math.min(ahead - BUSY_WAIT_MS, this.spinSlice));
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

// ---------------------------------------------------------------------------------------
// The per-session packetizer

/** Options of {@link RtpPacketizer}. */
export interface RtpPacketizerOptions {
  /** Audio payload type: 0 (PCMU) or 8 (PCMA). */
  payloadType: number;
  /** Telephone-event payload type for DTMF; DTMF cannot be sent without it. */
  telephoneEventPayloadType?: number;
  /** SSRC (default random). */
  ssrc?: number;
  /** First sequence number (default random). */
  initialSequence?: number;
  /** First RTP timestamp (default random). */
  initialTimestamp?: number;
  /** Bound of the outbound audio queue in ms (default 200): overflow drops the oldest audio. */
  maxQueueMs?: number;
  /**
   * Ticks to wait for the rest of a partial (< 20 ms) frame before sending it padded with
   * silence (default 2). Waiting lets a producer that writes 10 ms frames settle into a
   * small steady prebuffer instead of sending half-silent packets.
   */
  partialWaitTicks?: number;
  /**
   * Standing-delay bound in ms (default: none). A burst that fits in the queue never drains
   * by itself when audio then arrives in real time, so it would delay everything after it
   * by as much. When the least audio queued during a whole second stayed above this, the
   * excess is dropped once (oldest first, counted in `trimmedSamples`).
   */
  standingQueueMs?: number;
  /** DTMF digit duration in ms (default 100) and pause between digits (default 100). */
  dtmfDurationMs?: number;
  dtmfGapMs?: number;
}

/** Counters of a {@link RtpPacketizer}. */
export interface RtpPacketizerStats {
  /** Packets carrying queued audio. */
  audioPackets: number;
  /** Packets of silence sent because no audio was queued. */
  silencePackets: number;
  /** Telephone-event packets. */
  dtmfPackets: number;
  /** Queued samples dropped because the queue was full (oldest first). */
  overflowSamples: number;
  /** Queued samples discarded while a DTMF digit replaced the audio. */
  dtmfDiscardedSamples: number;
  /** Periods skipped because the scheduler was far behind. */
  skippedPeriods: number;
  /** Queued samples dropped because they stood in the queue (see `standingQueueMs`). */
  trimmedSamples: number;
  /** Samples currently queued (8 kHz). */
  queuedSamples: number;
}

const SAMPLES_PER_PACKET = 160;
/** Ticks over which the standing queue is observed (1 s of 20 ms packets). */
const STANDING_TICKS = 50;
const HEADER = 12;

interface PendingDtmf {
  digits: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Builds one RTP packet per 20 ms tick for a session: queued 8 kHz audio encoded with the
 * negotiated G.711 law, silence when nothing is queued (keeps NAT bindings and the
 * carrier's media timeout alive), or RFC 4733 telephone-events while a digit plays.
 * The timestamp advances by 160 every tick whatever was sent; the marker bit is set on
 * the first packet of the stream and of every talkspurt (audio after silence or DTMF).
 *
 * Pure: no sockets, no timers. Each {@link next} writes into one preallocated buffer
 * ({@link packet}) and returns the length; nothing is allocated per packet.
 */
export class RtpPacketizer {
  /** The packet buffer {@link next} writes into (reused every tick). */
  readonly packet = new Uint8Array(HEADER + 1500);
  private readonly codec: G711Codec;
  private readonly payloadType: number;
  private readonly tePt: number;
  private readonly ssrc: number;
  private seq: number;
  private ts: number;
  private readonly queue: Int16Array;
  private qHead = 0;
  private qLen = 0;
  private readonly frame = new Int16Array(SAMPLES_PER_PACKET);
  /** Header fields reused for every packet (writeRtpHeader reads them). */
  private readonly hdr: RtpHeaderFields = {
    marker: false,
    payloadType: 0,
    sequenceNumber: 0,
    timestamp: 0,
    ssrc: 0,
  };
  private readonly silence: Uint8Array;
  private readonly partialWait: number;
  private waited = 0;
  private readonly standingLimit: number;
  private standingMin = Infinity;
  private standingTicks = 0;
  private talking = false;
  private first = true;
  private readonly dtmf: DtmfSender | undefined;
  private dtmfTimestamp = 0;
  private dtmfActive = false;
  private readonly dtmfQueue: PendingDtmf[] = [];
  private readonly counters: Omit<RtpPacketizerStats, 'queuedSamples'> = {
    audioPackets: 0,
    silencePackets: 0,
    dtmfPackets: 0,
    overflowSamples: 0,
    dtmfDiscardedSamples: 0,
    skippedPeriods: 0,
    trimmedSamples: 0,
  };

  /** Throws ConfigError for an unsupported payload type. */
  constructor(opts: RtpPacketizerOptions) {
    const codec = G711Codec.forPayloadType(opts.payloadType);
    if (codec === undefined) {
      throw new ConfigError([`payloadType must be 0 (PCMU) or 8 (PCMA), got ${opts.payloadType}`]);
    }
    this.codec = codec;
    this.payloadType = opts.payloadType;
    this.tePt = opts.telephoneEventPayloadType ?? -1;
    const rnd = randomBytes(10);
    this.ssrc = (opts.ssrc ?? rnd.readUInt32BE(0)) >>> 0;
    this.seq = (opts.initialSequence ?? rnd.readUInt16BE(4)) & 0xffff;
    this.ts = (opts.initialTimestamp ?? rnd.readUInt32BE(6)) >>> 0;
    const maxQueueMs = opts.maxQueueMs ?? 200;
    this.queue = new Int16Array(Math.max(SAMPLES_PER_PACKET, Math.round(maxQueueMs * 8)));
    const standing = opts.standingQueueMs;
    this.standingLimit =
      standing !== undefined && Number.isFinite(standing) && standing >= 0 ? Math.round(standing * 8) : -1;
    this.partialWait = opts.partialWaitTicks ?? 2;
    this.silence = new Uint8Array(SAMPLES_PER_PACKET).fill(silenceByte(codec.law));
    this.dtmf =
      this.tePt >= 0
        ? new DtmfSender({
            durationMs: opts.dtmfDurationMs ?? 100,
            gapMs: opts.dtmfGapMs ?? 100,
          })
        : undefined;
  }

  /** The SSRC of this stream. */
  get streamSsrc(): number {
    return this.ssrc;
  }

  /** The sequence number the next packet will carry. */
  get nextSequence(): number {
    return this.seq;
  }

  /** The RTP timestamp of the next audio packet. */
  get nextTimestamp(): number {
    return this.ts;
  }

  /** Samples currently queued (8 kHz), without allocating a stats object. */
  get queuedSamples(): number {
    return this.qLen;
  }

  /** Counters. */
  stats(): RtpPacketizerStats {
    return { ...this.counters, queuedSamples: this.qLen };
  }

  /**
   * Queues 8 kHz samples. When the queue is full the oldest samples are dropped (and
   * counted), so a burst can never add more than `maxQueueMs` of latency.
   */
  write(samples: Int16Array): void {
    const q = this.queue;
    const cap = q.length;
    let src = samples;
    if (src.length > cap) {
      this.counters.overflowSamples += src.length - cap;
      src = src.subarray(src.length - cap);
    }
    const overflow = this.qLen + src.length - cap;
    if (overflow > 0) this.drop(overflow, 'overflow');
    let tail = (this.qHead + this.qLen) % cap;
    let i = 0;
    while (i < src.length) {
      const n = Math.min(src.length - i, cap - tail);
      q.set(src.subarray(i, i + n), tail);
      i += n;
      tail = (tail + n) % cap;
    }
    this.qLen += src.length;
  }

  /** Drops every queued sample (e.g. on barge-in). */
  clearAudio(): void {
    this.qHead = 0;
    this.qLen = 0;
    this.waited = 0;
  }

  /**
   * Queues DTMF digits; resolves once the last end packet of the last digit was produced.
   * Rejects with ConfigError when no telephone-event type was negotiated or a digit is invalid.
   */
  sendDtmf(digits: string): Promise<void> {
    if (this.dtmf === undefined) {
      return Promise.reject(new ConfigError(['DTMF needs a negotiated telephone-event payload type']));
    }
    for (const d of digits) {
      if (dtmfDigitToEvent(d) === undefined) {
        return Promise.reject(new ConfigError([`invalid DTMF digit "${d}"`]));
      }
    }
    if (digits.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.dtmfQueue.push({ digits, resolve, reject });
      if (this.dtmfQueue.length === 1) this.dtmf?.enqueue(digits);
    });
  }

  /** Rejects pending DTMF promises (the session is closing). */
  cancelDtmf(err: unknown): void {
    for (const p of this.dtmfQueue.splice(0)) p.reject(err);
  }

  /** `periods` ticks were skipped: keep the timestamp on time and drop that much audio. */
  skip(periods: number): void {
    if (periods <= 0) return;
    this.counters.skippedPeriods += periods;
    this.ts = (this.ts + periods * SAMPLES_PER_PACKET) >>> 0;
    const n = Math.min(this.qLen, periods * SAMPLES_PER_PACKET);
    if (n > 0) this.drop(n, 'skip');
  }

  /** Builds this tick's packet into {@link packet} and returns its length. */
  next(): number {
    const out = this.packet;
    const tickTimestamp = this.ts;
    this.ts = (this.ts + SAMPLES_PER_PACKET) >>> 0;

    const ev = this.dtmf?.nextPacket() ?? null;
    if (ev !== null) {
      if (!this.dtmfActive || ev.marker) {
        this.dtmfActive = true;
        this.dtmfTimestamp = tickTimestamp; // one timestamp for the whole event
      }
      // the digit replaces this tick's audio: discard it so latency does not grow
      const n = Math.min(this.qLen, SAMPLES_PER_PACKET);
      if (n > 0) this.drop(n, 'dtmf');
      this.writeHeader(ev.marker, this.tePt, this.dtmfTimestamp);
      out.set(ev.payload, HEADER);
      this.seq = (this.seq + 1) & 0xffff;
      this.counters.dtmfPackets++;
      this.talking = false; // audio after the event starts a new talkspurt
      this.first = false;
      if (ev.done) this.finishDtmfBatch();
      this.trackStanding();
      return HEADER + ev.payload.length;
    }
    this.dtmfActive = false;

    let audio = false;
    if (this.qLen >= SAMPLES_PER_PACKET) {
      audio = true;
    } else if (this.qLen > 0) {
      if (this.waited >= this.partialWait) audio = true;
      else this.waited++;
    }
    let marker = this.first;
    if (audio) {
      const n = Math.min(this.qLen, SAMPLES_PER_PACKET);
      this.readInto(this.frame, n);
      if (n < SAMPLES_PER_PACKET) this.frame.fill(0, n);
      this.codec.encodeInto(this.frame, out, HEADER);
      if (!this.talking) marker = true;
      this.talking = true;
      this.waited = 0;
      this.counters.audioPackets++;
    } else {
      out.set(this.silence, HEADER);
      this.talking = false;
      this.counters.silencePackets++;
    }
    this.writeHeader(marker, this.payloadType, tickTimestamp);
    this.seq = (this.seq + 1) & 0xffff;
    this.first = false;
    this.trackStanding();
    return HEADER + SAMPLES_PER_PACKET;
  }

  /** Drops a standing delay: once a second, whatever never left the queue beyond the bound. */
  private trackStanding(): void {
    if (this.standingLimit < 0) return;
    if (this.qLen < this.standingMin) this.standingMin = this.qLen;
    if (++this.standingTicks < STANDING_TICKS) return;
    const excess = this.standingMin - this.standingLimit;
    if (excess >= SAMPLES_PER_PACKET) {
      this.drop(excess, 'trim');
      this.counters.trimmedSamples += excess;
    }
    this.standingTicks = 0;
    this.standingMin = Infinity;
  }

  private writeHeader(marker: boolean, payloadType: number, timestamp: number): void {
    const h = this.hdr;
    h.marker = marker;
    h.payloadType = payloadType;
    h.sequenceNumber = this.seq;
    h.timestamp = timestamp;
    h.ssrc = this.ssrc;
    writeRtpHeader(this.packet, 0, h);
  }

  private finishDtmfBatch(): void {
    const done = this.dtmfQueue.shift();
    done?.resolve();
    const next = this.dtmfQueue[0];
    if (next !== undefined) this.dtmf?.enqueue(next.digits);
  }

  private readInto(dst: Int16Array, n: number): void {
    const q = this.queue;
    const cap = q.length;
    let j = this.qHead;
    for (let i = 0; i < n; i++) {
      dst[i] = q[j] ?? 0;
      j = j + 1 === cap ? 0 : j + 1;
    }
    this.qHead = j;
    this.qLen -= n;
  }

  private drop(n: number, why: 'overflow' | 'dtmf' | 'skip' | 'trim'): void {
    if (why === 'dtmf') this.counters.dtmfDiscardedSamples += n;
    else if (why === 'overflow') this.counters.overflowSamples += n;
    this.qHead = (this.qHead + n) % this.queue.length;
    this.qLen -= n;
  }
}
