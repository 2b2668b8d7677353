/**
 * The agent's audio on its way to Exotel over AgentStream: 20 ms frames in, paced `media`
 * chunks out, each followed by a `mark` whose echo tells what the caller has heard.
 * Pure: no sockets, no timers, no clock; every timed call takes the caller's `nowMs`
 * (a monotonic clock).
 *
 * Chunks. Exotel wants each `media` payload to be a multiple of 320 bytes, at least
 * 100 ms and at least 3200 bytes, and at most 100 KB (taken as 100 000 bytes). The default
 * chunk is the smallest multiple of 20 ms that satisfies all of that: 200 ms at 8 kHz
 * (3200 bytes), 100 ms at 16 kHz (3200 bytes) and 100 ms at 24 kHz (4800 bytes).
 *
 * Queue. {@link StreamAudioOut.push} copies frames into a preallocated ring of
 * `maxQueueMs` of audio; when a push would overflow it, the oldest samples are dropped
 * (counted in `droppedMs`). Frames need not be whole 20 ms frames: the queue is a stream
 * of samples and chunks are cut from it regardless of frame boundaries.
 *
 * Pacing. A full chunk is due at once after idle (the start, or after a `clear`); each
 * later chunk is due one chunk duration after the previous chunk's deadline (absolute
 * deadlines: a late poll does not push the schedule back). A poll more than one chunk
 * behind its deadline (the queue ran dry, or the event loop stalled) re-anchors the
 * schedule at `nowMs` instead of bursting the backlog; one poll never returns more than
 * one chunk. A poll up to one chunk late sends at once and keeps the schedule, so the next
 * chunk may follow sooner than a chunk duration (catching up, never more than a chunk).
 *
 * Marks and positions. Positions are milliseconds on the timeline of audio sent so far
 * (`sentMs`, silence padding included). Every chunk carries a mark name (`m1`, `m2`, …
 * with the default prefix) to send right after it, recorded with the chunk's end position.
 * When Exotel echoes a mark ({@link StreamAudioOut.markPlayed}) the caller has heard
 * everything up to that position (`heardMs`); older pending marks are settled with it.
 * At most 256 marks are pending; beyond, the oldest is forgotten (a later echo settles
 * past it anyway, only precision is lost).
 *
 * Barge-in. {@link StreamAudioOut.clear} drops the local queue and the pending marks, and
 * reports what Exotel held unplayed. Positions keep counting: the span Exotel discarded
 * stays on the timeline below later positions, so `heardMs` after a later echo includes it;
 * measure what was heard of one utterance as `heardMs` (at the clear) minus the utterance's
 * starting `sentMs`. Mark numbers keep counting too, so echoes of marks sent before the
 * clear are recognised as stale.
 *
 * Hot path: `push` and a `poll` that returns nothing allocate nothing; a chunk costs one
 * mark string. The chunk object and its `samples` are reused by the next `poll`/`flush`.
 */
import { ConfigError } from '../errors.js';
import { STREAM_SAMPLE_RATES, type StreamSampleRate } from './protocol.js';

/** Options of {@link StreamAudioOut}. */
export interface StreamAudioOutOptions {
  /** The stream's sample rate (from its `start` event). */
  sampleRate: StreamSampleRate;
  /**
   * Duration of each chunk in whole ms (default: the shortest valid chunk, a multiple of
   * 20 ms: 200 ms at 8 kHz, 100 ms at 16 and 24 kHz). Must give a
   * chunk of at least 100 ms, a multiple of 320 bytes, at least 3200 bytes and at most
   * 100 000 bytes.
   */
  chunkMs?: number;
  /** Most audio queued locally, in ms (default 1000; at least `chunkMs`, at most 60 000). */
  maxQueueMs?: number;
  /** Mark names are this prefix and a number from 1 (default `'m'`; up to 64 of `A-Za-z0-9_.:-`). */
  markPrefix?: string;
}

/** A chunk to send: a `media` message with `samples`, then a `mark` named `mark`. */
export interface StreamAudioChunk {
  /** The PCM to send (a reused buffer: valid until the next `poll` or `flush`). */
  samples: Int16Array;
  /** The mark to send right after this chunk. */
  mark: string;
}

/** What {@link StreamAudioOut.clear} dropped. */
export interface StreamAudioClearResult {
  /** Audio sent so far (ms, the timeline position). */
  sentMs: number;
  /** Position the caller has confirmed hearing up to (ms). */
  heardMs: number;
  /** Audio Exotel had but had not confirmed playing (ms): what the clear discarded there. */
  unplayedMs: number;
  /** Audio dropped from the local queue (ms), never sent. */
  droppedQueuedMs: number;
}

/** Counters of a {@link StreamAudioOut}. */
export interface StreamAudioOutStats {
  /** Audio sent, padding included (ms). */
  sentMs: number;
  /** Position confirmed heard by a mark echo (ms). */
  heardMs: number;
  /** Audio queued locally now (ms). */
  queuedMs: number;
  /** Audio dropped because the queue was full (ms; a `clear` is not counted here). */
  droppedMs: number;
  /** Chunks sent. */
  chunks: number;
  /** Marks sent and not yet echoed. */
  pendingMarks: number;
  /** `clear` calls. */
  clears: number;
}

const FRAME_MS = 20;
const MIN_CHUNK_MS = 100;
const MIN_CHUNK_BYTES = 3200;
const CHUNK_BYTE_MULTIPLE = 320;
const MAX_CHUNK_BYTES = 100_000;
const DEFAULT_MAX_QUEUE_MS = 1000;
const MAX_QUEUE_LIMIT_MS = 60_000;
const MAX_PENDING_MARKS = 256;
const MARK_PREFIX = /^[A-Za-z0-9_.:-]{0,64}$/;
/** Mark numbers stay exact integers far beyond any call's chunk count. */
const MAX_MARK_DIGITS = 15;
const CHAR_0 = 48;
const CHAR_9 = 57;

/** Bytes of `ms` of 16-bit mono PCM at `rate`. */
function pcmBytes(ms: number, rate: number): number {
  return (ms * rate * 2) / 1000;
}

/** Why `chunkMs` at `rate` breaks Exotel's chunk rules, or undefined when it does not. */
function chunkIssue(ms: number, rate: number): string | undefined {
  const bytes = pcmBytes(ms, rate);
  if (ms < MIN_CHUNK_MS) return `chunkMs ${ms} is under ${MIN_CHUNK_MS} ms`;
  if (bytes % CHUNK_BYTE_MULTIPLE !== 0)
    return `chunkMs ${ms} gives ${bytes} bytes at ${rate} Hz, not a multiple of ${CHUNK_BYTE_MULTIPLE}`;
  if (bytes < MIN_CHUNK_BYTES)
    return `chunkMs ${ms} gives ${bytes} bytes at ${rate} Hz, under ${MIN_CHUNK_BYTES}`;
  if (bytes > MAX_CHUNK_BYTES)
    return `chunkMs ${ms} gives ${bytes} bytes at ${rate} Hz, over ${MAX_CHUNK_BYTES}`;
  return undefined;
}

/**
 * The smallest multiple of 20 ms that makes a valid chunk at `sampleRate`: 200 ms at
 * 8 kHz, 100 ms at 16 and 24 kHz. Also the shortest chunk {@link StreamAudioOut.flush}
 * pads a final partial chunk to.
 */
export function defaultStreamChunkMs(sampleRate: StreamSampleRate): number {
  let ms = FRAME_MS;
  while (chunkIssue(ms, sampleRate) !== undefined) ms += FRAME_MS;
  return ms;
}

type PaceState = 'idle' | 'paced';

/**
 * The agent's audio on its way to Exotel over AgentStream: {@link StreamAudioOut.push}
 * 20 ms frames in, {@link StreamAudioOut.poll} paced chunks out (each a `media` message
 * followed by a `mark`), {@link StreamAudioOut.markPlayed} when Exotel echoes a mark, and
 * {@link StreamAudioOut.clear} for barge-in. Chunks follow Exotel's rules (a multiple of
 * 320 bytes, at least 100 ms and 3200 bytes, at most 100 000 bytes) and are paced against
 * absolute deadlines; a full queue drops its oldest audio. Pure: no sockets and no clock,
 * every timed call takes the caller's monotonic `nowMs`.
 */
export class StreamAudioOut {
  /** The stream's sample rate. */
  readonly sampleRate: StreamSampleRate;
  /** Duration of a full chunk (ms). */
  readonly chunkMs: number;
  /** Most audio queued locally (ms). */
  readonly maxQueueMs: number;

  private readonly markPrefix: string;
  private readonly samplesPerMs: number;
  private readonly frameSamples: number;
  private readonly chunkSamples: number;
  private readonly minChunkSamples: number;

  // the queue: a ring of samples
  private readonly ring: Int16Array;
  private readonly capacity: number;
  private head = 0;
  private count = 0;

  // the output chunk (reused)
  private readonly out: Int16Array;
  private readonly fullView: Int16Array;
  private readonly chunk: StreamAudioChunk;

  // pacing
  private pace: PaceState = 'idle';
  private nextDeadlineMs = 0;

  // marks: pending positions (in samples) of marks lastMark - pendingCount + 1 … lastMark
  private readonly pendingPos = new Float64Array(MAX_PENDING_MARKS);
  private pendingHead = 0;
  private pendingCount = 0;
  private lastMark = 0;

  // positions and counters, in samples
  private sent = 0;
  private heard = 0;
  /** `sent` at the last clear: below it nothing is awaited any more. */
  private clearedAt = 0;
  private dropped = 0;
  private chunks = 0;
  private clears = 0;

  /**
   * An empty, idle queue for one stream (its ring of `maxQueueMs` is allocated here).
   *
   * @throws ConfigError listing every problem with the options (sample rate, chunk, queue, mark prefix).
   */
  constructor(opts: StreamAudioOutOptions) {
    const issues: string[] = [];
    const rate = opts.sampleRate;
    const rateOk = STREAM_SAMPLE_RATES.includes(rate);
    if (!rateOk)
      issues.push(`sampleRate must be one of ${STREAM_SAMPLE_RATES.join(', ')} (got ${String(rate)})`);
    const effectiveRate: StreamSampleRate = rateOk ? rate : 8000;
    const minChunkMs = defaultStreamChunkMs(effectiveRate);
    const chunkMs = opts.chunkMs ?? minChunkMs;
    if (typeof chunkMs !== 'number' || !Number.isInteger(chunkMs) || chunkMs <= 0) {
      issues.push(`chunkMs must be a positive whole number of ms (got ${String(chunkMs)})`);
    } else if (rateOk) {
      const issue = chunkIssue(chunkMs, rate);
      if (issue !== undefined) issues.push(issue);
    }
    const maxQueueMs = opts.maxQueueMs ?? DEFAULT_MAX_QUEUE_MS;
    if (typeof maxQueueMs !== 'number' || !Number.isFinite(maxQueueMs) || maxQueueMs > MAX_QUEUE_LIMIT_MS) {
      issues.push(
        `maxQueueMs must be a number of ms up to ${MAX_QUEUE_LIMIT_MS} (got ${String(maxQueueMs)})`,
      );
    } else if (maxQueueMs < chunkMs) {
      issues.push(`maxQueueMs ${maxQueueMs} is shorter than a chunk (${chunkMs} ms)`);
    }
    const markPrefix = opts.markPrefix ?? 'm';
    if (typeof markPrefix !== 'string' || !MARK_PREFIX.test(markPrefix)) {
      issues.push('markPrefix must be at most 64 characters of A-Z a-z 0-9 _ . : -');
    }
    if (issues.length > 0) throw new ConfigError(issues);

    this.sampleRate = rate;
    this.chunkMs = chunkMs;
    this.maxQueueMs = maxQueueMs;
    this.markPrefix = markPrefix;
    this.samplesPerMs = rate / 1000;
    this.frameSamples = FRAME_MS * this.samplesPerMs;
    this.chunkSamples = chunkMs * this.samplesPerMs;
    this.minChunkSamples = minChunkMs * this.samplesPerMs;
    this.capacity = Math.floor(maxQueueMs * this.samplesPerMs);
    this.ring = new Int16Array(this.capacity);
    // a padded final chunk is at most the chunk rounded up to whole frames
    this.out = new Int16Array(Math.ceil(this.chunkSamples / this.frameSamples) * this.frameSamples);
    this.fullView = this.out.subarray(0, this.chunkSamples);
    this.chunk = { samples: this.fullView, mark: '' };
  }

  /** Audio sent so far, silence padding included (ms): the position after the last chunk. */
  get sentMs(): number {
    return this.sent / this.samplesPerMs;
  }

  /** The position the caller has confirmed hearing up to (ms). */
  get heardMs(): number {
    return this.heard / this.samplesPerMs;
  }

  /** Audio sent and not yet confirmed heard (ms); 0 right after a `clear`. */
  get pendingMs(): number {
    return (this.sent - Math.max(this.heard, this.clearedAt)) / this.samplesPerMs;
  }

  /** A snapshot of the counters. */
  stats(): StreamAudioOutStats {
    return {
      sentMs: this.sentMs,
      heardMs: this.heardMs,
      queuedMs: this.count / this.samplesPerMs,
      droppedMs: this.dropped / this.samplesPerMs,
      chunks: this.chunks,
      pendingMarks: this.pendingCount,
      clears: this.clears,
    };
  }

  /**
   * Queues a frame (copied: the caller may reuse its buffer). When the queue would hold
   * more than `maxQueueMs`, the oldest samples are dropped and counted. Never throws.
   */
  push(samples: Int16Array): void {
    const n = samples.length;
    if (n === 0) return;
    const cap = this.capacity;
    let from = 0;
    if (n >= cap) {
      // the frame alone fills the queue: keep its newest samples
      this.dropped += this.count + (n - cap);
      this.head = 0;
      this.count = 0;
      from = n - cap;
    } else if (this.count + n > cap) {
      const excess = this.count + n - cap;
      this.dropped += excess;
      this.head = (this.head + excess) % cap;
      this.count -= excess;
    }
    const len = n - from;
    const tail = (this.head + this.count) % cap;
    if (from === 0 && tail + len <= cap) {
      this.ring.set(samples, tail);
    } else {
      const ring = this.ring;
      let w = tail;
      for (let i = from; i < n; i++) {
        ring[w] = samples[i]!;
        w = w + 1 === cap ? 0 : w + 1;
      }
    }
    this.count += len;
  }

  /**
   * The next chunk when one is due: a full chunk is queued and `nowMs` has reached its
   * deadline (see the module documentation); otherwise undefined. At most one chunk per
   * call: call again for the next. The returned object and its `samples` are reused by
   * the next `poll` or `flush`: send them before calling again.
   */
  poll(nowMs: number): StreamAudioChunk | undefined {
    if (this.count < this.chunkSamples) return undefined;
    const deadline = this.dueDeadline(nowMs);
    if (deadline === undefined) return undefined;
    return this.emit(this.chunkSamples, this.chunkSamples, deadline);
  }

  /**
   * Like {@link poll}, but when less than a full chunk is queued, sends it (when due)
   * padded with silence to whole 20 ms frames (a multiple of 320 bytes) and to at least
   * the shortest valid chunk (200 ms at 8 kHz, 100 ms at 16 and 24 kHz). For the end of the
   * agent's speech: call it until nothing is queued. Undefined when nothing is queued or
   * the next chunk is not due yet ({@link nextDueMs} with `flush` says when).
   */
  flush(nowMs: number): StreamAudioChunk | undefined {
    if (this.count === 0) return undefined;
    if (this.count >= this.chunkSamples) return this.poll(nowMs);
    const deadline = this.dueDeadline(nowMs);
    if (deadline === undefined) return undefined;
    const whole = Math.ceil(this.count / this.frameSamples) * this.frameSamples;
    return this.emit(this.count, Math.max(this.minChunkSamples, whole), deadline);
  }

  /**
   * When to call `poll` (or with `flush: true`, `flush`) again: `nowMs` when a chunk is
   * due now, its deadline when it is due later, undefined when nothing is queued. With
   * less than a full chunk queued (and not flushing), an estimate: the missing audio is
   * assumed to arrive in real time; ask again after each push.
   */
  nextDueMs(nowMs: number, opts?: { flush?: boolean }): number | undefined {
    if (this.count === 0) return undefined;
    const due =
      this.pace === 'idle' || nowMs - this.nextDeadlineMs > this.chunkMs
        ? nowMs
        : Math.max(nowMs, this.nextDeadlineMs);
    if (this.count >= this.chunkSamples || opts?.flush === true) return due;
    return Math.max(due, nowMs + (this.chunkSamples - this.count) / this.samplesPerMs);
  }

  /**
   * Exotel echoed mark `name`: the caller has heard everything up to its position, and
   * every older pending mark is settled. Returns the new `heardMs`, or undefined for a name
   * that is not one of ours, already settled (an out-of-order or repeated echo), sent
   * before a `clear`, or forgotten (more than 256 pending). Never throws.
   */
  markPlayed(name: string):
    | {
        /** The position the caller has now confirmed hearing up to (ms). */
        heardMs: number;
      }
    | undefined {
    const seq = this.parseMark(name);
    if (seq === undefined) return undefined;
    const index = seq - (this.lastMark - this.pendingCount + 1);
    if (index < 0 || index >= this.pendingCount) return undefined;
    const pos = this.pendingPos[(this.pendingHead + index) % MAX_PENDING_MARKS]!;
    this.pendingHead = (this.pendingHead + index + 1) % MAX_PENDING_MARKS;
    this.pendingCount -= index + 1;
    if (pos > this.heard) this.heard = pos;
    return { heardMs: this.heardMs };
  }

  /**
   * Barge-in (send Exotel a `clear` with it): drops the local queue and the pending marks,
   * and restarts pacing (the next chunk is due at once). `unplayedMs` is the audio Exotel
   * held unconfirmed (`sentMs - heardMs`, less any span an earlier clear already
   * discarded). Positions keep counting.
   */
  clear(): StreamAudioClearResult {
    const result: StreamAudioClearResult = {
      sentMs: this.sentMs,
      heardMs: this.heardMs,
      unplayedMs: this.pendingMs,
      droppedQueuedMs: this.count / this.samplesPerMs,
    };
    this.head = 0;
    this.count = 0;
    this.pendingHead = 0;
    this.pendingCount = 0;
    this.pace = 'idle';
    this.clearedAt = this.sent;
    this.clears++;
    return result;
  }

  /** The deadline of the next chunk when it is due at `nowMs`, else undefined. */
  private dueDeadline(nowMs: number): number | undefined {
    if (this.pace === 'idle') return nowMs;
    if (nowMs < this.nextDeadlineMs) return undefined;
    // more than a chunk behind (ran dry, or stalled): re-anchor rather than burst
    if (nowMs - this.nextDeadlineMs > this.chunkMs) return nowMs;
    return this.nextDeadlineMs;
  }

  /** Sends `take` queued samples padded with silence to `total`, on `deadline`. */
  private emit(take: number, total: number, deadline: number): StreamAudioChunk {
    const out = this.out;
    const ring = this.ring;
    const cap = this.capacity;
    let r = this.head;
    for (let i = 0; i < take; i++) {
      out[i] = ring[r]!;
      r = r + 1 === cap ? 0 : r + 1;
    }
    this.head = this.count === take ? 0 : r;
    this.count -= take;
    if (total > take) out.fill(0, take, total);

    this.pace = 'paced';
    this.nextDeadlineMs = deadline + total / this.samplesPerMs;
    this.sent += total;
    this.chunks++;

    // record the mark; a full list forgets its oldest entry
    if (this.pendingCount === MAX_PENDING_MARKS) {
      this.pendingHead = (this.pendingHead + 1) % MAX_PENDING_MARKS;
      this.pendingCount--;
    }
    this.lastMark++;
    this.pendingPos[(this.pendingHead + this.pendingCount) % MAX_PENDING_MARKS] = this.sent;
    this.pendingCount++;

    const chunk = this.chunk;
    chunk.samples = total === this.chunkSamples ? this.fullView : out.subarray(0, total);
    chunk.mark = this.markPrefix + String(this.lastMark);
    return chunk;
  }

  /** The number of a mark name of ours (`<prefix><n>`, n ≥ 1, no leading zero), else undefined. */
  private parseMark(name: string): number | undefined {
    const p = this.markPrefix;
    const digits = name.length - p.length;
    if (digits < 1 || digits > MAX_MARK_DIGITS || !name.startsWith(p)) return undefined;
    let n = 0;
    for (let i = p.length; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if (c < CHAR_0 || c > CHAR_9) return undefined;
      if (i === p.length && c === CHAR_0) return undefined;
      n = n * 10 + (c - CHAR_0);
    }
    return n;
  }
}
