/**
 * RFC 4733 telephone-events (DTMF over RTP): the 4-byte payload, a step-function sender
 * that the paced sender calls once per packet period, and a receiver that turns event
 * packets into one digit per event.
 *
 * Payload (RFC 4733 §2.3):
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * |     event     |E|R| volume    |          duration             |
 * ```
 * Pure: no sockets, no timers, no clock.
 */
import { ConfigError, RtpParseError } from '../errors.js';
import { uint32Diff } from './seq.js';

/** One telephone-event payload. */
export interface TelephoneEvent {
  /** Event code: 0–9 digits, 10 = '*', 11 = '#', 12–15 = 'A'–'D' (other codes exist). */
  event: number;
  /** The E bit: this packet ends the event. */
  end: boolean;
  /** Power level in −dBm0, 0..63 (larger is quieter). */
  volume: number;
  /** Duration so far in timestamp units (0..65535). */
  duration: number;
}

const DIGITS = '0123456789*#ABCD';

/** The event code for a DTMF digit ('0'–'9', '*', '#', 'A'–'D', case-insensitive), or `undefined`. */
export function dtmfDigitToEvent(digit: string): number | undefined {
  if (digit.length !== 1) return undefined;
  const i = DIGITS.indexOf(digit.toUpperCase());
  return i < 0 ? undefined : i;
}

/** Dial-string pause characters: `w` pauses 500 ms, `W` 1000 ms (as many dialers do). */
export const DTMF_PAUSE_MS: Readonly<Record<string, number>> = Object.freeze({ w: 500, W: 1000 });

/**
 * True for a character {@link DtmfSender.enqueue} accepts in a dial string: a DTMF digit
 * ('0'–'9', '*', '#', 'A'–'D', case-insensitive) or a pause (`w` 0.5 s, `W` 1 s).
 */
export function isDtmfDialChar(ch: string): boolean {
  return ch === 'w' || ch === 'W' || dtmfDigitToEvent(ch) !== undefined;
}

/** The DTMF digit for an event code 0–15, or `undefined` for any other code. */
export function eventToDtmfDigit(event: number): string | undefined {
  return Number.isInteger(event) && event >= 0 && event < 16 ? DIGITS[event] : undefined;
}

/**
 * Writes a 4-byte telephone-event payload into `out` (or a new array) and returns it.
 * Fields are masked to their widths (event 8 bits, volume 6 bits, duration 16 bits).
 * Throws ConfigError when `out` is shorter than 4 bytes.
 */
export function encodeTelephoneEvent(ev: TelephoneEvent, out?: Uint8Array): Uint8Array {
  const dst = out ?? new Uint8Array(4);
  if (dst.length < 4) throw new ConfigError([`telephone-event payload needs 4 bytes, out has ${dst.length}`]);
  dst[0] = ev.event & 0xff;
  dst[1] = (ev.end ? 0x80 : 0) | (ev.volume & 0x3f);
  dst[2] = (ev.duration >> 8) & 0xff;
  dst[3] = ev.duration & 0xff;
  return dst;
}

/** Decodes a telephone-event payload. Throws RtpParseError when it is shorter than 4 bytes. */
export function decodeTelephoneEvent(payload: Uint8Array): TelephoneEvent {
  if (payload.length < 4)
    throw new RtpParseError(`telephone-event payload too short: ${payload.length} bytes`);
  return {
    event: payload[0]!,
    end: (payload[1]! & 0x80) !== 0,
    volume: payload[1]! & 0x3f,
    duration: (payload[2]! << 8) | payload[3]!,
  };
}

// ---------------------------------------------------------------------------------------
// Sender

/** Options of {@link DtmfSender}. */
export interface DtmfSenderOptions {
  /** Tone duration per digit in ms (default 100; 40..5000). */
  durationMs?: number;
  /** Pause after a digit's last end packet before the next digit starts, in ms (default 100; 0..5000). */
  gapMs?: number;
  /** Packet period in ms (default 20). */
  frameMs?: number;
  /** RTP clock rate of the telephone-event type (default 8000). */
  clockRate?: number;
  /** Volume field, 0..63 −dBm0 (default 10). */
  volume?: number;
  /** How many end packets to send (default 3, RFC 4733 §2.5.1.4). */
  endPackets?: number;
}

/** One packet of the sender's plan, returned by {@link DtmfSender.nextPacket}. */
export interface DtmfPacket extends TelephoneEvent {
  /**
   * The 4-byte payload. The same array is reused by every call: send (or copy) it
   * before calling `nextPacket` again.
   */
  payload: Uint8Array;
  /**
   * Marker bit: set on the first packet of each event. The caller takes the RTP
   * timestamp of that packet's period as the event's timestamp and keeps it for every
   * later packet of the event (RFC 4733 §2.5.1.2).
   */
  marker: boolean;
  /** Offset of this packet's period from the event's first period, in timestamp units. */
  timestampOffset: number;
  /** The digit being sent. */
  digit: string;
  /** Its event code. */
  event: number;
  /** The volume field. */
  volume: number;
  /** The duration field of this packet. */
  duration: number;
  /** The E bit of this packet. */
  end: boolean;
  /** True on the last end packet of the last queued digit: the queue is now empty. */
  done: boolean;
}

type SenderState = 'idle' | 'tone' | 'end' | 'gap';

/**
 * Plans RFC 4733 packets for queued digits, one packet period at a time. Call
 * {@link nextPacket} once per period (20 ms): it returns the packet to send in this
 * period, or `null` when no event is active (send audio then). Per digit it yields a start
 * packet with the marker bit and duration one period, updates whose duration grows by one
 * period (160 at 8 kHz), then `endPackets` end packets with the E bit and the same final
 * duration; then `gapMs` of nulls before the next digit. For 100 ms at 8 kHz:
 * durations 160 (M), 320, 480, 640, then 800 (E) three times.
 *
 * A pause (`w` = 500 ms, `W` = 1000 ms in the dial string) yields nulls for that long, in
 * addition to the gap after the digit before it: in `'1w2'` the `2` starts
 * 100 ms tone + 2 extra end periods + `gapMs` + 500 ms after the `1`.
 */
export class DtmfSender {
  private readonly frameTs: number;
  private readonly totalTs: number;
  private readonly gapPeriods: number;
  private readonly volume: number;
  private readonly endPackets: number;
  /** Event codes (>= 0) and pauses (< 0: minus the number of silent periods). */
  private readonly queue: number[] = [];
  private readonly frameMs: number;
  private qHead = 0;
  private state: SenderState = 'idle';
  private event = 0;
  private elapsed = 0; // timestamp units since the event's first period
  private endsSent = 0;
  private gapLeft = 0;
  private readonly out: DtmfPacket = {
    payload: new Uint8Array(4),
    marker: false,
    timestampOffset: 0,
    digit: '',
    event: 0,
    volume: 0,
    duration: 0,
    end: false,
    done: false,
  };

  /** Throws ConfigError for out-of-range options. */
  constructor(opts: DtmfSenderOptions = {}) {
    const durationMs = opts.durationMs ?? 100;
    const gapMs = opts.gapMs ?? 100;
    const frameMs = opts.frameMs ?? 20;
    const clockRate = opts.clockRate ?? 8000;
    const volume = opts.volume ?? 10;
    const endPackets = opts.endPackets ?? 3;
    const issues: string[] = [];
    if (!(durationMs >= 40 && durationMs <= 5000))
      issues.push(`dtmf durationMs must be in 40..5000, got ${durationMs}`);
    if (!(gapMs >= 0 && gapMs <= 5000)) issues.push(`dtmf gapMs must be in 0..5000, got ${gapMs}`);
    if (!(frameMs > 0 && frameMs <= 1000)) issues.push(`dtmf frameMs must be in (0, 1000], got ${frameMs}`);
    if (!(clockRate >= 1000 && clockRate <= 96000))
      issues.push(`dtmf clockRate must be in 1000..96000, got ${clockRate}`);
    if (!(Number.isInteger(volume) && volume >= 0 && volume <= 63))
      issues.push(`dtmf volume must be 0..63, got ${volume}`);
    if (!(Number.isInteger(endPackets) && endPackets >= 1 && endPackets <= 10)) {
      issues.push(`dtmf endPackets must be 1..10, got ${endPackets}`);
    }
    this.frameTs = Math.round((clockRate * frameMs) / 1000);
    this.totalTs = Math.round((clockRate * durationMs) / 1000);
    if (this.totalTs > 0xffff)
      issues.push(`dtmf durationMs too long for a 16-bit duration at ${clockRate} Hz`);
    if (issues.length > 0) throw new ConfigError(issues);
    this.gapPeriods = Math.ceil(gapMs / frameMs);
    this.frameMs = frameMs;
    this.volume = volume;
    this.endPackets = endPackets;
  }

  /**
   * Queues a dial string: digits and pauses (`w` 500 ms, `W` 1000 ms), in order. Throws
   * ConfigError (queueing nothing) when any character is neither.
   */
  enqueue(digits: string): void {
    const codes: number[] = [];
    for (const d of digits) {
      const pauseMs = d === 'w' || d === 'W' ? DTMF_PAUSE_MS[d] : undefined;
      if (pauseMs !== undefined) {
        codes.push(-Math.max(1, Math.ceil(pauseMs / this.frameMs)));
        continue;
      }
      const code = dtmfDigitToEvent(d);
      if (code === undefined) throw new ConfigError([`invalid DTMF digit "${d}"`]);
      codes.push(code);
    }
    if (this.qHead > 0 && this.qHead === this.queue.length) {
      this.queue.length = 0;
      this.qHead = 0;
    }
    for (const c of codes) this.queue.push(c);
  }

  /** Digits queued and not yet started. */
  get pending(): number {
    return this.queue.length - this.qHead;
  }

  /** True while an event is being sent (tone or end packets). */
  get active(): boolean {
    return this.state === 'tone' || this.state === 'end';
  }

  /** True when nothing is queued, sending or pausing (the last gap or pause has elapsed). */
  get drained(): boolean {
    const quiet = this.state === 'idle' || (this.state === 'gap' && this.gapLeft === 0);
    return quiet && this.qHead >= this.queue.length;
  }

  /** Drops queued digits and any event in progress (no end packets are sent). */
  clear(): void {
    this.queue.length = 0;
    this.qHead = 0;
    this.state = 'idle';
    this.gapLeft = 0;
  }

  /** The packet for this period, or `null` when no event is active (see the class doc). */
  nextPacket(): DtmfPacket | null {
    // at most: gap ends → a pause starts → it yields this period (or a digit starts)
    for (;;) {
      if (this.state === 'gap') {
        if (this.gapLeft > 0) {
          this.gapLeft--;
          return null;
        }
        this.state = 'idle';
      }
      if (this.state !== 'idle') break;
      if (this.qHead >= this.queue.length) return null;
      const item = this.queue[this.qHead++]!;
      if (item < 0) {
        this.state = 'gap'; // a pause: -item silent periods
        this.gapLeft = -item;
        continue;
      }
      this.event = item;
      this.state = 'tone';
      this.elapsed = 0;
      this.endsSent = 0;
    }
    const o = this.out;
    o.marker = this.elapsed === 0;
    o.timestampOffset = this.elapsed;
    o.digit = eventToDtmfDigit(this.event) ?? '';
    o.event = this.event;
    o.volume = this.volume;
    o.done = false;
    if (this.state === 'tone') {
      const d = this.elapsed + this.frameTs;
      if (d >= this.totalTs) {
        this.state = 'end';
        o.duration = this.totalTs;
      } else {
        o.duration = d;
      }
    } else {
      o.duration = this.totalTs;
    }
    o.end = this.state === 'end';
    if (o.end) {
      this.endsSent++;
      if (this.endsSent >= this.endPackets) {
        this.state = this.gapPeriods > 0 ? 'gap' : 'idle';
        this.gapLeft = this.gapPeriods;
        o.done = this.qHead >= this.queue.length;
      }
    }
    this.elapsed += this.frameTs;
    encodeTelephoneEvent(o, o.payload);
    return o;
  }
}

// ---------------------------------------------------------------------------------------
// Receiver

/** Options of {@link DtmfReceiver}. */
export interface DtmfReceiverOptions {
  /** How many recent event timestamps to remember against retransmissions (default 8). */
  history?: number;
}

/**
 * Turns received telephone-event payloads into digits, exactly one per event.
 *
 * Events are keyed by their RTP timestamp (one per event, RFC 4733 §2.5.1.2). A digit is
 * reported on the FIRST packet seen for a timestamp — start, update or end, so a lost
 * start packet or lost end packets still produce it, with the lowest latency — and never
 * again for that timestamp: repeated end packets, retransmissions and late packets of a
 * recent event are ignored. An event that never ends, or whose end packets are lost, has
 * therefore already been reported when the next one starts; no timeout is needed. A new
 * timestamp that continues an unfinished event of the same code (a long event split into
 * segments, RFC 4733 §2.5.1.3) is not reported again. Codes other than DTMF 0–15 and
 * payloads shorter than 4 bytes are ignored (and counted).
 */
export class DtmfReceiver {
  private readonly seen: Float64Array;
  private seenNext = 0;
  private seenCount = 0;
  private lastTs = 0;
  private lastEvent = -1;
  private lastEnded = true;
  private lastDuration = 0;
  private counters = { digits: 0, ignored: 0, malformed: 0 };

  /** A receiver that has seen no event yet (it remembers `history` recent events to drop repeats). */
  constructor(opts: DtmfReceiverOptions = {}) {
    this.seen = new Float64Array(Math.max(1, opts.history ?? 8));
  }

  /**
   * Feeds one telephone-event payload with its packet's RTP timestamp. Returns the digit
   * when this packet reports a new event, otherwise `null`. Never throws.
   */
  push(timestamp: number, payload: Uint8Array): string | null {
    if (payload.length < 4) {
      this.counters.malformed++;
      return null;
    }
    const ts = timestamp >>> 0;
    const event = payload[0]!;
    const end = (payload[1]! & 0x80) !== 0;
    const duration = (payload[2]! << 8) | payload[3]!;
    if (this.wasSeen(ts)) {
      if (ts === this.lastTs) {
        if (end) this.lastEnded = true;
        if (duration > this.lastDuration) this.lastDuration = duration;
      }
      return null;
    }
    // a segment of a long event (same code, previous not ended, timestamp right after it)
    const continues =
      this.lastEvent === event &&
      !this.lastEnded &&
      this.seenCount > 0 &&
      uint32Diff(ts, this.lastTs) > 0 &&
      uint32Diff(ts, this.lastTs) <= this.lastDuration + 0xffff;
    if (this.seenCount > 0 && uint32Diff(ts, this.lastTs) < 0) {
      // an older event we no longer remember: report it, but keep tracking the newest one
      this.remember(ts);
      return this.report(event);
    }
    this.remember(ts);
    this.lastTs = ts;
    this.lastEvent = event;
    this.lastEnded = end;
    this.lastDuration = duration;
    if (continues) return null;
    return this.report(event);
  }

  /** Counters: digits reported, packets ignored (non-DTMF codes), malformed payloads. */
  stats(): {
    /** Digits reported. */
    digits: number;
    /** Packets ignored: event codes that are not DTMF digits. */
    ignored: number;
    /** Payloads too short to be a telephone-event. */
    malformed: number;
  } {
    return { ...this.counters };
  }

  /** Forgets every event (e.g. on an SSRC change). */
  reset(): void {
    this.seenNext = 0;
    this.seenCount = 0;
    this.lastEvent = -1;
    this.lastEnded = true;
    this.lastDuration = 0;
  }

  private report(event: number): string | null {
    const digit = eventToDtmfDigit(event);
    if (digit === undefined) {
      this.counters.ignored++;
      return null;
    }
    this.counters.digits++;
    return digit;
  }

  private wasSeen(ts: number): boolean {
    const n = Math.min(this.seenCount, this.seen.length);
    for (let i = 0; i < n; i++) if (this.seen[i] === ts) return true;
    return false;
  }

  private remember(ts: number): void {
    this.seen[this.seenNext] = ts;
    this.seenNext = (this.seenNext + 1) % this.seen.length;
    this.seenCount++;
  }
}
