/**
 * Header values of the session timer and of retries: Session-Expires and Min-SE
 * (RFC 4028), Retry-After (RFC 3261 §20.33). Part of the header module (re-exported by
 * `headers.ts`); every parser throws `SipParseError` naming the header.
 */
import { SipParseError } from '../errors.js';
import { clip, parseBoundedInt, skipWs, trimWs } from './bytes.js';
import type { SipMessage } from './message.js';
import { parseHeaderParams } from './name-addr.js';

// ---------------------------------------------------------------- session timer, retry

/** Largest delta-seconds value accepted (RFC 3261 §20.19: up to 2**32-1). */
export const MAX_DELTA_SECONDS = 2 ** 32 - 1;

/** A parsed Session-Expires header (RFC 4028 §4). */
export interface SessionExpires {
  /** The session interval in seconds (at least 1). */
  seconds: number;
  /** Who refreshes the session, when the header says so. */
  refresher?: 'uac' | 'uas';
}

/** `delta-seconds` followed by `*( SEMI generic-param )`: the value's number and its parameters. */
function parseDeltaWithParams(
  value: string,
  header: string,
): { seconds: number; params: Map<string, string | null> } {
  const v = trimWs(value);
  let i = 0;
  while (i < v.length && v.charCodeAt(i) >= 0x30 && v.charCodeAt(i) <= 0x39) i++;
  const seconds = parseBoundedInt(v.slice(0, i), MAX_DELTA_SECONDS, header, 'delta-seconds');
  const params = new Map<string, string | null>();
  const rest = skipWs(v, i);
  if (rest < v.length) {
    if (v.charCodeAt(rest) !== 0x3b /* ; */) {
      throw new SipParseError(`unexpected "${clip(v.slice(rest), 20)}" after the delta-seconds`, header);
    }
    parseHeaderParams(v, rest, params, header);
  }
  return { seconds, params };
}

/**
 * Parses `Session-Expires: delta-seconds *( ; se-params )` (RFC 4028 §4; compact form `x`).
 * `refresher` must be `uac` or `uas` (case-insensitive) when present; other parameters are
 * ignored. A session interval of 0 is refused (it would ask for refreshes without pause).
 * Throws `SipParseError` naming `Session-Expires`.
 */
export function parseSessionExpires(value: string): SessionExpires {
  const H = 'Session-Expires';
  const { seconds, params } = parseDeltaWithParams(value, H);
  if (seconds === 0) throw new SipParseError('session interval of 0 seconds', H);
  const out: SessionExpires = { seconds };
  const refresher = params.get('refresher');
  if (refresher !== undefined) {
    const r = refresher?.toLowerCase();
    if (r !== 'uac' && r !== 'uas') {
      throw new SipParseError(`refresher must be "uac" or "uas", got "${clip(refresher ?? '')}"`, H);
    }
    out.refresher = r;
  }
  return out;
}

/**
 * The Session-Expires of a message (RFC 4028), or `undefined` when it has none. Throws
 * `SipParseError` when it is malformed or written more than once.
 */
export function getSessionExpires(msg: SipMessage): SessionExpires | undefined {
  const lines = msg.headers.getAll('Session-Expires');
  if (lines.length === 0) return undefined;
  if (lines.length > 1) throw new SipParseError('more than one header line', 'Session-Expires');
  return parseSessionExpires(lines[0]!);
}

/**
 * Parses `Min-SE: delta-seconds *( ; generic-param )` (RFC 4028 §5): the smallest session
 * interval the sender accepts, in seconds. Parameters are ignored. Throws `SipParseError`.
 */
export function parseMinSe(value: string): number {
  return parseDeltaWithParams(value, 'Min-SE').seconds;
}

/** The Min-SE of a message in seconds, or `undefined` when it has none. */
export function getMinSe(msg: SipMessage): number | undefined {
  const v = msg.headers.get('Min-SE');
  return v === undefined ? undefined : parseMinSe(v);
}

/** A parsed Retry-After header (RFC 3261 §20.33). */
export interface RetryAfter {
  /** When to retry, in seconds from the response. */
  seconds: number;
  /** The comment, without its outer parentheses, quoted-pairs unescaped (`"I'm in a meeting"`). */
  comment?: string;
  /** The `duration` parameter: how long the callee will be reachable, in seconds. */
  duration?: number;
  /** Every parameter in order (names lower-cased, values as written), `duration` included. */
  params: Map<string, string | null>;
}

/**
 * Reads a `comment` (RFC 3261 §25.1: parentheses that nest, with quoted-pairs) starting at
 * `s[i] === '('`. Returns the text between the outer parentheses (nested ones kept,
 * quoted-pairs unescaped) and the index after the closing one.
 */
function readComment(s: string, i: number, header: string): { text: string; end: number } {
  const n = s.length;
  let depth = 0;
  let out = '';
  let runStart = i + 1;
  for (let j = i; j < n; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x5c /* \ */) {
      const e = s.charCodeAt(j + 1);
      if (j + 1 >= n) break;
      if (e === 0x0d || e === 0x0a)
        throw new SipParseError('quoted-pair escapes CR or LF in a comment', header);
      out += s.slice(runStart, j) + s[j + 1];
      j++;
      runStart = j + 1;
    } else if (c === 0x28 /* ( */) {
      depth++;
    } else if (c === 0x29 /* ) */) {
      if (--depth === 0) return { text: out + s.slice(runStart, j), end: j + 1 };
    }
  }
  throw new SipParseError('unterminated comment', header);
}

/**
 * Parses `Retry-After: delta-seconds [ comment ] *( ; retry-param )` (RFC 3261 §20.33),
 * e.g. `18000;duration=3600` or `120 (I'm in a meeting)`. Throws `SipParseError`.
 */
export function parseRetryAfter(value: string): RetryAfter {
  const H = 'Retry-After';
  const v = trimWs(value);
  let i = 0;
  while (i < v.length && v.charCodeAt(i) >= 0x30 && v.charCodeAt(i) <= 0x39) i++;
  const seconds = parseBoundedInt(v.slice(0, i), MAX_DELTA_SECONDS, H, 'delta-seconds');
  const out: RetryAfter = { seconds, params: new Map() };
  i = skipWs(v, i);
  if (v.charCodeAt(i) === 0x28 /* ( */) {
    const c = readComment(v, i, H);
    out.comment = c.text;
    i = skipWs(v, c.end);
  }
  if (i < v.length) {
    if (v.charCodeAt(i) !== 0x3b /* ; */) {
      throw new SipParseError(`unexpected "${clip(v.slice(i), 20)}" after the delta-seconds`, H);
    }
    parseHeaderParams(v, i, out.params, H);
  }
  const duration = out.params.get('duration');
  if (duration !== undefined) {
    out.duration = parseBoundedInt(duration ?? '', MAX_DELTA_SECONDS, H, 'duration');
  }
  return out;
}

/** The Retry-After of a message, or `undefined` when it has none. Throws `SipParseError` when malformed. */
export function getRetryAfter(msg: SipMessage): RetryAfter | undefined {
  const v = msg.headers.get('Retry-After');
  return v === undefined ? undefined : parseRetryAfter(v);
}
