/**
 * An opt-in probe of the latency a media bridge adds, each way (used by the load
 * benchmark; off by default, and then it costs one `undefined` check per packet).
 *
 *   inbound  (phone → room): RTP arrival → jitter-buffer pop ("hold": the buffer's target
 *            delay plus waiting for the 20 ms playout tick, on purpose) → decode, conceal,
 *            `audio` event, `captureFrame` call ("processing").
 *   outbound (room → phone): `writeAudio` entry (the agent's AudioStream frame) → queued until
 *            this call's next 20 ms send deadline ("queue", on purpose) → packet sent;
 *            "processing" is the time spent inside `writeAudio` plus inside the send.
 *
 * Durations go to histograms shared by every probe of a {@link LatencyHistograms} (one set
 * per process however many calls), so a probe itself holds only two small rings. Nothing
 * is allocated per packet.
 */
import { PacingHistogram, type PacingSummary } from './pacer.js';

/** The latency histograms of one or more probes (ms). */
export class LatencyHistograms {
  /** Phone → room: RTP arrival to jitter-buffer pop (the buffer's delay and the wait for the playout tick). */
  readonly inboundHold = new PacingHistogram(500);
  /** Phone → room: jitter-buffer pop to the frame handed to the room (decode, concealment, events). */
  readonly inboundProcessing = new PacingHistogram(100);
  /** Phone → room: RTP arrival to the frame handed to the room. */
  readonly inboundTotal = new PacingHistogram(500);
  /** Room → phone: `writeAudio` to this call's next 20 ms send deadline. */
  readonly outboundQueue = new PacingHistogram(500);
  /** Room → phone: time inside `writeAudio` plus inside the send. */
  readonly outboundProcessing = new PacingHistogram(100);
  /** Room → phone: `writeAudio` to the packet sent. */
  readonly outboundTotal = new PacingHistogram(500);

  /** Clears every histogram. */
  reset(): void {
    for (const h of this.all()) h.reset();
  }

  /** Percentiles of each histogram. */
  summary(): Record<
    | 'inboundHold'
    | 'inboundProcessing'
    | 'inboundTotal'
    | 'outboundQueue'
    | 'outboundProcessing'
    | 'outboundTotal',
    PacingSummary
  > {
    return {
      inboundHold: this.inboundHold.summary(),
      inboundProcessing: this.inboundProcessing.summary(),
      inboundTotal: this.inboundTotal.summary(),
      outboundQueue: this.outboundQueue.summary(),
      outboundProcessing: this.outboundProcessing.summary(),
      outboundTotal: this.outboundTotal.summary(),
    };
  }

  private all(): PacingHistogram[] {
    return [
      this.inboundHold,
      this.inboundProcessing,
      this.inboundTotal,
      this.outboundQueue,
      this.outboundProcessing,
      this.outboundTotal,
    ];
  }
}

const IN_RING = 256; // packets; more than the jitter buffer's 200 ms bound of 20 ms packets
const OUT_RING = 64; // writes not yet sent (the outbound queue holds at most 200 ms)

/** The per-call state of the probe; see the module comment. */
export class MediaLatencyProbe {
  private readonly inArrival = new Float64Array(IN_RING);
  private readonly inSeq = new Int32Array(IN_RING).fill(-1);
  private popAt = -1;
  private popArrival = 0;
  private readonly outAt = new Float64Array(OUT_RING);
  private readonly outStart = new Float64Array(OUT_RING);
  private readonly outWriteMs = new Float64Array(OUT_RING);
  private outHead = 0;
  private outLen = 0;
  private written = 0;

  /**
   * A probe for one bridge.
   *
   * @param histograms Where the probe's durations go: share one set between the probes of
   *   every call to get per-process figures (default: a set of its own).
   */
  constructor(readonly histograms: LatencyHistograms = new LatencyHistograms()) {}

  /** An RTP audio packet with sequence number `seq` arrived at `arrivalMs`. */
  packetArrived(seq: number, arrivalMs: number): void {
    const i = seq & (IN_RING - 1);
    this.inArrival[i] = arrivalMs;
    this.inSeq[i] = seq;
  }

  /** The jitter buffer released packet `seq` for playout at `nowMs`. */
  framePopped(seq: number, nowMs: number): void {
    const i = seq & (IN_RING - 1);
    if (this.inSeq[i] !== seq) {
      this.popAt = -1;
      return;
    }
    this.inSeq[i] = -1;
    this.popAt = nowMs;
    this.popArrival = this.inArrival[i] ?? nowMs;
  }

  /** The popped frame was decoded and handed to the room (`captureFrame` called) at `nowMs`. */
  frameDelivered(nowMs: number): void {
    if (this.popAt < 0) return;
    const h = this.histograms;
    h.inboundHold.record(this.popAt - this.popArrival);
    h.inboundProcessing.record(nowMs - this.popAt);
    h.inboundTotal.record(nowMs - this.popArrival);
    this.popAt = -1;
  }

  /** `writeAudio` ran from `startMs` to `endMs` and queued `samples` 8 kHz samples. */
  audioWritten(startMs: number, endMs: number, samples: number): void {
    if (samples <= 0) return;
    if (this.outLen === OUT_RING) {
      // nothing was sent for a long time: forget the oldest write
      this.outHead = (this.outHead + 1) % OUT_RING;
      this.outLen--;
    }
    const j = (this.outHead + this.outLen) % OUT_RING;
    this.outAt[j] = startMs;
    this.outStart[j] = this.written;
    this.outWriteMs[j] = endMs - startMs;
    this.outLen++;
    this.written += samples;
  }

  /**
   * A packet was sent: the send ran from `startMs` to `endMs`, and `queuedSamples` samples
   * are still queued after it. Every write whose first sample has left the queue is
   * recorded (audio dropped on overflow counts as sent).
   */
  packetSent(startMs: number, endMs: number, queuedSamples: number): void {
    const consumed = this.written - queuedSamples;
    const h = this.histograms;
    while (this.outLen > 0) {
      const j = this.outHead;
      if ((this.outStart[j] ?? 0) >= consumed) break;
      const at = this.outAt[j] ?? startMs;
      h.outboundQueue.record(startMs - at);
      h.outboundProcessing.record((this.outWriteMs[j] ?? 0) + (endMs - startMs));
      h.outboundTotal.record(endMs - at);
      this.outHead = (j + 1) % OUT_RING;
      this.outLen--;
    }
  }
}
