/**
 * DTMF carried in SIP INFO requests, as some gateways send it instead of RFC 4733
 * telephone-events:
 * - `application/dtmf-relay` (Cisco's format): `Signal=5\r\nDuration=160\r\n`, one
 *   `key=value` per line, keys case-insensitive; `Signal` is the digit (`0`–`9`, `*`,
 *   `#`, `A`–`D`, or the RFC 4733 event codes `10`–`15` for `*`, `#`, `A`–`D`),
 *   `Duration` the length in milliseconds (optional; `0` reads as not given);
 * - `application/dtmf`: the digit alone in the body.
 *
 * Pure and bounded: bodies longer than {@link MAX_DTMF_INFO_BODY} bytes are malformed.
 */
import { parseContentType } from './headers.js';

/** The longest INFO body {@link parseDtmfInfo} reads. */
export const MAX_DTMF_INFO_BODY = 256;

/** The longest `Duration` accepted (ms); longer is malformed. */
export const MAX_DTMF_INFO_DURATION_MS = 60_000;

/**
 * What an INFO says about DTMF: a digit (upper-case `A`–`D`), not DTMF at all (another
 * Content-Type), or a DTMF Content-Type whose body could not be read (`why` says how).
 */
export type DtmfInfoParse =
  | { kind: 'dtmf'; digit: string; durationMs?: number }
  | { kind: 'other' }
  | { kind: 'malformed'; why: string };

const EVENT_CODES = '0123456789*#ABCD';

/** A digit as written in `Signal=` or an `application/dtmf` body, normalized; `undefined` when it is none. */
function digitOf(raw: string): string | undefined {
  const v = raw.trim().toUpperCase();
  if (v.length === 1 && EVENT_CODES.includes(v)) return v;
  if (/^1[0-5]$/.test(v)) return EVENT_CODES[Number(v)];
  return undefined;
}

/** Reads the DTMF of an INFO from its Content-Type and body. Never throws. */
export function parseDtmfInfo(contentType: string | undefined, body: Uint8Array): DtmfInfoParse {
  if (contentType === undefined) return { kind: 'other' };
  let subtype: string;
  try {
    const ct = parseContentType(contentType);
    if (ct.type !== 'application') return { kind: 'other' };
    subtype = ct.subtype;
  } catch {
    // Parse fallback, as documented: an unreadable Content-Type says nothing about DTMF.
    return { kind: 'other' };
  }
  if (subtype !== 'dtmf-relay' && subtype !== 'dtmf') return { kind: 'other' };
  if (body.length > MAX_DTMF_INFO_BODY)
    return { kind: 'malformed', why: `body over ${MAX_DTMF_INFO_BODY} bytes` };
  const text = new TextDecoder('utf-8', { fatal: false }).decode(body);
  if (subtype === 'dtmf') {
    const digit = digitOf(text);
    return digit === undefined ? { kind: 'malformed', why: 'not a single digit' } : { kind: 'dtmf', digit };
  }
  return parseRelay(text);
}

function parseRelay(text: string): DtmfInfoParse {
  let digit: string | undefined;
  let durationMs: number | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return { kind: 'malformed', why: 'a line without key=value' };
    const key = line.slice(0, eq).trim().toLowerCase();
    const value = line.slice(eq + 1).trim();
    if (key === 'signal') {
      if (digit !== undefined) return { kind: 'malformed', why: 'Signal given twice' };
      digit = digitOf(value);
      if (digit === undefined) return { kind: 'malformed', why: 'Signal is not a DTMF digit' };
    } else if (key === 'duration') {
      if (!/^[0-9]{1,6}$/.test(value) || Number(value) > MAX_DTMF_INFO_DURATION_MS)
        return { kind: 'malformed', why: 'Duration is not a number of milliseconds' };
      durationMs = Number(value);
    }
    // Other keys (some gateways add their own) are ignored.
  }
  if (digit === undefined) return { kind: 'malformed', why: 'no Signal' };
  return durationMs === undefined || durationMs === 0
    ? { kind: 'dtmf', digit }
    : { kind: 'dtmf', digit, durationMs };
}
