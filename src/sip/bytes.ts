/**
 * Small byte and character helpers shared by the SIP parsers, serializer and framer.
 * Internal module: nothing here is exported from the package root.
 */
import { Buffer } from 'node:buffer';

import { SipParseError } from '../errors.js';

/** `token` characters of RFC 3261 §25.1: alphanumerics and `-.!%*_+`'~`. */
const TOKEN_TABLE = (() => {
  const t = new Uint8Array(128);
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (const ch of "-.!%*_+`'~") t[ch.charCodeAt(0)] = 1;
  return t;
})();

/** True when the character code is a `token` character. */
export function isTokenCode(code: number): boolean {
  return code < 128 && TOKEN_TABLE[code] === 1;
}

/** True when `s` is a non-empty `token`. */
export function isToken(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN_TABLE[c] !== 1) return false;
  }
  return true;
}

/** True for SP and HTAB (and CR/LF, which may remain inside unfolded values). */
export function isWs(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0d || code === 0x0a;
}

/** Index of the first non-whitespace character at or after `i`. */
export function skipWs(s: string, i: number): number {
  const n = s.length;
  while (i < n && isWs(s.charCodeAt(i))) i++;
  return i;
}

/** `s` without leading and trailing SP/HTAB/CR/LF. */
export function trimWs(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWs(s.charCodeAt(a))) a++;
  while (b > a && isWs(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** True when `s` is only decimal digits (and not empty). */
export function isDigits(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * Parses a decimal number made of digits only, at most `max`.
 * Throws `SipParseError` naming `header` otherwise.
 */
export function parseBoundedInt(s: string, max: number, header: string, what: string): number {
  if (!isDigits(s)) throw new SipParseError(`${what} must be digits, got "${clip(s)}"`, header);
  if (s.length > 12) throw new SipParseError(`${what} is too large`, header);
  const v = Number(s);
  if (v > max) throw new SipParseError(`${what} ${v} is above ${max}`, header);
  return v;
}

/**
 * Reads a quoted-string starting at `s[i] === '"'`. Returns the unescaped content and the
 * index just after the closing quote. A quoted-pair (RFC 3261 §25.1: `\` and any octet but
 * CR and LF, NUL included) stands for the octet it escapes. Throws `SipParseError` when the
 * closing quote is missing or a quoted-pair escapes CR or LF.
 */
export function readQuoted(s: string, i: number, header: string | undefined): { value: string; end: number } {
  const close = s.indexOf('"', i + 1);
  if (close < 0) throw new SipParseError('unterminated quoted string', header);
  const bs = s.indexOf('\\', i + 1);
  if (bs < 0 || bs > close) return { value: s.slice(i + 1, close), end: close + 1 };
  const n = s.length;
  let out = '';
  let runStart = i + 1;
  for (let j = i + 1; j < n; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x5c /* \ */) {
      if (j + 1 >= n) break;
      const e = s.charCodeAt(j + 1);
      if (e === 0x0d || e === 0x0a) throw new SipParseError('quoted-pair escapes CR or LF', header);
      out += s.slice(runStart, j) + s[j + 1];
      j++;
      runStart = j + 1;
    } else if (c === 0x22 /* " */) {
      out += s.slice(runStart, j);
      return { value: out, end: j + 1 };
    }
  }
  throw new SipParseError('unterminated quoted string', header);
}

/** Index just after the quoted-string starting at `s[i] === '"'`, or -1 when unterminated. */
export function skipQuoted(s: string, i: number): number {
  const n = s.length;
  for (let j = i + 1; j < n; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x5c) j++;
    else if (c === 0x22) return j + 1;
  }
  return -1;
}

/**
 * Index of the first octet of `s[from, to)` that breaks the quoted-string rules of RFC
 * 3261 §25.1, or -1: a NUL that is not the escaped octet of a quoted-pair inside a
 * quoted-string, or a `\` inside a quoted-string that escapes CR or LF. Header lines
 * (`s` may hold a whole header section) start outside any quoted string; a folded
 * continuation line (LF then SP/HTAB) continues the line above. One linear pass.
 */
export function findBadQuotedOctet(s: string, from = 0, to = s.length): number {
  let inQuote = false;
  for (let j = from; j < to; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x00) return j;
    if (c === 0x0a) {
      // A new header line starts outside any quoted string (an unterminated one is the
      // header parser's business); a continuation line carries on.
      const next = s.charCodeAt(j + 1);
      if (next !== 0x20 && next !== 0x09) inQuote = false;
    } else if (inQuote) {
      if (c === 0x5c /* \ */) {
        const e = s.charCodeAt(j + 1);
        if (e === 0x0d || e === 0x0a) return j;
        j++; // the escaped octet, NUL included
      } else if (c === 0x22) {
        inQuote = false;
      }
    } else if (c === 0x22) {
      inQuote = true;
    }
  }
  return -1;
}

/**
 * Quotes `s` as a quoted-string: `"` and `\` are escaped, and so are the control octets
 * that are not qdtext (NUL included: `\` NUL is a quoted-pair). CR and LF cannot be
 * escaped (RFC 3261 §25.1) and stay as they are: the serializer refuses them.
 */
export function quote(s: string): string {
  let out = '"';
  let runStart = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c || c === 0x7f || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d)) {
      out += s.slice(runStart, i) + '\\';
      runStart = i;
    }
  }
  return out + s.slice(runStart) + '"';
}

/** Shortens text quoted inside an error message. */
export function clip(s: string, max = 40): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}

/**
 * A Buffer over the same memory (no copy). Buffer's `indexOf` and decoders are native and
 * several times faster than the generic Uint8Array ones, so scanning works on Buffers.
 */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes `bytes[start, end)` as UTF-8 (invalid sequences become U+FFFD). */
export function decodeUtf8(bytes: Buffer, start: number, end: number): string {
  return bytes.toString('utf8', start, end);
}

/** Number of bytes of `s` in UTF-8. */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Encodes `s` as UTF-8 into `out` at `offset`; returns the number of bytes written. */
export function writeUtf8(out: Uint8Array, s: string, offset: number): number {
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength).write(s, offset, 'utf8');
}

/** UTF-8 bytes of `s`, as a plain Uint8Array. */
export function encodeUtf8(s: string): Uint8Array {
  const out = new Uint8Array(utf8Length(s));
  writeUtf8(out, s, 0);
  return out;
}

/** A copy of `bytes[start, end)` as a plain Uint8Array (`Buffer#slice` would not copy). */
export function copyBytes(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(bytes.subarray(start, end));
  return out;
}
