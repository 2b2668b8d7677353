/**
 * Exotel's AgentStream WebSocket protocol (Voicebot/Stream applets, the "connect Voice AI"
 * call API): the events as types, a strict parser for what Exotel sends, and builders
 * for both directions (ours, and the simulator's). Pure: no sockets, no clock.
 *
 * Exotel → us: `connected`, `start`, `media`, `dtmf`, `mark`, `stop`.
 * Us → Exotel: `media`, `mark`, `clear` (bidirectional streams only).
 * Audio is base64 16-bit little-endian mono PCM at 8000 (default), 16000 or 24000 Hz.
 * Numbers travel as decimal strings (`"sequence_number": "3"`); we accept numbers too.
 */
import { StreamProtocolError } from '../errors.js';

/** The sample rates Exotel streams at. */
export type StreamSampleRate = 8000 | 16000 | 24000;
/** Every {@link StreamSampleRate}, in ascending order (to validate a rate given at run time). */
export const STREAM_SAMPLE_RATES: readonly StreamSampleRate[] = [8000, 16000, 24000];

/** What `start` says about the call. */
export interface StreamStart {
  /** Exotel's id of this stream; every later message of it carries the same. */
  streamSid: string;
  /** Exotel's id of the call (the bridge's `sip.callID`). */
  callSid: string;
  /** The Exotel account the call belongs to. */
  accountSid: string;
  /** The caller (inbound) or the callee's Exophone side, as Exotel writes it. */
  from: string;
  /** The other party: the Exophone dialled (inbound) or the number called, as Exotel writes it. */
  to: string;
  /** Query parameters of the stream URL (at most a handful, short strings). */
  customParameters: Readonly<Record<string, string>>;
  /** `audio/x-raw` for 16-bit linear PCM. */
  encoding: string;
  /** Samples per second of the audio, both ways. */
  sampleRate: StreamSampleRate;
  /** Bits per sample: always 16 (any `bit_rate` Exotel writes for 16-bit PCM is accepted). */
  bitRate: number;
}

/** One event from Exotel, parsed and checked. */
export type ExotelStreamEvent =
  | {
      /** The WebSocket is open; `start` follows. */
      event: 'connected';
    }
  | {
      /** The stream starts: who is calling and the audio format. */
      event: 'start';
      /** Exotel's message counter (0 when it sent none). */
      sequenceNumber: number;
      /** The call's identity and the audio format. */
      start: StreamStart;
    }
  | {
      /** A chunk of caller audio. */
      event: 'media';
      /** Exotel's message counter (0 when it sent none). */
      sequenceNumber: number;
      /** The stream the message belongs to. */
      streamSid: string;
      /** Exotel's media chunk counter, from 1. */
      chunk: number;
      /** Milliseconds since the stream started, as Exotel stamps it. */
      timestamp: number;
      /** The base64 payload, still encoded (decode with {@link decodePcm}). */
      payload: string;
    }
  | {
      /** The caller pressed a key. */
      event: 'dtmf';
      /** Exotel's message counter (0 when it sent none). */
      sequenceNumber: number;
      /** The stream the message belongs to. */
      streamSid: string;
      /** The digit, upper-cased: `0`–`9`, `*`, `#` or `A`–`D`. */
      digit: string;
      /** How long it was held, in ms (0 when Exotel did not say). */
      durationMs: number;
    }
  | {
      /** Exotel played the audio we sent before the mark `name`. */
      event: 'mark';
      /** Exotel's message counter (0 when it sent none). */
      sequenceNumber: number;
      /** The stream the message belongs to. */
      streamSid: string;
      /** The name we gave the mark. */
      name: string;
    }
  | {
      /** The stream is over (the call ended or the applet moved on). */
      event: 'stop';
      /** Exotel's message counter (0 when it sent none). */
      sequenceNumber: number;
      /** The stream the message belongs to. */
      streamSid: string;
      /** The call's SID. */
      callSid: string;
      /** Why, as Exotel says it (`callended`, `stopped`). */
      reason: string;
    }
  /** An event name we do not know: counted, never an error (Exotel may add events). */
  | {
      /** Any event name this library does not know. */
      event: 'unknown';
      /** The event name as received (at most 64 characters). */
      name: string;
    };

/** Bounds of what {@link parseExotelEvent} accepts. */
export interface StreamParseLimits {
  /** Longest base64 payload in characters (default 96 KiB: 3 s of 16 kHz audio). */
  maxPayloadChars?: number;
  /** Longest string field other than the payload (default 256). */
  maxFieldChars?: number;
  /** Most custom parameters kept (default 8; Exotel sends up to 3). */
  maxCustomParameters?: number;
}

const DEFAULT_MAX_PAYLOAD = 96 * 1024;
const DEFAULT_MAX_FIELD = 256;
const DEFAULT_MAX_PARAMS = 8;
const DIGITS = /^[0-9]{1,12}$/;
const DTMF = /^[0-9*#A-Da-d]$/;
/** A character outside the standard base64 alphabet and its padding. */
const NOT_BASE64 = /[^A-Za-z0-9+/=]/;
/**
 * How Exotel names 16-bit linear PCM: its developer page writes `audio/x-raw`, streams seen in
 * the wild say `raw/slin` or `base64` (the transfer encoding of that same PCM). G.711 names
 * are refused: that audio would be misread.
 */
const LINEAR_PCM = /^(?:audio\/x-raw|raw\/slin(?:16|24)?|slin(?:16|24)?|base64|audio\/x-l16|audio\/l16)$/i;

type Json = Record<string, unknown>;

/**
 * Parses one text message from Exotel. Throws `StreamProtocolError` (`malformed-json`,
 * `bad-event`, `too-large`) for anything else (the media payload is checked by
 * {@link decodePcm}); an unknown event name is returned as
 * `{ event: 'unknown' }`. Never throws anything but `StreamProtocolError`.
 */
export function parseExotelEvent(text: string, limits: StreamParseLimits = {}): ExotelStreamEvent {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new StreamProtocolError('malformed-json', 'AgentStream message is not JSON', { cause: err });
  }
  if (!isObject(v)) throw bad('message is not a JSON object');
  const name = v['event'];
  if (typeof name !== 'string') throw bad('message has no "event" name');
  const maxField = limits.maxFieldChars ?? DEFAULT_MAX_FIELD;
  switch (name) {
    case 'connected':
      return { event: 'connected' };
    case 'start': {
      const s = obj(v, 'start');
      const format = isObject(s['media_format']) ? s['media_format'] : {};
      const rate = format['sample_rate'] === undefined ? 8000 : int(format, 'sample_rate', 'media_format');
      if (!STREAM_SAMPLE_RATES.includes(rate as StreamSampleRate))
        throw bad(`unsupported sample_rate ${rate} (8000, 16000 or 24000)`);
      const bitRate = bitRateOf(format['bit_rate'], rate as StreamSampleRate);
      const encoding = format['encoding'] === undefined ? 'audio/x-raw' : str(format, 'encoding', maxField);
      if (!LINEAR_PCM.test(encoding))
        throw bad(`unsupported encoding ${JSON.stringify(encoding)} (16-bit PCM only)`);
      const streamSid = str(s, 'stream_sid', maxField, str(v, 'stream_sid', maxField, ''));
      if (streamSid === '') throw bad('start has no stream_sid');
      return {
        event: 'start',
        sequenceNumber: seq(v),
        start: {
          streamSid,
          callSid: nonEmpty(str(s, 'call_sid', maxField), 'call_sid'),
          accountSid: str(s, 'account_sid', maxField, ''),
          from: str(s, 'from', maxField, ''),
          to: str(s, 'to', maxField, ''),
          customParameters: params(s['custom_parameters'], limits, maxField),
          encoding,
          sampleRate: rate as StreamSampleRate,
          bitRate,
        },
      };
    }
    case 'media': {
      const m = obj(v, 'media');
      const payload = m['payload'];
      if (typeof payload !== 'string') throw bad('media has no payload');
      const maxPayload = limits.maxPayloadChars ?? DEFAULT_MAX_PAYLOAD;
      if (payload.length > maxPayload)
        throw new StreamProtocolError('too-large', `media payload of ${payload.length} characters`);
      return {
        event: 'media',
        sequenceNumber: seq(v),
        streamSid: str(v, 'stream_sid', maxField, ''),
        chunk: m['chunk'] === undefined ? 0 : int(m, 'chunk', 'media'),
        timestamp: m['timestamp'] === undefined ? 0 : int(m, 'timestamp', 'media'),
        payload,
      };
    }
    case 'dtmf': {
      const d = obj(v, 'dtmf');
      const digit = str(d, 'digit', 1);
      if (!DTMF.test(digit)) throw bad(`dtmf digit ${JSON.stringify(digit)}`);
      return {
        event: 'dtmf',
        sequenceNumber: seq(v),
        streamSid: str(v, 'stream_sid', maxField, ''),
        digit: digit.toUpperCase(),
        durationMs: d['duration'] === undefined ? 0 : int(d, 'duration', 'dtmf'),
      };
    }
    case 'mark': {
      const m = obj(v, 'mark');
      return {
        event: 'mark',
        sequenceNumber: seq(v),
        streamSid: str(v, 'stream_sid', maxField, ''),
        name: nonEmpty(str(m, 'name', maxField), 'mark name'),
      };
    }
    case 'stop': {
      const s = isObject(v['stop']) ? v['stop'] : {};
      return {
        event: 'stop',
        sequenceNumber: seq(v),
        streamSid: str(v, 'stream_sid', maxField, ''),
        callSid: str(s, 'call_sid', maxField, ''),
        reason: str(s, 'reason', maxField, ''),
      };
    }
    default:
      return { event: 'unknown', name: name.slice(0, 64) };
  }
}

/**
 * Decodes a base64 payload of 16-bit little-endian PCM into samples (a fresh array).
 * Throws `StreamProtocolError('bad-payload')` for anything that is not whole samples of
 * strict base64.
 */
export function decodePcm(payload: string): Int16Array {
  if (payload.length === 0) return new Int16Array(0);
  // checked without a backtracking pattern: a payload of millions of characters must not blow the stack
  const pad = payload.indexOf('=');
  if (
    payload.length % 4 !== 0 ||
    NOT_BASE64.test(payload) ||
    (pad !== -1 && (pad < payload.length - 2 || payload.slice(pad) !== '='.repeat(payload.length - pad)))
  )
    throw new StreamProtocolError('bad-payload', 'media payload is not base64');
  const bytes = Buffer.from(payload, 'base64');
  if (bytes.length % 2 !== 0)
    throw new StreamProtocolError('bad-payload', `media payload of ${bytes.length} bytes (odd)`);
  const out = new Int16Array(bytes.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readInt16LE(i * 2);
  return out;
}

/** Base64 of samples as 16-bit little-endian PCM. */
export function encodePcm(samples: Int16Array): string {
  const bytes = Buffer.allocUnsafe(samples.length * 2);
  for (let i = 0; i < samples.length; i++) bytes.writeInt16LE(samples[i] ?? 0, i * 2);
  return bytes.toString('base64');
}

// --- us → Exotel ---

/** A `media` message playing `samples` to the caller. */
export function mediaMessage(streamSid: string, samples: Int16Array): string {
  return JSON.stringify({ event: 'media', stream_sid: streamSid, media: { payload: encodePcm(samples) } });
}

/** A `mark`: Exotel echoes it once the audio sent before it has played. */
export function markMessage(streamSid: string, name: string): string {
  return JSON.stringify({ event: 'mark', stream_sid: streamSid, mark: { name } });
}

/** A `clear`: Exotel drops the audio it has not played yet (barge-in). */
export function clearMessage(streamSid: string): string {
  return JSON.stringify({ event: 'clear', stream_sid: streamSid });
}

/** What a bidirectional stream's far end (Exotel) receives from us. */
export type BotStreamEvent =
  | {
      /** Audio for the caller. */
      event: 'media';
      /** The decoded 16-bit PCM, at the stream's rate. */
      samples: Int16Array;
    }
  | {
      /** Echo `name` once the audio before it has played. */
      event: 'mark';
      /** The mark's name. */
      name: string;
    }
  | {
      /** Drop the audio not played yet (barge-in). */
      event: 'clear';
    }
  | {
      /** Any event name this library does not know. */
      event: 'unknown';
      /** The event name as received (at most 64 characters). */
      name: string;
    };

/** Parses what we send (the simulator's side). Throws `StreamProtocolError` like {@link parseExotelEvent}. */
export function parseBotEvent(text: string): BotStreamEvent {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new StreamProtocolError('malformed-json', 'AgentStream message is not JSON', { cause: err });
  }
  if (!isObject(v) || typeof v['event'] !== 'string') throw bad('message has no "event" name');
  switch (v['event']) {
    case 'media': {
      const m = obj(v, 'media');
      if (typeof m['payload'] !== 'string') throw bad('media has no payload');
      return { event: 'media', samples: decodePcm(m['payload']) };
    }
    case 'mark':
      return { event: 'mark', name: nonEmpty(str(obj(v, 'mark'), 'name', DEFAULT_MAX_FIELD), 'mark name') };
    case 'clear':
      return { event: 'clear' };
    default:
      return { event: 'unknown', name: v['event'].slice(0, 64) };
  }
}

// --- Exotel → us (the simulator's side) ---

/** Builds Exotel's messages, numbering them as Exotel does. */
export class ExotelEventWriter {
  private sequence = 0;
  private chunk = 0;

  /** A writer for the stream `streamSid`; its sequence and chunk counters start at 1. */
  constructor(private readonly streamSid: string) {}

  /** The `connected` message, sent first once the WebSocket is open. */
  connected(): string {
    return JSON.stringify({ event: 'connected' });
  }

  /** The `start` message: the call's identity and the audio format (16-bit PCM at `s.sampleRate`). */
  start(s: Omit<StreamStart, 'streamSid' | 'encoding' | 'bitRate'>): string {
    return JSON.stringify({
      event: 'start',
      sequence_number: this.next(),
      stream_sid: this.streamSid,
      start: {
        stream_sid: this.streamSid,
        call_sid: s.callSid,
        account_sid: s.accountSid,
        from: s.from,
        to: s.to,
        custom_parameters: s.customParameters,
        media_format: { encoding: 'audio/x-raw', sample_rate: String(s.sampleRate), bit_rate: '16' },
      },
    });
  }

  /** A `media` message carrying `samples` of caller audio, stamped `timestampMs` after the start. */
  media(samples: Int16Array, timestampMs: number): string {
    this.chunk += 1;
    return JSON.stringify({
      event: 'media',
      sequence_number: this.next(),
      stream_sid: this.streamSid,
      media: {
        chunk: String(this.chunk),
        timestamp: String(Math.round(timestampMs)),
        payload: encodePcm(samples),
      },
    });
  }

  /** A `dtmf` message: the caller pressed `digit` for `durationMs` (default 100). */
  dtmf(digit: string, durationMs = 100): string {
    return JSON.stringify({
      event: 'dtmf',
      sequence_number: this.next(),
      stream_sid: this.streamSid,
      dtmf: { digit, duration: String(durationMs) },
    });
  }

  /** A `mark` echo: the audio sent before the mark `name` has played. */
  mark(name: string): string {
    return JSON.stringify({
      event: 'mark',
      sequence_number: this.next(),
      stream_sid: this.streamSid,
      mark: { name },
    });
  }

  /** The `stop` message that ends the stream (`reason` default `callended`). */
  stop(callSid: string, reason = 'callended', accountSid = ''): string {
    return JSON.stringify({
      event: 'stop',
      sequence_number: this.next(),
      stream_sid: this.streamSid,
      stop: { call_sid: callSid, account_sid: accountSid, reason },
    });
  }

  private next(): string {
    this.sequence += 1;
    return String(this.sequence);
  }
}

// --- field helpers ---

function bad(message: string): StreamProtocolError {
  return new StreamProtocolError('bad-event', message);
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function obj(v: Json, key: string): Json {
  const o = v[key];
  if (!isObject(o)) throw bad(`${String(v['event'])} has no "${key}" object`);
  return o;
}

function str(v: Json, key: string, max: number, fallback?: string): string {
  const s = v[key];
  if (s === undefined && fallback !== undefined) return fallback;
  if (typeof s !== 'string') throw bad(`"${key}" is not a string`);
  if (s.length > max) throw bad(`"${key}" is longer than ${max} characters`);
  return s;
}

function nonEmpty(s: string, what: string): string {
  if (s === '') throw bad(`${what} is empty`);
  return s;
}

/** A non-negative integer sent as a decimal string (Exotel) or a JSON number. */
function int(v: Json, key: string, where: string): number {
  const x = v[key];
  if (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) return x;
  if (typeof x === 'string' && DIGITS.test(x)) return Number(x);
  throw bad(`${where}.${key} is not a non-negative integer`);
}

/**
 * `bit_rate` as Exotel may write it: bits per sample (`16`), bits a second (`128000` at
 * 8 kHz), or kilobits a second (`128`, `"128kbps"`). Anything but 16-bit audio is refused.
 */
function bitRateOf(v: unknown, rate: StreamSampleRate): number {
  if (v === undefined || v === null || v === '') return 16;
  const m = typeof v === 'string' ? /^([0-9]{1,7})\s*(kbps)?$/i.exec(v.trim()) : null;
  const n = typeof v === 'number' && Number.isSafeInteger(v) ? v : m ? Number(m[1]) : NaN;
  const kbps = (rate * 16) / 1000;
  if (m?.[2] !== undefined ? n === kbps : n === 16 || n === rate * 16 || n === kbps) return 16;
  throw bad(`unsupported bit_rate ${JSON.stringify(v)} (16-bit PCM at ${rate} Hz only)`);
}

function seq(v: Json): number {
  return v['sequence_number'] === undefined ? 0 : int(v, 'sequence_number', String(v['event']));
}

function params(v: unknown, limits: StreamParseLimits, maxField: number): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === undefined || v === null) return out;
  if (!isObject(v)) throw bad('custom_parameters is not an object');
  const max = limits.maxCustomParameters ?? DEFAULT_MAX_PARAMS;
  let n = 0;
  for (const [k, val] of Object.entries(v)) {
    if (++n > max) throw bad(`more than ${max} custom_parameters`);
    if (k.length > maxField) throw bad('a custom parameter name is too long');
    const s = typeof val === 'string' ? val : typeof val === 'number' ? String(val) : undefined;
    if (s === undefined || s.length > maxField) throw bad(`custom parameter ${k} is not a short string`);
    // own-property map: a "__proto__" key must not reach the prototype
    Object.defineProperty(out, k, { value: s, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
