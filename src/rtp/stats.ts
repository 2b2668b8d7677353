/**
 * RTP statistics after RFC 3550: sequence tracking with wrap-around and restarts
 * (appendix A.1), cumulative loss (A.3) and interarrival jitter (A.8), plus the counters
 * a media session keeps (sent, received, strangers, unknown payload types, ...).
 *
 * Pure: times are passed in. Updating allocates nothing.
 */
import type { RtcpRemoteReport } from './rtcp-reporter.js';
import { uint32Diff } from './seq.js';

const SEQ_MOD = 0x10000;
/** A.1: a forward jump of up to this many is a gap (loss); beyond it, a possible restart. */
const MAX_DROPOUT = 3000;
/** A.1: a backward step of up to this many is a reordered or duplicate packet. */
const MAX_MISORDER = 100;

/** What {@link RtpReceptionStats.update} concluded about a packet's sequence number. */
export type SeqVerdict = 'ok' | 'restart' | 'jump';

/** A snapshot of one session's RTP statistics (all counters cumulative since open). */
export interface RtpStats {
  /** RTP packets sent. */
  packetsSent: number;
  /** RTP bytes sent (UDP payload: header + payload). */
  bytesSent: number;
  /** Valid RTP packets received from the latched source (duplicates excluded when known). */
  packetsReceived: number;
  /** RTP bytes received from the latched source (UDP payload: header + payload). */
  bytesReceived: number;
  /** Packets expected from the sequence numbers seen (RFC 3550 A.3), over all SSRCs. */
  expected: number;
  /** Packets lost: expected − received, never negative (RFC 3550 A.3). */
  lost: number;
  /** `lost / expected`, 0 when nothing was expected. */
  lossFraction: number;
  /** Interarrival jitter of the current source in RTP timestamp units (RFC 3550 A.8). */
  jitter: number;
  /** The same jitter in milliseconds (at 8000 Hz: jitter / 8). */
  jitterMs: number;
  /** Packets that arrived after their playout time (dropped by the jitter buffer). */
  late: number;
  /** Packets received twice (dropped). */
  duplicate: number;
  /** Packets dropped because they came from another address than the latched one. */
  strangers: number;
  /** Packets dropped because their payload type is neither PCMU, PCMA nor telephone-event. */
  unknownPayloadType: number;
  /** Datagrams that did not parse as RTP. */
  malformed: number;
  /** RTCP packets received (on port+1 or multiplexed on the RTP port). */
  rtcpReceived: number;
  /** Times the latched peer changed SSRC (sequence tracking restarts each time). */
  ssrcChanges: number;
  /** Sequence restarts detected inside one SSRC (RFC 3550 A.1 "two sequential packets"). */
  seqRestarts: number;
  /** Lone packets far outside the sequence, dropped while waiting for a restart to be confirmed. */
  seqJumps: number;
  /** Compound RTCP packets we sent (reports and the closing BYE). */
  rtcpSent: number;
  /** RTCP datagrams from the far end that failed validation (RFC 3550 A.2); counted, never thrown. */
  rtcpMalformed: number;
  /** Round-trip time in ms from the far end's last report block (LSR/DLSR, RFC 3550 §6.4.1), when known. */
  rttMs: number | undefined;
  /** The far end's view of our stream from its last RTCP report block about it, when known. */
  remoteReport: RtcpRemoteReport | undefined;
}

/**
 * Sequence, loss and jitter tracking for one RTP source (RFC 3550 A.1, A.3, A.8).
 * Call {@link reset} when the source (SSRC) changes.
 */
export class RtpReceptionStats {
  private readonly tsPerMs: number;
  private initialized = false;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private badSeq = SEQ_MOD + 1;
  /** Packets counted for this source. */
  private received = 0;
  /** Expected/received of sources before the last reset, so totals survive SSRC changes. */
  private expectedBefore = 0;
  private receivedBefore = 0;
  private restarts = 0;
  private jitterTs = 0;
  private haveTransit = false;
  private lastArrivalMs = 0;
  private lastTimestamp = 0;

  /**
   * Statistics for a stream not yet seen.
   *
   * @param clockRate the RTP clock rate of the audio payloads (8000 for G.711).
   */
  constructor(clockRate = 8000) {
    this.tsPerMs = clockRate / 1000;
  }

  /** Forgets the current source (SSRC change); cumulative totals are kept. */
  reset(): void {
    if (this.initialized) {
      this.expectedBefore += this.expectedThisSource();
      this.receivedBefore += this.received;
    }
    this.initialized = false;
    this.received = 0;
    this.cycles = 0;
    this.badSeq = SEQ_MOD + 1;
    this.haveTransit = false;
    this.jitterTs = 0;
  }

  /**
   * Counts one packet by its sequence number (RFC 3550 A.1 `update_seq`, without the
   * probation step: the session validates sources by latching). 'jump' means a very
   * large jump that is not counted until a second sequential packet confirms a restart.
   */
  update(seq: number): SeqVerdict {
    if (!this.initialized) {
      this.initSeq(seq);
      this.initialized = true;
      this.received = 1;
      return 'ok';
    }
    const udelta = (seq - this.maxSeq + SEQ_MOD) % SEQ_MOD;
    if (udelta < MAX_DROPOUT) {
      if (seq < this.maxSeq) this.cycles += SEQ_MOD; // wrapped
      this.maxSeq = seq;
    } else if (udelta <= SEQ_MOD - MAX_MISORDER) {
      if (seq === this.badSeq) {
        // two sequential packets after a big jump: the sender restarted; count afresh
        this.expectedBefore += this.expectedThisSource();
        this.receivedBefore += this.received;
        this.initSeq(seq);
        this.received = 1;
        this.restarts++;
        this.haveTransit = false;
        return 'restart';
      }
      this.badSeq = (seq + 1) % SEQ_MOD;
      return 'jump';
    }
    // else: duplicate or reordered within MAX_MISORDER, counted as received
    this.received++;
    return 'ok';
  }

  /** Removes one packet from the received count (it turned out to be a duplicate). */
  uncount(): void {
    if (this.received > 0) this.received--;
  }

  /**
   * Updates the interarrival jitter (RFC 3550 A.8) with an audio packet's RTP timestamp
   * and its arrival time. Do not feed telephone-event packets (their timestamp is the
   * event start, not the sampling instant).
   */
  updateJitter(rtpTimestamp: number, arrivalMs: number): void {
    if (!this.haveTransit) {
      this.haveTransit = true;
    } else {
      // D(i,j) = (Rj − Ri) − (Sj − Si), with the timestamp difference taken mod 2^32
      const sendDelta = uint32Diff(rtpTimestamp, this.lastTimestamp);
      let d = (arrivalMs - this.lastArrivalMs) * this.tsPerMs - sendDelta;
      if (d < 0) d = -d;
      this.jitterTs += (d - this.jitterTs) / 16;
    }
    this.lastArrivalMs = arrivalMs;
    this.lastTimestamp = rtpTimestamp >>> 0;
  }

  /** Packets expected over every source seen. */
  get expected(): number {
    return this.expectedBefore + (this.initialized ? this.expectedThisSource() : 0);
  }

  /** Packets counted as received over every source seen. */
  get receivedTotal(): number {
    return this.receivedBefore + this.received;
  }

  /** Cumulative loss, never negative. */
  get lost(): number {
    const lost = this.expected - this.receivedTotal;
    return lost > 0 ? lost : 0;
  }

  /** Interarrival jitter in RTP timestamp units. */
  get jitter(): number {
    return this.jitterTs;
  }

  /** Interarrival jitter in milliseconds. */
  get jitterMs(): number {
    return this.jitterTs / this.tsPerMs;
  }

  /** Sequence restarts detected (A.1). */
  get seqRestarts(): number {
    return this.restarts;
  }

  /** The highest sequence number seen, extended with the wrap-around cycle count. */
  get extendedMaxSeq(): number {
    return this.cycles + this.maxSeq;
  }

  private expectedThisSource(): number {
    return this.cycles + this.maxSeq - this.baseSeq + 1;
  }

  private initSeq(seq: number): void {
    this.baseSeq = seq;
    this.maxSeq = seq;
    this.badSeq = SEQ_MOD + 1;
    this.cycles = 0;
  }
}
