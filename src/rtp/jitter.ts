/**
 * A pure, synchronous RTP jitter buffer and a simple packet-loss concealer.
 *
 * {@link JitterBuffer} takes packets as they arrive (`push`) and gives back one frame per
 * playout period (`pop`), in sequence order, after a target delay that absorbs network
 * jitter. It has no clock of its own: both calls take the caller's `nowMs` (a monotonic
 * clock), and `pop` is meant to be called once per frame period.
 *
 * Playout model (target delay > 0). Playout starts `targetDelayMs` after the first packet
 * arrived, with the lowest-sequence packet held. From then on every period has an RTP
 * timestamp (`start + k × frameTs`, where frameTs = clockRate × frameMs / 1000) and a
 * wall-clock time (`startMs + k × frameMs`); each `pop` whose `nowMs` has reached the next
 * period's time (half a period of tolerance) plays that period: the packet whose timestamp
 * falls in it (`audio`), or `loss` when none arrived. Calls that come early return `idle`;
 * a caller that falls more than `maxLagFrames` behind skips ahead (counted) instead of
 * playing the backlog. So a caller stepping its clock by `frameMs` gets exactly one
 * non-idle result per call once playout has started. Timing is by RTP timestamp, not by
 * sequence count: a timestamp gap with consecutive sequence numbers (silence suppression)
 * plays as loss periods, and a packet longer than one period covers several periods (the
 * later ones return `idle`). Set `frameMs` to the stream's packet time.
 *
 * Target delay 0 disables buffering: packets are released as soon as they are next in
 * sequence order; a missing sequence number is reported as `loss` only once a later
 * packet has arrived (at most `maxLossBurst` losses per gap), and `pop` returns `idle`
 * when nothing is ready.
 *
 * Dropped and counted: duplicates, packets whose playout time has passed (`late`),
 * packets beyond the capacity of `ceil(maxDelayMs / frameMs) + 4` (the oldest one goes,
 * `overflow`). A new SSRC, a sequence jump of more than 3000 forward or 100 back, or a
 * timestamp that disagrees with the arrival time by more than `resetJumpMs` restarts the
 * buffer (`reset`), as RFC 3550 A.1 does for sequence numbers. When the buffer has held
 * more than `targetDelayMs` plus one frame for a whole second (a fast sender clock, or
 * a delay spike at start), one frame is dropped to come back to the target (`trimmed`).
 *
 * Hot path: packets are copied into a preallocated ring of slots whose byte buffers are
 * reused; `push` and `pop` allocate nothing in steady state. The object `pop` returns and
 * its `payload` are reused: consume them before the next `pop`.
 */
import { ConfigError } from '../errors.js';
import { uint16Add, uint16Diff, uint32Add, uint32Diff } from './seq.js';

/** What {@link JitterBuffer.push} needs from a packet (an RTP session's packet qualifies). */
export interface JitterPacket {
  /** RTP sequence number. */
  sequenceNumber: number;
  /** RTP timestamp. */
  timestamp: number;
  /** RTP payload type. */
  payloadType: number;
  /** The payload; copied, so the caller may reuse its buffer at once. */
  payload: Uint8Array;
  /** RTP SSRC. */
  ssrc: number;
}

/** Outcome of {@link JitterBuffer.push}. */
export type JitterPushResult = 'queued' | 'duplicate' | 'late' | 'reset';

/** A frame to play. */
export interface JitterAudio {
  /** `audio`: a packet's payload to decode and play. */
  readonly kind: 'audio';
  /** The packet's payload type: decode by this, not by what was negotiated. */
  payloadType: number;
  /** The payload (valid until the next `pop`). */
  payload: Uint8Array;
  /** The packet's sequence number. */
  sequenceNumber: number;
  /** The packet's RTP timestamp. */
  timestamp: number;
}

/** A period with no packet: conceal it. */
export interface JitterLoss {
  /** `loss`: the packet for this period is missing; conceal it. */
  readonly kind: 'loss';
  /** The sequence number that was expected. */
  sequenceNumber: number;
  /** The RTP timestamp of the missing period. */
  timestamp: number;
}

/** Nothing to play yet (before playout starts, or a call before the period is due). */
export interface JitterIdle {
  /** `idle`: nothing to play yet. */
  readonly kind: 'idle';
}

/** One result of {@link JitterBuffer.pop}. */
export type JitterOutput = JitterAudio | JitterLoss | JitterIdle;

/** Options of {@link JitterBuffer}. */
export interface JitterBufferOptions {
  /** Delay between the first packet's arrival and its playout, in ms (default 40; 0 = no buffering). */
  targetDelayMs?: number;
  /** Playout period in ms (default 20); should equal the stream's packet time. */
  frameMs?: number;
  /** RTP clock rate in Hz (default 8000). */
  clockRate?: number;
  /** Most audio held, in ms (default 200); sets the capacity. */
  maxDelayMs?: number;
  /** A timestamp this far (ms) from what the arrival time predicts restarts the buffer (default max(1000, 2 × maxDelayMs)). */
  resetJumpMs?: number;
  /** Periods a caller may fall behind before playout skips ahead (default max(3, maxDelayMs / frameMs / 2)). */
  maxLagFrames?: number;
  /** With target delay 0, most losses reported for one sequence gap (default 3). */
  maxLossBurst?: number;
}

/** Counters of a {@link JitterBuffer}. */
export interface JitterBufferStats {
  /** Packets pushed (all of them, including dropped ones). */
  received: number;
  /** Audio frames returned by `pop`. */
  played: number;
  /** Loss periods returned by `pop`. */
  lost: number;
  /** Packets dropped because their playout time (or sequence position) had passed. */
  late: number;
  /** Packets dropped as duplicates. */
  duplicate: number;
  /** Restarts (SSRC change, sequence or timestamp jump). */
  resets: number;
  /** Packets that arrived after a packet with a higher sequence number. */
  reordered: number;
  /** Packets dropped because the buffer was full (the oldest one goes). */
  overflow: number;
  /** Periods skipped because the caller fell behind. */
  skipped: number;
  /** Frames dropped to bring the delay back to the target. */
  trimmed: number;
  /** Packets held now. */
  depth: number;
}

/**
 * Where a {@link JitterBuffer}'s playout is: `empty` (no stream yet, or reset), `buffering`
 * (the first packet arrived; waiting out the target delay), `playing` (releasing a frame per pop).
 */
export type JitterState = 'empty' | 'buffering' | 'playing';

const SLACK = 4;
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
const TRIM_WINDOW = 50;
const PLAYED_HISTORY = 64;

const IDLE: JitterIdle = Object.freeze({ kind: 'idle' });

/** See the module documentation. */
export class JitterBuffer {
  /** Most packets held at once. */
  readonly capacity: number;
  private readonly targetDelayMs: number;
  private readonly frameMs: number;
  private readonly frameTs: number;
  private readonly halfFrameTs: number;
  private readonly targetTs: number;
  private readonly resetJumpTs: number;
  private readonly clockPerMs: number;
  private readonly maxLag: number;
  private readonly maxLossBurst: number;

  // slot storage (parallel arrays indexed by slot)
  private readonly slotSeq: Int32Array;
  private readonly slotTs: Float64Array;
  private readonly slotPt: Int32Array;
  private readonly slotLen: Int32Array;
  private readonly slotData: Uint8Array[];
  private readonly free: Int32Array;
  private freeTop: number;
  /** Slot indices of held packets in sequence order. */
  private readonly order: Int32Array;
  private count = 0;

  // stream state
  private state: JitterState = 'empty';
  private ssrc = 0;
  private firstArrivalMs = 0;
  private newestSeq = 0;
  private newestTs = 0;
  private newestArrivalMs = 0;

  // playout state
  private startMs = 0;
  private period = 0; // periods played since start
  private clockTs = 0; // timestamp of the next period
  private nextTs = 0; // end of what has been played (audio or loss)
  private havePlayed = false;
  private lastSeq = 0; // last audio sequence number played
  private lossRun = 0;
  private lastStep = 0; // timestamp step between the last two consecutive packets played
  private readonly playedSeq: Int32Array;
  private minLead = Infinity;
  private leadSamples = 0;

  // output
  private outBuf: Uint8Array;
  private outView: Uint8Array;
  private readonly audioOut: JitterAudio;
  private readonly lossOut: JitterLoss = { kind: 'loss', sequenceNumber: 0, timestamp: 0 };
  private readonly counters: Omit<JitterBufferStats, 'depth'> = {
    received: 0,
    played: 0,
    lost: 0,
    late: 0,
    duplicate: 0,
    resets: 0,
    reordered: 0,
    overflow: 0,
    skipped: 0,
    trimmed: 0,
  };

  /** Throws ConfigError for out-of-range options. */
  constructor(opts: JitterBufferOptions = {}) {
    const targetDelayMs = opts.targetDelayMs ?? 40;
    const frameMs = opts.frameMs ?? 20;
    const clockRate = opts.clockRate ?? 8000;
    const maxDelayMs = opts.maxDelayMs ?? 200;
    const issues: string[] = [];
    if (!(frameMs >= 1 && frameMs <= 1000)) issues.push(`frameMs must be in 1..1000, got ${frameMs}`);
    if (!(clockRate >= 1000 && clockRate <= 192000))
      issues.push(`clockRate must be in 1000..192000, got ${clockRate}`);
    if (!(maxDelayMs >= frameMs && maxDelayMs <= 10_000)) {
      issues.push(`maxDelayMs must be in frameMs..10000, got ${maxDelayMs}`);
    }
    if (!(targetDelayMs >= 0 && targetDelayMs <= maxDelayMs)) {
      issues.push(`targetDelayMs must be in 0..maxDelayMs (${maxDelayMs}), got ${targetDelayMs}`);
    }
    if (issues.length > 0) throw new ConfigError(issues);
    this.targetDelayMs = targetDelayMs;
    this.frameMs = frameMs;
    this.clockPerMs = clockRate / 1000;
    this.frameTs = Math.max(1, Math.round((clockRate * frameMs) / 1000));
    this.lastStep = this.frameTs;
    this.halfFrameTs = this.frameTs / 2;
    this.targetTs = targetDelayMs * this.clockPerMs;
    this.resetJumpTs = (opts.resetJumpMs ?? Math.max(1000, 2 * maxDelayMs)) * this.clockPerMs;
    this.maxLag = opts.maxLagFrames ?? Math.max(3, Math.round(maxDelayMs / frameMs / 2));
    this.maxLossBurst = opts.maxLossBurst ?? 3;
    const cap = Math.ceil(maxDelayMs / frameMs) + SLACK;
    this.capacity = cap;
    this.slotSeq = new Int32Array(cap);
    this.slotTs = new Float64Array(cap);
    this.slotPt = new Int32Array(cap);
    this.slotLen = new Int32Array(cap);
    const slotBytes = Math.max(64, Math.ceil(this.frameTs) * 2);
    this.slotData = [];
    for (let i = 0; i < cap; i++) this.slotData.push(new Uint8Array(slotBytes));
    this.free = new Int32Array(cap);
    for (let i = 0; i < cap; i++) this.free[i] = cap - 1 - i;
    this.freeTop = cap;
    this.order = new Int32Array(cap);
    this.playedSeq = new Int32Array(PLAYED_HISTORY).fill(-1);
    this.outBuf = new Uint8Array(slotBytes);
    this.outView = this.outBuf.subarray(0, 0);
    this.audioOut = { kind: 'audio', payloadType: 0, payload: this.outView, sequenceNumber: 0, timestamp: 0 };
  }

  /** Packets held now. */
  get depth(): number {
    return this.count;
  }

  /** `'empty'` (no stream), `'buffering'` (waiting out the target delay) or `'playing'`. */
  get playoutState(): JitterState {
    return this.state;
  }

  /** A snapshot of the counters. */
  stats(): JitterBufferStats {
    return { ...this.counters, depth: this.count };
  }

  /** Drops every held packet and forgets the stream (counters are kept). */
  reset(): void {
    for (let i = 0; i < this.count; i++) this.free[this.freeTop++] = this.order[i]!;
    this.count = 0;
    this.state = 'empty';
    this.havePlayed = false;
    this.lossRun = 0;
    this.lastStep = this.frameTs;
    this.playedSeq.fill(-1);
    this.minLead = Infinity;
    this.leadSamples = 0;
  }

  /**
   * Accepts one packet that arrived at `nowMs`. Returns `'queued'`, `'duplicate'` or
   * `'late'` (dropped), or `'reset'` when the packet started a new stream (it is queued).
   * Never throws.
   */
  push(pkt: JitterPacket, nowMs: number): JitterPushResult {
    const c = this.counters;
    c.received++;
    const seq = pkt.sequenceNumber & 0xffff;
    const ts = pkt.timestamp >>> 0;
    let result: JitterPushResult = 'queued';
    if (this.state !== 'empty' && this.isNewStream(pkt.ssrc >>> 0, seq, ts, nowMs)) {
      this.reset();
      c.resets++;
      result = 'reset';
    }
    if (this.state === 'empty') {
      this.state = 'buffering';
      this.ssrc = pkt.ssrc >>> 0;
      this.firstArrivalMs = nowMs;
      this.newestSeq = seq;
      this.newestTs = ts;
      this.newestArrivalMs = nowMs;
      this.insert(seq, ts, pkt, 0);
      return result;
    }
    // already played past this packet?
    // (unbuffered: a sequence number already reported lost counts as played)
    const playedUpTo = this.targetDelayMs === 0 ? uint16Add(this.lastSeq, this.lossRun) : this.lastSeq;
    if (this.havePlayed && uint16Diff(seq, playedUpTo) <= 0) {
      if (this.playedSeq[seq % PLAYED_HISTORY] === seq) {
        c.duplicate++;
        return 'duplicate';
      }
      c.late++;
      return 'late';
    }
    if (this.state === 'playing' && this.targetDelayMs > 0 && uint32Diff(ts, this.nextTs) < 0) {
      c.late++;
      return 'late';
    }
    // position in sequence order (the newest packets usually go last)
    let pos = this.count;
    const base = this.count > 0 ? this.slotSeq[this.order[0]!]! : seq;
    const rel = uint16Diff(seq, base);
    while (pos > 0) {
      const other = this.slotSeq[this.order[pos - 1]!]!;
      const d = uint16Diff(other, base);
      if (d === rel) {
        c.duplicate++;
        return 'duplicate';
      }
      if (d < rel) break;
      pos--;
    }
    if (uint16Diff(seq, this.newestSeq) < 0) {
      c.reordered++;
    } else {
      this.newestSeq = seq;
      this.newestTs = ts;
      this.newestArrivalMs = nowMs;
    }
    if (this.count === this.capacity) {
      c.overflow++;
      if (pos === 0) return 'late'; // older than everything held: it is the one to drop
      this.removeHead();
      pos--;
    }
    this.insert(seq, ts, pkt, pos);
    return result;
  }

  /**
   * The frame for this playout period, called once per period with the caller's clock
   * (see the module documentation). The returned object and its payload are reused by
   * the next call. Never throws.
   */
  pop(nowMs: number): JitterOutput {
    if (this.state === 'empty') return IDLE;
    if (this.targetDelayMs === 0) return this.popUnbuffered();
    if (this.state === 'buffering') {
      if (nowMs - this.firstArrivalMs < this.targetDelayMs || this.count === 0) return IDLE;
      this.state = 'playing';
      this.startMs = nowMs;
      this.period = 0;
      this.clockTs = this.slotTs[this.order[0]!]!;
      this.nextTs = this.clockTs;
    }
    const due = Math.floor((nowMs - this.startMs) / this.frameMs + 0.5);
    if (this.period > due) return IDLE;
    if (due - this.period > this.maxLag) {
      const skip = due - this.period;
      this.counters.skipped += skip;
      this.period = due;
      this.clockTs = uint32Add(this.clockTs, skip * this.frameTs);
      if (uint32Diff(this.nextTs, this.clockTs) < 0) this.nextTs = this.clockTs;
    }
    this.period++;
    let clockTs = this.clockTs;
    this.dropStale(clockTs);
    if (this.shouldTrim(clockTs)) {
      // play the next period now: drop this one's packet and move the clock one period on
      this.removeHead();
      this.counters.trimmed++;
      clockTs = uint32Add(clockTs, this.frameTs);
      this.nextTs = clockTs;
    }
    this.clockTs = uint32Add(clockTs, this.frameTs);
    if (this.count > 0) {
      const head = this.order[0]!;
      const ahead = uint32Diff(this.slotTs[head]!, clockTs);
      if (ahead <= this.halfFrameTs) return this.emitHead();
      if (this.count >= this.capacity) {
        // Full, and the oldest packet is still in the future: the packet this period wanted
        // was dropped by overflow (the buffer filled up while its consumer stalled). As long
        // as packets keep coming in real time, each arrival would overflow the head again,
        // for ever, and every period would be concealed. Drop back to the target delay and
        // move the playout clock on to the new head.
        const keep = Math.max(1, Math.ceil(this.targetDelayMs / this.frameMs) + 1);
        while (this.count > keep) {
          this.removeHead();
          this.counters.trimmed++;
        }
        const headTs = this.slotTs[this.order[0]!]!;
        this.counters.skipped += Math.max(0, Math.round(uint32Diff(headTs, clockTs) / this.frameTs));
        this.clockTs = uint32Add(headTs, this.frameTs);
        // and play from here in real time: a consumer that was behind must not now catch up
        // periods the clock already skipped (it would run ahead of the stream for good)
        if (this.period <= due) this.period = due + 1;
        return this.emitHead();
      }
    }
    if (uint32Diff(this.nextTs, clockTs) > this.halfFrameTs) return IDLE; // a long packet still playing
    this.nextTs = this.clockTs;
    return this.emitLoss(clockTs);
  }

  // -- internals ---------------------------------------------------------------------------

  private isNewStream(ssrc: number, seq: number, ts: number, nowMs: number): boolean {
    if (ssrc !== this.ssrc) return true;
    const d = uint16Diff(seq, this.newestSeq);
    if (d > MAX_DROPOUT || d < -MAX_MISORDER) return true;
    const predicted = (nowMs - this.newestArrivalMs) * this.clockPerMs;
    const drift = uint32Diff(ts, this.newestTs) - predicted;
    return drift > this.resetJumpTs || drift < -this.resetJumpTs;
  }

  private popUnbuffered(): JitterOutput {
    if (this.count === 0) return IDLE;
    this.state = 'playing';
    const head = this.order[0]!;
    if (!this.havePlayed) return this.emitHead();
    const expected = uint16Add(this.lastSeq, 1 + this.lossRun);
    const gap = uint16Diff(this.slotSeq[head]!, expected);
    if (gap <= 0 || this.lossRun >= this.maxLossBurst) return this.emitHead();
    return this.emitLoss(uint32Add(this.nextTs, this.lossRun * this.frameTs));
  }

  private emitHead(): JitterAudio {
    const slot = this.order[0]!;
    const len = this.slotLen[slot]!;
    if (this.outBuf.length < len) this.outBuf = new Uint8Array(len);
    const src = this.slotData[slot]!;
    const dst = this.outBuf;
    for (let i = 0; i < len; i++) dst[i] = src[i]!; // (a subarray() view would allocate)
    if (this.outView.length !== len || this.outView.buffer !== this.outBuf.buffer) {
      this.outView = this.outBuf.subarray(0, len);
    }
    const seq = this.slotSeq[slot]!;
    const ts = this.slotTs[slot]!;
    const o = this.audioOut;
    o.payloadType = this.slotPt[slot]!;
    o.payload = this.outView;
    o.sequenceNumber = seq;
    o.timestamp = ts;
    // how long this packet plays: up to the next packet in sequence, else as long as the
    // previous step between consecutive packets
    let dur = this.lastStep;
    if (this.count > 1) {
      const next = this.order[1]!;
      if (uint16Diff(this.slotSeq[next]!, seq) === 1) {
        const step = uint32Diff(this.slotTs[next]!, ts);
        if (step > 0 && step <= 4 * this.frameTs) dur = this.lastStep = step;
      }
    }
    this.removeHead();
    this.nextTs = uint32Add(ts, dur);
    this.lastSeq = seq;
    this.havePlayed = true;
    this.lossRun = 0;
    this.playedSeq[seq % PLAYED_HISTORY] = seq;
    this.counters.played++;
    return o;
  }

  private emitLoss(ts: number): JitterLoss {
    const o = this.lossOut;
    o.sequenceNumber = uint16Add(this.lastSeq, 1 + this.lossRun);
    o.timestamp = ts;
    this.lossRun++;
    this.counters.lost++;
    return o;
  }

  /** Drops held packets that lie wholly before what has been played, or far behind the clock. */
  private dropStale(clockTs: number): void {
    while (this.count > 0) {
      const ts = this.slotTs[this.order[0]!]!;
      const behindPlayed = uint32Diff(ts, this.nextTs) < 0;
      const behindClock = uint32Diff(ts, clockTs) < -this.maxLag * this.frameTs;
      if (!behindPlayed && !behindClock) return;
      this.removeHead();
      this.counters.late++;
    }
  }

  /**
   * Tracks how far ahead of the playout clock the newest packet is; true (once per window)
   * when that lead stayed above target + 1 frame for the whole window and the due packet
   * can be dropped.
   */
  private shouldTrim(clockTs: number): boolean {
    const lead = this.count > 0 ? uint32Diff(this.newestTs, clockTs) : -1;
    if (lead < this.minLead) this.minLead = lead;
    if (++this.leadSamples < TRIM_WINDOW) return false;
    const excess = this.minLead > this.targetTs + this.frameTs;
    this.minLead = Infinity;
    this.leadSamples = 0;
    if (!excess || this.count < 2) return false;
    return uint32Diff(this.slotTs[this.order[0]!]!, clockTs) <= this.halfFrameTs;
  }

  private insert(seq: number, ts: number, pkt: JitterPacket, pos: number): void {
    const slot = this.free[--this.freeTop]!;
    const len = pkt.payload.length;
    let data = this.slotData[slot]!;
    if (data.length < len) {
      data = new Uint8Array(len);
      this.slotData[slot] = data;
    }
    data.set(pkt.payload);
    this.slotSeq[slot] = seq;
    this.slotTs[slot] = ts;
    this.slotPt[slot] = pkt.payloadType;
    this.slotLen[slot] = len;
    this.order.copyWithin(pos + 1, pos, this.count);
    this.order[pos] = slot;
    this.count++;
  }

  private removeHead(): void {
    this.free[this.freeTop++] = this.order[0]!;
    this.order.copyWithin(0, 1, this.count);
    this.count--;
  }
}

// ---------------------------------------------------------------------------------------
// Loss concealment

/** Options of {@link LossConcealer}. */
export interface LossConcealerOptions {
  /** Samples per frame (default 160: 20 ms at 8 kHz). */
  frameSamples?: number;
  /** Consecutive lost frames to fill by repetition before going silent (default 3). */
  maxRepeats?: number;
  /** Attenuation per consecutive lost frame in dB (default 6). */
  attenuationDb?: number;
}

/**
 * Fills lost frames: the first `maxRepeats` consecutive losses repeat the last good frame,
 * fading by `attenuationDb` per frame (a linear gain ramp within each frame, so there is
 * no step at frame edges); after that, silence. Pure and allocation-free after
 * construction: every call writes into the caller's array.
 */
export class LossConcealer {
  private last: Int16Array;
  private lastLen = 0;
  private run = 0;
  private readonly maxRepeats: number;
  private readonly gain: number;

  /** Throws ConfigError for out-of-range options. */
  constructor(opts: LossConcealerOptions = {}) {
    const frameSamples = opts.frameSamples ?? 160;
    const maxRepeats = opts.maxRepeats ?? 3;
    const db = opts.attenuationDb ?? 6;
    const issues: string[] = [];
    if (!(Number.isInteger(frameSamples) && frameSamples > 0))
      issues.push(`frameSamples must be > 0, got ${frameSamples}`);
    if (!(Number.isInteger(maxRepeats) && maxRepeats >= 0))
      issues.push(`maxRepeats must be ≥ 0, got ${maxRepeats}`);
    if (!(db >= 0)) issues.push(`attenuationDb must be ≥ 0, got ${db}`);
    if (issues.length > 0) throw new ConfigError(issues);
    this.last = new Int16Array(frameSamples);
    this.maxRepeats = maxRepeats;
    this.gain = Math.pow(10, -db / 20);
  }

  /** Consecutive frames concealed so far (0 after a good frame). */
  get consecutiveLosses(): number {
    return this.run;
  }

  /**
   * A good frame arrived: copies `decoded` into `out` (zero-filling any rest of `out`),
   * remembers it for concealment, and returns `out`.
   */
  good(decoded: Int16Array, out: Int16Array): Int16Array {
    const n = Math.min(decoded.length, out.length);
    if (this.last.length < decoded.length) this.last = new Int16Array(decoded.length);
    this.last.set(decoded);
    this.lastLen = decoded.length;
    if (out !== decoded) {
      for (let i = 0; i < n; i++) out[i] = decoded[i]!;
    }
    if (n < out.length) out.fill(0, n);
    this.run = 0;
    return out;
  }

  /** A frame was lost: writes the concealment into `out` and returns it. */
  conceal(out: Int16Array): Int16Array {
    this.run++;
    if (this.run > this.maxRepeats || this.lastLen === 0) {
      out.fill(0);
      return out;
    }
    const g0 = Math.pow(this.gain, this.run - 1);
    const g1 = g0 * this.gain;
    const n = out.length;
    const last = this.last;
    const len = this.lastLen;
    let j = 0;
    for (let i = 0; i < n; i++) {
      const g = g0 + ((g1 - g0) * (i + 1)) / n;
      out[i] = Math.round(last[j]! * g);
      j = j + 1 === len ? 0 : j + 1;
    }
    return out;
  }

  /** Forgets the last good frame. */
  reset(): void {
    this.lastLen = 0;
    this.run = 0;
  }
}
