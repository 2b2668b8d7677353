/**
 * SIP message parser (RFC 3261 §7): start line, headers (compact forms, folding, bare-LF
 * line ends tolerated) and the body as bytes.
 *
 * The message is decoded once as latin1 (one char per byte, so string offsets are byte
 * offsets), the header section is found and cut into lines with native `indexOf`, and it
 * is re-decoded as UTF-8 only when it holds non-ASCII bytes. No per-line regular
 * expressions, no readline. The headers the library reads (Via, CSeq, Call-ID, From, To,
 * Max-Forwards, Content-Length, Content-Type) are validated here, so a message that parses
 * always has usable values for them, and their parsed forms are cached for the getters in
 * `headers.ts` (hot-path grammar checks use anchored, backtracking-free regular
 * expressions, which scan several times faster than per-character loops).
 */
import { Buffer, isAscii } from 'node:buffer';

import { SipParseError } from '../errors.js';

import { asBuffer, clip, decodeUtf8, findBadQuotedOctet, isToken, trimWs } from './bytes.js';
import {
  parseAddressHeader,
  parseCSeq,
  parseCallId,
  parseContentLength,
  parseContentType,
  parseMaxForwards,
  parseVia,
  ParsedSipRequest,
  ParsedSipResponse,
  primeMessageCache,
} from './headers.js';
import type { AddressHeader, CSeq, Via } from './headers.js';
import { canonicalHeaderName, SipHeaders } from './message.js';
import type { SipMessage } from './message.js';

/** Options of `parseSipMessage`. */
export interface ParseSipMessageOptions {
  /**
   * `datagram` (default): a Content-Length larger than the body is an error, a smaller one
   * truncates the body, none means "the rest of the datagram" (RFC 3261 §18.3).
   * `stream`: Content-Length is mandatory and must match the body exactly.
   */
  transport?: 'datagram' | 'stream';
}

const EMPTY = new Uint8Array(0);

/** Raw header names seen on the wire → canonical names (bounded, names are attacker-chosen). */
const NAME_CACHE = new Map<string, string>();
const NAME_CACHE_MAX = 512;

/**
 * Common header names as usually spelled on the wire, indexed by length, so most names
 * are recognized without allocating or hashing a slice.
 */
const FAST_SPELLINGS: (string[] | undefined)[] = [];
const FAST_CANONICAL: (string[] | undefined)[] = [];
{
  const common = [
    'Via',
    'From',
    'To',
    'Call-ID',
    'CSeq',
    'Contact',
    'Max-Forwards',
    'Content-Length',
    'Content-Type',
    'Allow',
    'Supported',
    'Require',
    'User-Agent',
    'Server',
    'Route',
    'Record-Route',
    'WWW-Authenticate',
    'Proxy-Authenticate',
    'Authorization',
    'Proxy-Authorization',
    'Expires',
    'Accept',
    'Session-Expires',
    'Min-SE',
    'Date',
    'Subject',
    'Reason',
    'P-Asserted-Identity',
    'Remote-Party-ID',
    'Privacy',
    'Event',
    'Allow-Events',
    'Timestamp',
    'Unsupported',
    'Warning',
    'Retry-After',
    'Min-Expires',
    'Content-Disposition',
    'Content-Encoding',
    'MIME-Version',
    'Refer-To',
    'Referred-By',
    'Replaces',
    'RSeq',
    'RAck',
    'Organization',
    'Call-Id',
    'Cseq',
    'X-Exotel-AccountSid',
    'X-Exotel-CallSid',
    'X-Exotel-LegSid',
    'X-Exotel-TrunkSid',
    'X-Exotel-Accountsid',
    'X-Exotel-Callsid',
    'X-Exotel-Legsid',
    'X-Exotel-Trunksid',
    ...'vftimlckseorux',
  ];
  for (const spelling of common) {
    const canonical = canonicalHeaderName(spelling);
    (FAST_SPELLINGS[spelling.length] ??= []).push(spelling);
    // Reuse the literal when it is already canonical: literals are internalized, so the
    // comparisons and map lookups made with the name later are pointer comparisons.
    (FAST_CANONICAL[spelling.length] ??= []).push(canonical === spelling ? spelling : canonical);
  }
}

function headerName(text: string, start: number, end: number): string {
  const spellings = FAST_SPELLINGS[end - start];
  if (spellings !== undefined) {
    const len = end - start;
    const c0 = text.charCodeAt(start);
    for (let k = 0; k < spellings.length; k++) {
      const spelling = spellings[k]!;
      if (spelling.charCodeAt(0) !== c0) continue;
      let j = 1;
      while (j < len && spelling.charCodeAt(j) === text.charCodeAt(start + j)) j++;
      if (j === len) return FAST_CANONICAL[len]![k]!;
    }
  }
  const raw = text.slice(start, end);
  let name = NAME_CACHE.get(raw);
  if (name === undefined) {
    if (!isToken(raw)) throw new SipParseError(`invalid header name "${clip(raw)}"`);
    name = canonicalHeaderName(raw);
    if (NAME_CACHE.size < NAME_CACHE_MAX) NAME_CACHE.set(raw, name);
  }
  return name;
}

/** `text[a, b)` without leading and trailing SP/HTAB. */
function sliceTrim(text: string, a: number, b: number): string {
  // The usual `Name: value` with one space and nothing trailing.
  if (b - a > 1 && text.charCodeAt(a) === 0x20) {
    const c1 = text.charCodeAt(a + 1);
    const cl = text.charCodeAt(b - 1);
    if (c1 !== 0x20 && c1 !== 0x09 && cl !== 0x20 && cl !== 0x09) return text.slice(a + 1, b);
  }
  while (a < b) {
    const c = text.charCodeAt(a);
    if (c !== 0x20 && c !== 0x09) break;
    a++;
  }
  while (b > a) {
    const c = text.charCodeAt(b - 1);
    if (c !== 0x20 && c !== 0x09) break;
    b--;
  }
  return text.slice(a, b);
}

/** The error for a forbidden character at `at`, naming the header line it is in. */
function badCharError(text: string, at: number, what: string): SipParseError {
  let lineStart = text.lastIndexOf('\n', at) + 1;
  // A continuation line belongs to the header above it.
  while (lineStart > 1 && (text.charCodeAt(lineStart) === 0x20 || text.charCodeAt(lineStart) === 0x09)) {
    lineStart = text.lastIndexOf('\n', lineStart - 2) + 1;
  }
  const colon = text.indexOf(':', lineStart);
  const name = colon > lineStart && colon < at ? trimWs(text.slice(lineStart, colon)) : '';
  return isToken(name)
    ? new SipParseError(`${what} inside the value`, canonicalHeaderName(name))
    : new SipParseError(`${what} in the start line`);
}

/**
 * Finds the empty line that ends the header section in `text[start…]` (CRLF or bare-LF
 * line ends). Returns the index where the empty line starts (`headEnd`) and the index of
 * the first body character, or `undefined`.
 */
export function findHeaderEnd(
  text: string,
  start: number,
): { headEnd: number; bodyStart: number } | undefined {
  const a = text.indexOf('\n\r\n', start);
  // A bare-LF empty line can only matter before the first CRLF one.
  const b = a < 0 ? text.indexOf('\n\n', start) : text.slice(start, a + 1).indexOf('\n\n');
  if (b >= 0) {
    const at = a < 0 ? b : start + b;
    return { headEnd: at + 1, bodyStart: at + 2 };
  }
  if (a >= 0) return { headEnd: a + 1, bodyStart: a + 3 };
  return undefined;
}

/** The start line and headers of a message, before its body is attached. */
export interface ParsedHead {
  message: SipMessage;
  /** The Content-Length value, when the header is present. */
  contentLength: number | undefined;
}

// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const BAD_REQUEST_URI_CHAR_RE = /[\x00-\x20\x7f<>"]/;

function parseStartLine(line: string): ParsedSipRequest | ParsedSipResponse {
  if (line.length === 0) throw new SipParseError('empty start line');
  const sp1 = line.indexOf(' ');
  if (sp1 < 0) throw new SipParseError(`malformed start line "${clip(line)}"`);
  const first = line.slice(0, sp1);
  if (first === 'SIP/2.0' || (first.length === 7 && first.toUpperCase() === 'SIP/2.0')) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
    let sp2 = line.indexOf(' ', sp1 + 1);
    if (sp2 < 0) sp2 = line.length;
    const code = line.slice(sp1 + 1, sp2);
    if (code.length !== 3 || !/^[0-9]{3}$/.test(code)) {
      throw new SipParseError(`malformed status code "${clip(code)}"`);
    }
    const status = Number(code);
    if (status < 100 || status > 699) throw new SipParseError(`status ${status} is outside 100-699`);
    const reason = line.slice(sp2 + 1);
    return new ParsedSipResponse(status, reason, new SipHeaders(), EMPTY);
  }
  if (first.startsWith('SIP/') || first.startsWith('sip/')) {
    throw new SipParseError(`unsupported SIP version "${clip(first)}"`);
  }
  // Request-Line = Method SP Request-URI SP SIP-Version
  const sp2 = line.indexOf(' ', sp1 + 1);
  if (sp2 < 0) throw new SipParseError(`malformed request line "${clip(line)}"`);
  const method = first;
  const uri = line.slice(sp1 + 1, sp2);
  const version = line.slice(sp2 + 1);
  if (!isToken(method)) throw new SipParseError(`invalid method "${clip(method)}"`);
  if (uri.length === 0 || uri.indexOf(':') <= 0)
    throw new SipParseError(`malformed Request-URI "${clip(uri)}"`);
  if (BAD_REQUEST_URI_CHAR_RE.test(uri)) throw new SipParseError(`malformed Request-URI "${clip(uri)}"`);
  if (version !== 'SIP/2.0' && (version.length !== 7 || version.toUpperCase() !== 'SIP/2.0')) {
    throw new SipParseError(`unsupported SIP version "${clip(version)}"`);
  }
  return new ParsedSipRequest(method, uri, new SipHeaders(), EMPTY);
}

/**
 * Parses a header section (start line and header lines, without the empty line) given as
 * text. Validates the headers the library reads. Internal: used by `parseSipMessage` and
 * the stream framer.
 */
export function parseHead(text: string, start = 0, end = text.length): ParsedHead {
  // Works on `text[start, end)` in place: a flat string scans faster than a slice of one.
  const n = end;
  // NUL only as a quoted-pair inside a quoted-string (RFC 3261 §25.1), and a quoted-pair
  // never escapes CR or LF. Both are rare: the full check runs only when one may be there.
  const nul = text.indexOf('\0', start);
  const backslash = text.indexOf('\\', start);
  if ((nul >= 0 && nul < n) || (backslash >= 0 && backslash < n)) {
    const bad = findBadQuotedOctet(text, start, n);
    if (bad >= 0) {
      throw badCharError(
        text,
        bad,
        text.charCodeAt(bad) === 0 ? 'NUL outside a quoted-pair' : 'quoted-pair escaping CR or LF',
      );
    }
  }
  // CR only before LF.
  for (let cr = text.indexOf('\r', start); cr >= 0 && cr < n; cr = text.indexOf('\r', cr + 2)) {
    if (text.charCodeAt(cr + 1) !== 0x0a) throw badCharError(text, cr, 'bare CR');
  }
  let pos = start;
  // RFC 3261 §7.5: ignore CRLFs before the start line.
  while (pos < n && (text.charCodeAt(pos) === 0x0d || text.charCodeAt(pos) === 0x0a)) pos++;
  let lf = text.indexOf('\n', pos);
  if (lf < 0 || lf > n) lf = n;
  const message = parseStartLine(text.slice(pos, lf > pos && text.charCodeAt(lf - 1) === 0x0d ? lf - 1 : lf));
  const headers = message.headers;

  let via: string[] | undefined;
  let cseq: string | undefined;
  let callId: string | undefined;
  let from: string | undefined;
  let to: string | undefined;
  let maxForwards: string | undefined;
  let contentLength: string | undefined;
  let contentType: string | undefined;

  pos = lf + 1;
  if (pos < n && (text.charCodeAt(pos) === 0x20 || text.charCodeAt(pos) === 0x09)) {
    throw new SipParseError('continuation line before any header');
  }
  while (pos < n) {
    lf = text.indexOf('\n', pos);
    if (lf < 0 || lf > n) lf = n;
    let lineEnd = lf > pos && text.charCodeAt(lf - 1) === 0x0d ? lf - 1 : lf;
    const colon = text.indexOf(':', pos);
    if (colon < 0 || colon >= lineEnd) {
      throw new SipParseError(`header line without colon "${clip(text.slice(pos, lineEnd))}"`);
    }
    let nameEnd = colon;
    while (
      nameEnd > pos &&
      (text.charCodeAt(nameEnd - 1) === 0x20 || text.charCodeAt(nameEnd - 1) === 0x09)
    ) {
      nameEnd--;
    }
    const name = headerName(text, pos, nameEnd);
    let value = sliceTrim(text, colon + 1, lineEnd);
    pos = lf + 1;
    // Folded continuation lines (RFC 3261 §7.3.1): each LWS run becomes one SP.
    while (pos < n && (text.charCodeAt(pos) === 0x20 || text.charCodeAt(pos) === 0x09)) {
      lf = text.indexOf('\n', pos);
      if (lf < 0 || lf > n) lf = n;
      lineEnd = lf > pos && text.charCodeAt(lf - 1) === 0x0d ? lf - 1 : lf;
      const more = sliceTrim(text, pos, lineEnd);
      if (more.length > 0) value = value.length === 0 ? more : `${value} ${more}`;
      pos = lf + 1;
    }
    headers.append(name, value);
    switch (name) {
      case 'Via':
        if (via === undefined) via = [value];
        else via.push(value);
        break;
      case 'CSeq':
        if (cseq !== undefined) throw new SipParseError('more than one header line', name);
        cseq = value;
        break;
      case 'Call-ID':
        if (callId !== undefined) throw new SipParseError('more than one header line', name);
        callId = value;
        break;
      case 'From':
        if (from !== undefined) throw new SipParseError('more than one header line', name);
        from = value;
        break;
      case 'To':
        if (to !== undefined) throw new SipParseError('more than one header line', name);
        to = value;
        break;
      case 'Max-Forwards':
        if (maxForwards !== undefined) throw new SipParseError('more than one header line', name);
        maxForwards = value;
        break;
      case 'Content-Length':
        if (contentLength !== undefined && contentLength !== value) {
          throw new SipParseError('conflicting values', name);
        }
        contentLength = value;
        break;
      case 'Content-Type':
        if (contentType !== undefined) throw new SipParseError('more than one header line', name);
        contentType = value;
        break;
      default:
        break;
    }
  }

  // Validate what the library reads, and cache the parsed forms for the getters.
  if (via === undefined) throw new SipParseError('missing header', 'Via');
  if (cseq === undefined) throw new SipParseError('missing header', 'CSeq');
  if (callId === undefined) throw new SipParseError('missing header', 'Call-ID');
  if (from === undefined) throw new SipParseError('missing header', 'From');
  if (to === undefined) throw new SipParseError('missing header', 'To');
  let topVia: Via | undefined;
  for (const line of via) {
    const list = parseVia(line);
    topVia ??= list[0];
  }
  const parsedCSeq: CSeq = parseCSeq(cseq);
  if (message.kind === 'request' && parsedCSeq.method !== message.method) {
    throw new SipParseError(`method "${clip(parsedCSeq.method)}" does not match the request method`, 'CSeq');
  }
  const parsedCallId = parseCallId(callId);
  const parsedFrom: AddressHeader = parseAddressHeader(from, 'From');
  const parsedTo: AddressHeader = parseAddressHeader(to, 'To');
  if (maxForwards !== undefined) parseMaxForwards(maxForwards);
  if (contentType !== undefined) parseContentType(contentType);
  const length = contentLength === undefined ? undefined : parseContentLength(contentLength);
  primeMessageCache(message, {
    viaRaw: via[0]!,
    via: topVia!,
    cseqRaw: cseq,
    cseq: parsedCSeq,
    callIdRaw: callId,
    callId: parsedCallId,
    fromRaw: from,
    from: parsedFrom,
    toRaw: to,
    to: parsedTo,
  });
  return { message, contentLength: length };
}

/**
 * Parses one SIP message from bytes (or text, encoded as UTF-8). The body is a view into
 * `data` (no copy): copy it if `data` will be reused.
 *
 * Throws `SipParseError` (code `SIP_PARSE`, `header` set when one header is at fault)
 * for a malformed start line, an unsupported SIP version, a status outside 100–699, a
 * header line without colon or with an invalid name, a missing or malformed Via, CSeq,
 * Call-ID, From or To, a malformed Max-Forwards, Content-Length or Content-Type, a body
 * shorter than Content-Length, a bare CR, a NUL outside a quoted-pair of a quoted-string,
 * or a quoted-pair escaping CR or LF (RFC 3261 §25.1).
 */
export function parseSipMessage(data: Uint8Array | string, options?: ParseSipMessageOptions): SipMessage {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : asBuffer(data);
  const n = bytes.length;
  let start = 0;
  while (start < n && (bytes[start] === 0x0d || bytes[start] === 0x0a)) start++;
  if (start === n) throw new SipParseError('empty message');
  // One latin1 decode (one char per byte, so string offsets are byte offsets) and native
  // string searches locate the header section; it is re-decoded as UTF-8 only when it
  // holds non-ASCII bytes.
  const all = bytes.toString('latin1', 0, n);
  const found = findHeaderEnd(all, start);
  if (found === undefined) throw new SipParseError('no empty line after the header section');
  const { message, contentLength } = isAscii(bytes.subarray(start, found.headEnd))
    ? parseHead(all, start, found.headEnd)
    : parseHead(decodeUtf8(bytes, start, found.headEnd));
  const available = n - found.bodyStart;
  let bodyLength: number;
  if (options?.transport === 'stream') {
    if (contentLength === undefined)
      throw new SipParseError('missing header (mandatory on streams)', 'Content-Length');
    if (contentLength !== available) {
      throw new SipParseError(
        `value ${contentLength} does not match the ${available} body bytes`,
        'Content-Length',
      );
    }
    bodyLength = contentLength;
  } else if (contentLength === undefined) {
    bodyLength = available;
  } else {
    if (contentLength > available) {
      throw new SipParseError(
        `value ${contentLength} is larger than the ${available} body bytes`,
        'Content-Length',
      );
    }
    bodyLength = contentLength;
  }
  // A plain Uint8Array view, not a copy (a copy costs more than the rest of the body work).
  message.body =
    bodyLength === 0 ? EMPTY : new Uint8Array(bytes.buffer, bytes.byteOffset + found.bodyStart, bodyLength);
  return message;
}
