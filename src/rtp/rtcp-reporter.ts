/**
 * `RtcpReporter`: the RTCP state of one RTP session (RFC 3550 §6): when to report, what
 * to report, and what the far end's reports tell us.
 *
 * - Schedule (§6.2, §6.3): a two-party audio call stays far below the 5 % RTCP bandwidth
 *   share, so the deterministic interval is the minimum, 5 s; each interval is that times
 *   a uniform random factor in [0.5, 1.5] (drawn from the injected random source), on the
 *   injected clock, re-armed from the deadline of the previous report (absolute
 *   deadlines, not chained delays). The compensation factor e − 3/2 of appendix A.7
 *   belongs to timer reconsideration in large groups and is not applied.
 * - Content: an SR while we have sent RTP during the last two intervals (§6.4), else an
 *   RR; one reception report block about the far end's SSRC once it sent us RTP, with
 *   the fraction lost since our previous report (appendix A.3), the cumulative loss, the
 *   extended highest sequence number, the interarrival jitter and LSR/DLSR; then SDES
 *   CNAME. A BYE is appended at close.
 * - Feedback: an SR from the far end is remembered (its NTP middle bits and arrival time
 *   become our next LSR/DLSR); a report block about our SSRC gives their view of our
 *   stream and, when it echoes one of our SRs, the round-trip time (§6.4.1).
 *
 * No sockets: the session passes the datagrams in and sends what {@link write} builds.
 * Nothing here runs per RTP packet.
 */
import { clearTimer, type TimerClock, type TimerHandle } from '../clock.js';
import type { RandomSource } from '../random.js';
import {
  createRtcpFeedback,
  msToNtpShort,
  ntpMiddle32,
  readRtcpCompound,
  rttFromReport,
  writeRtcpBye,
  writeRtcpReport,
  writeRtcpSdesCname,
  type RtcpBlockInit,
  type RtcpSenderInfo,
} from './rtcp.js';

/** RFC 3550 §6.2: the minimum (and, for a two-party call, the deterministic) interval. */
export const RTCP_MIN_INTERVAL_MS = 5000;

/** The far end's view of our stream, from its latest report block about our SSRC. */
export interface RtcpRemoteReport {
  /** Fraction of our packets lost in their last interval, 0..1 (their 8-bit value / 256). */
  fractionLost: number;
  /** Cumulative packets of ours they count as lost (may be negative with duplicates). */
  cumulativeLost: number;
  /** Their interarrival jitter of our stream in ms (at 8000 Hz). */
  jitterMs: number;
  /** Extended highest sequence number of ours they received. */
  highestSequence: number;
  /** When the report arrived (ms on the session clock). */
  receivedAtMs: number;
}

/** Counters and results of a {@link RtcpReporter}. */
export interface RtcpReporterStats {
  /** Compound RTCP packets we sent (BYE included). */
  sent: number;
  /** Valid compound RTCP packets received. */
  received: number;
  /** RTCP datagrams that failed validation (counted, never thrown). */
  malformed: number;
  /** Latest round-trip time in ms from LSR/DLSR (§6.4.1), when known. */
  rttMs: number | undefined;
  /** The far end's view of our stream, once it reported on it. */
  remote: RtcpRemoteReport | undefined;
}

/** What the session fills in before each {@link RtcpReporter.write} (one reused object). */
export interface RtcpReportInput {
  /** Session clock (ms). */
  nowMs: number;
  /** Our SSRC (of the RTP we send; random until we send). */
  ssrc: number;
  /** RTP packets and payload octets sent so far. */
  packetsSent: number;
  octetsSent: number;
  /** The RTP timestamp corresponding to `nowMs` (only read when we sent). */
  rtpTimestamp: number;
  /** The far end's SSRC; `undefined` until it sent us RTP (no report block then). */
  remoteSsrc: number | undefined;
  /** Reception figures of the far end's stream (RFC 3550 A.3): cumulative. */
  expected: number;
  received: number;
  extendedMaxSeq: number;
  /** Interarrival jitter in timestamp units. */
  jitter: number;
}

/** Options of {@link RtcpReporter}. */
export interface RtcpReporterOptions {
  clock: TimerClock;
  /** Draws the interval randomisation. */
  random: RandomSource;
  /** Our SDES CNAME (1..255 bytes of UTF-8). */
  cname: string;
  /** Wall-clock ms since the Unix epoch at `clock.now()` = 0, for NTP timestamps. */
  epochOffsetMs: number;
  /** Called when a report is due (the session builds and sends it). */
  onDue: () => void;
}

/** RTCP scheduling, report building and feedback for one session (see the file comment). */
export class RtcpReporter {
  private readonly opts: RtcpReporterOptions;
  private readonly cname: Uint8Array;
  private readonly feedback = createRtcpFeedback();
  private timer: TimerHandle | undefined;
  private active = false;
  private nextDueMs = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  private packetsAtLast = 0;
  private packetsAtBefore = 0;
  private lastSrMiddle = 0;
  private lastSrArrivalMs = 0;
  private readonly sender: RtcpSenderInfo = {
    wallClockMs: 0,
    rtpTimestamp: 0,
    packetCount: 0,
    octetCount: 0,
  };
  private readonly block: RtcpBlockInit = {
    ssrc: 0,
    fractionLost: 0,
    cumulativeLost: 0,
    highestSequence: 0,
    jitter: 0,
    lastSr: 0,
    delaySinceLastSr: 0,
  };
  private readonly counters: RtcpReporterStats = {
    sent: 0,
    received: 0,
    malformed: 0,
    rttMs: undefined,
    remote: undefined,
  };

  /** See {@link RtcpReporterOptions}. */
  constructor(opts: RtcpReporterOptions) {
    this.opts = opts;
    this.cname = new TextEncoder().encode(opts.cname).subarray(0, 255);
  }

  /** True while reports are scheduled. */
  get running(): boolean {
    return this.active;
  }

  /** Starts the schedule (no-op when running): the first report one randomised interval from now. */
  start(): void {
    if (this.active) return;
    this.active = true;
    this.nextDueMs = this.opts.clock.now();
    this.arm();
  }

  /** Stops the schedule; idempotent. */
  stop(): void {
    this.active = false;
    this.timer = clearTimer(this.opts.clock, this.timer);
  }

  /** A snapshot of the counters and the latest feedback. */
  stats(): RtcpReporterStats {
    const r = this.counters.remote;
    return { ...this.counters, remote: r === undefined ? undefined : { ...r } };
  }

  /**
   * Builds a compound packet into `out` (SR or RR, SDES CNAME, and BYE when `bye`) and
   * returns its length; counts it as sent. `out` must hold 52 + 12 + 256 + 8 bytes.
   */
  write(out: Uint8Array, input: RtcpReportInput, bye = false): number {
    const sent = input.packetsSent > this.packetsAtBefore;
    this.packetsAtBefore = this.packetsAtLast;
    this.packetsAtLast = input.packetsSent;
    let sender: RtcpSenderInfo | undefined;
    if (sent) {
      sender = this.sender;
      sender.wallClockMs = input.nowMs + this.opts.epochOffsetMs;
      sender.rtpTimestamp = input.rtpTimestamp;
      sender.packetCount = input.packetsSent;
      sender.octetCount = input.octetsSent;
    }
    let block: RtcpBlockInit | undefined;
    if (input.remoteSsrc !== undefined) {
      block = this.block;
      // RFC 3550 A.3: the fraction lost over the interval since the previous report
      const expectedInterval = input.expected - this.expectedPrior;
      const lostInterval = expectedInterval - (input.received - this.receivedPrior);
      this.expectedPrior = input.expected;
      this.receivedPrior = input.received;
      block.ssrc = input.remoteSsrc;
      block.fractionLost =
        expectedInterval <= 0 || lostInterval <= 0 ? 0 : Math.floor((lostInterval * 256) / expectedInterval);
      block.cumulativeLost = input.expected - input.received;
      block.highestSequence = input.extendedMaxSeq;
      block.jitter = input.jitter;
      block.lastSr = this.lastSrMiddle;
      block.delaySinceLastSr = this.lastSrMiddle === 0 ? 0 : msToNtpShort(input.nowMs - this.lastSrArrivalMs);
    }
    let len = writeRtcpReport(out, 0, input.ssrc, sender, block);
    len += writeRtcpSdesCname(out, len, input.ssrc, this.cname);
    if (bye) len += writeRtcpBye(out, len, input.ssrc);
    this.counters.sent++;
    return len;
  }

  /**
   * Reads one RTCP datagram from the far end. `ourSsrc` selects the report block about
   * our stream (`undefined` before we sent). Returns false (and counts it) when malformed.
   */
  receive(buf: Uint8Array, ourSsrc: number | undefined, nowMs: number): boolean {
    const fb = this.feedback;
    if (!readRtcpCompound(buf, ourSsrc, fb)) {
      this.counters.malformed++;
      return false;
    }
    this.counters.received++;
    if (fb.hasSenderReport) {
      this.lastSrMiddle = fb.ntpMiddle;
      this.lastSrArrivalMs = nowMs;
    }
    if (fb.hasBlock) {
      const rtt = rttFromReport(ntpMiddle32(nowMs + this.opts.epochOffsetMs), fb.lastSr, fb.delaySinceLastSr);
      if (rtt !== undefined) this.counters.rttMs = rtt;
      this.counters.remote = {
        fractionLost: fb.fractionLost / 256,
        cumulativeLost: fb.cumulativeLost,
        jitterMs: fb.jitter / 8,
        highestSequence: fb.highestSequence,
        receivedAtMs: nowMs,
      };
    }
    return true;
  }

  private arm(): void {
    const b = this.opts.random(2);
    const u = (((b[0] ?? 0) << 8) | (b[1] ?? 0)) / 65536; // [0, 1)
    const now = this.opts.clock.now();
    // a stalled event loop: start afresh instead of sending the missed reports in a burst
    if (this.nextDueMs < now - RTCP_MIN_INTERVAL_MS) this.nextDueMs = now;
    this.nextDueMs += RTCP_MIN_INTERVAL_MS * (0.5 + u);
    const delay = Math.max(1, Math.ceil(this.nextDueMs - now));
    this.timer = this.opts.clock.setTimeout(this.onTimer, delay, { unref: true });
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.opts.onDue();
    // onDue may have closed the session (stop() ran): a stopped schedule stays stopped
    if (this.active && this.timer === undefined) this.arm();
  };
}
