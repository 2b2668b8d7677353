/**
 * `MediaTimeoutWatch`: the media timeout of one RTP session, on the injected clock. One
 * timer, armed for when the silence would reach the limit and re-checked lazily: a packet
 * only stores its arrival time ({@link MediaTimeoutWatch.packet} arms nothing unless the
 * timeout had fired), so the hot path creates no timer.
 *
 * Two limits: `noMediaTimeoutMs` until the first packet latched the peer, then
 * `mediaTimeoutMs`. The timeout fires once, and is re-armed when packets flow again.
 * While media is not expected (hold: see {@link MediaTimeoutWatch.setExpecting}) nothing
 * is armed; expecting media again starts a full grace period.
 */
import { clearTimer, type TimerClock, type TimerHandle } from '../clock.js';
import { RtpTimeoutError } from '../errors.js';

/** The media timeout of a session (see the file comment). */
export class MediaTimeoutWatch {
  private readonly clock: TimerClock;
  private readonly noMediaTimeoutMs: number;
  private readonly mediaTimeoutMs: number;
  private readonly onTimeout: (err: RtpTimeoutError) => void;
  private timer: TimerHandle | undefined;
  private lastPacketMs = 0;
  /** `start` ran (a clock reading of 0 is valid, so this is a flag, not a time). */
  private watching = false;
  private stopped = false;
  private latched = false;
  private timedOut = false;
  private expecting = true;
  private readonly onCheck = (): void => this.check();

  /** Limits in ms; 0 disables that limit. */
  constructor(
    clock: TimerClock,
    noMediaTimeoutMs: number,
    mediaTimeoutMs: number,
    onTimeout: (err: RtpTimeoutError) => void,
  ) {
    this.clock = clock;
    this.noMediaTimeoutMs = noMediaTimeoutMs;
    this.mediaTimeoutMs = mediaTimeoutMs;
    this.onTimeout = onTimeout;
  }

  /** Whether media is expected (see {@link setExpecting}). */
  get isExpecting(): boolean {
    return this.expecting;
  }

  /** Starts watching (the remote is known); later calls do nothing. */
  start(): void {
    if (this.watching || this.stopped) return;
    this.watching = true;
    this.lastPacketMs = this.clock.now();
    this.arm();
  }

  /** A packet arrived at `nowMs` (hot path: stores the time; re-arms only after a timeout). */
  packet(nowMs: number): void {
    this.lastPacketMs = nowMs;
    if (this.timedOut) {
      this.timedOut = false;
      this.arm();
    }
  }

  /** The peer latched: from now on the (shorter) media timeout applies, counted from now. */
  latch(): void {
    this.latched = true;
    this.lastPacketMs = this.clock.now();
    this.arm();
  }

  /**
   * Whether the far end is expected to send (default true). False suspends the timeout;
   * true again restarts it with a full grace period from now.
   */
  setExpecting(expecting: boolean): void {
    if (expecting === this.expecting || this.stopped) return;
    this.expecting = expecting;
    if (!expecting) {
      this.timer = clearTimer(this.clock, this.timer);
      return;
    }
    this.timedOut = false;
    if (!this.watching) return; // start() arms it
    this.lastPacketMs = this.clock.now();
    this.arm();
  }

  /** Stops for good (close); idempotent. */
  stop(): void {
    this.stopped = true;
    this.timer = clearTimer(this.clock, this.timer);
  }

  private limit(): number {
    return this.latched ? this.mediaTimeoutMs : this.noMediaTimeoutMs;
  }

  private arm(): void {
    this.timer = clearTimer(this.clock, this.timer);
    const limit = this.limit();
    if (limit <= 0 || this.stopped || !this.expecting) return;
    const due = this.lastPacketMs + limit - this.clock.now();
    // ref'd on purpose: the socket keeps the process alive anyway, and close() clears it
    this.timer = this.clock.setTimeout(this.onCheck, Math.max(1, Math.ceil(due)));
  }

  private check(): void {
    this.timer = undefined;
    if (this.stopped || !this.expecting) return;
    const limit = this.limit();
    if (limit <= 0) return;
    const silentFor = this.clock.now() - this.lastPacketMs;
    if (silentFor + 0.5 < limit) {
      this.arm(); // packets arrived meanwhile: check again at the new due time
      return;
    }
    this.timedOut = true;
    const which = this.latched ? 'mediaTimeoutMs' : 'noMediaTimeoutMs';
    this.onTimeout(
      new RtpTimeoutError(
        this.latched
          ? `no RTP received for ${Math.round(silentFor)} ms (${which} ${limit})`
          : `no RTP received within ${Math.round(silentFor)} ms of the call start (${which} ${limit})`,
      ),
    );
  }
}
