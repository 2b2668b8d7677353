/**
 * The per-session half of the paced sender: {@link RtpPacketizer} builds this call's packet
 * for each 20 ms tick of the scheduler (`pacer.ts`): queued audio, silence or DTMF.
 */
import { randomBytes } from 'node:crypto';
import { G711Codec, silenceByte } from '../codec/g711.js';
import { ConfigError } from '../errors.js';
import { DtmfSender, isDtmfDialChar } from './dtmf.js';
import { writeRtpHeader, type RtpHeaderFields } from './packet.js';
import { uint32Add } from './seq.js';

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
  /** Pause between two DTMF digits, in ms (default 100). */
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
  /** Periods not sent because the stream was on hold ({@link RtpPacketizer.hold}). */
  heldPeriods: number;
  /** Queued samples discarded while on hold. */
  heldDiscardedSamples: number;
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
  private readonly zeros = new Int16Array(SAMPLES_PER_PACKET);
  private lastWasAudio = false;
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
    heldPeriods: 0,
    heldDiscardedSamples: 0,
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

  /** A snapshot of the packetizer's counters and of the audio queued now. */
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
   * Queues a dial string: DTMF digits ('0'–'9', '*', '#', 'A'–'D') and pauses (`w` 500 ms,
   * `W` 1000 ms), played strictly in order after any earlier call's. Resolves once the last
   * end packet of the last digit was produced (or, when the string ends with a pause, once
   * that pause has elapsed). Rejects with ConfigError, before anything is queued, when no
   * telephone-event type was negotiated or a character is invalid.
   */
  sendDtmf(digits: string): Promise<void> {
    if (this.dtmf === undefined) {
      return Promise.reject(new ConfigError(['DTMF needs a negotiated telephone-event payload type']));
    }
    for (const d of digits) {
      if (!isDtmfDialChar(d)) {
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

  /**
   * The 8 kHz PCM the last {@link next} sent: the queued audio it encoded, or zeros for a
   * silence or telephone-event packet. A view reused every tick: copy it to keep it.
   */
  get lastPcm(): Int16Array {
    return this.lastWasAudio ? this.frame : this.zeros;
  }

  /**
   * A period in which nothing is sent (the stream is on hold: `recvonly`/`inactive`). The
   * timestamp advances as if a packet had been sent, so the receiver sees the gap in time
   * when sending resumes; the sequence number does not. Queued audio is discarded (and
   * counted): it could only be played late. Pending DTMF waits until sending resumes.
   */
  hold(): void {
    this.ts = uint32Add(this.ts, SAMPLES_PER_PACKET);
    this.counters.heldPeriods++;
    if (this.qLen > 0) {
      this.counters.heldDiscardedSamples += this.qLen;
      this.clearAudio();
    }
    this.talking = false; // the first audio after the hold starts a talkspurt
    this.lastWasAudio = false;
  }

  /** Builds this tick's packet into {@link packet} and returns its length. */
  next(): number {
    const out = this.packet;
    const tickTimestamp = this.ts;
    this.ts = (this.ts + SAMPLES_PER_PACKET) >>> 0;

    // a dial string that ended with a pause is done once the pause has elapsed (the next
    // call's digits may start in this very period)
    if (this.dtmfQueue.length > 0 && this.dtmf?.drained === true) this.finishDtmfBatch();
    const ev = this.dtmf?.nextPacket() ?? null;
    if (ev !== null) {
      if (!this.dtmfActive || ev.marker) {
        this.dtmfActive = true;
        this.dtmfTimestamp = tickTimestamp; // one timestamp for the whole event
      }
      // the digit replaces this tick's audio: discard it so latency does not grow
      const n = Math.min(this.qLen, SAMPLES_PER_PACKET);
      if (n > 0) this.drop(n, 'dtmf');
      this.lastWasAudio = false;
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
    this.lastWasAudio = audio;
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
