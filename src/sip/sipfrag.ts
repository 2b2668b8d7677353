/**
 * `message/sipfrag` bodies (RFC 3420) as NOTIFYs of a REFER subscription carry them
 * (RFC 3515 §2.4.5): the status line of the response the far end got to the request the
 * REFER made it send (`SIP/2.0 100 Trying`, `SIP/2.0 200 OK`, `SIP/2.0 503 Service
 * Unavailable`), optionally followed by some of that response's headers, which we ignore.
 *
 * Pure and bounded: only the first line is read, at most {@link MAX_SIPFRAG_STATUS_LINE}
 * characters of it; anything else is "no status" (`undefined`), never an exception.
 */
import { parseContentType } from './headers.js';

/** The longest status line {@link parseSipfrag} reads. */
export const MAX_SIPFRAG_STATUS_LINE = 256;

/** The status line of a sipfrag. */
export interface SipfragStatus {
  /** 100–699. */
  status: number;
  /** The reason phrase as written (may be empty). */
  reason: string;
}

/** Whether a Content-Type value is `message/sipfrag` (any parameters, e.g. `;version=2.0`). */
export function isSipfragContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  try {
    const ct = parseContentType(value);
    return ct.type === 'message' && ct.subtype === 'sipfrag';
  } catch {
    // Parse fallback, as documented: an unreadable Content-Type is not a sipfrag.
    return false;
  }
}

/**
 * The status line of a `message/sipfrag` body: `SIP/2.0 <3 digits> <reason>` on the first
 * line (ended by CRLF, LF or the end of the body). `undefined` when the body is a request
 * fragment, empty, too long, or not a status line.
 */
export function parseSipfrag(body: Uint8Array | string): SipfragStatus | undefined {
  const text =
    typeof body === 'string'
      ? body.slice(0, MAX_SIPFRAG_STATUS_LINE + 2)
      : new TextDecoder().decode(body.subarray(0, MAX_SIPFRAG_STATUS_LINE + 2));
  let end = text.indexOf('\n');
  if (end < 0) end = text.length;
  const line = text.slice(0, end).replace(/\r$/, '');
  if (line.length > MAX_SIPFRAG_STATUS_LINE) return undefined;
  const m = /^SIP\/2\.0 ([1-6][0-9]{2})(?: (.*))?$/i.exec(line.trim());
  if (m === null || hasControl(m[2] ?? '')) return undefined;
  return { status: Number(m[1]), reason: (m[2] ?? '').trim() };
}

/** Whether `s` holds a control character other than horizontal tab (never in a reason phrase). */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}
