/**
 * Per-stream RTP timing at the far end, shared by the far end's own receive clock
 * (far-end.ts) and the kernel-timestamped capture (capture.ts): sequence gaps, RFC 3550
 * interarrival jitter, pacing error |inter-arrival − timestamp step|, and whether a
 * payload is digital silence.
 */
import type { PacingHistogram, PacingSummary } from '../../src/entries/media.js';

export interface StreamTiming {
  /** -1 until the first packet. */
  lastSeq: number;
  lastArrivalMs: number;
  lastTs: number;
  /** RFC 3550 interarrival jitter (ms). */
  jitterMs: number;
  lost: number;
}

export function newStreamTiming(): StreamTiming {
  return { lastSeq: -1, lastArrivalMs: 0, lastTs: 0, jitterMs: 0, lost: 0 };
}

/**
 * Takes one packet (8 kHz clock). Returns the RTP timestamp step from the previous packet
 * in samples (0 for the first), or -1 for a duplicate or reordered packet, which is
 * ignored. Loss and pacing are counted only while `counting`.
 */
export function observePacket(
  s: StreamTiming,
  seq: number,
  ts: number,
  arrivalMs: number,
  counting: boolean,
  pacing: PacingHistogram,
): number {
  let step = 0;
  if (s.lastSeq >= 0) {
    const d = (seq - s.lastSeq) & 0xffff;
    if (d === 0 || d > 0x8000) return -1;
    step = (ts - s.lastTs) >>> 0;
    const dTsMs = step / 8;
    const dArr = arrivalMs - s.lastArrivalMs;
    s.jitterMs += (Math.abs(dArr - dTsMs) - s.jitterMs) / 16;
    if (counting) {
      if (d > 1 && d < 3000) s.lost += d - 1;
      if (d === 1) pacing.record(Math.abs(dArr - dTsMs));
    }
  }
  s.lastSeq = seq;
  s.lastTs = ts;
  s.lastArrivalMs = arrivalMs;
  return step;
}

/** True when every byte of `bytes[from, to)` is the same (G.711 digital silence). */
export function isConstant(bytes: Uint8Array, from = 0, to = bytes.length): boolean {
  for (let i = from + 1; i < to; i++) if (bytes[i] !== bytes[from]) return false;
  return true;
}

/** A stream's counters over a measuring window. */
export interface StreamWindow {
  received: number;
  silent: number;
  timing: StreamTiming;
}

/** The far end's figures for one window, over all its streams. */
export interface RtpWindow {
  /** |inter-arrival − timestamp step| of consecutive packets (two sends' errors combined). */
  pacing: PacingSummary;
  received: number;
  lost: number;
  silent: number;
  lossPct: number;
  audioPct: number;
  jitterMeanMs: number;
  jitterMaxMs: number;
  /** Streams (calls) measured. */
  calls: number;
}

/** Sums the streams of a window. */
export function summarizeWindow(streams: Iterable<StreamWindow>, pacing: PacingHistogram): RtpWindow {
  let received = 0;
  let lost = 0;
  let silent = 0;
  let jSum = 0;
  let jMax = 0;
  let calls = 0;
  for (const s of streams) {
    calls++;
    received += s.received;
    lost += s.timing.lost;
    silent += s.silent;
    jSum += s.timing.jitterMs;
    jMax = Math.max(jMax, s.timing.jitterMs);
  }
  return {
    pacing: pacing.summary(),
    received,
    lost,
    silent,
    lossPct: received + lost === 0 ? 100 : (100 * lost) / (received + lost),
    audioPct: received === 0 ? 0 : (100 * (received - silent)) / received,
    jitterMeanMs: calls === 0 ? 0 : jSum / calls,
    jitterMaxMs: jMax,
    calls,
  };
}
