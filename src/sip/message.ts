/**
 * The SIP message model: start line, an ordered header list and the body as bytes.
 * Pure data; parsing lives in `parser.ts`, wire form in `serializer.ts`.
 */

/** Compact header forms (RFC 3261 §7.3.3 and extensions) mapped to full names. */
export const COMPACT_HEADER_NAMES: Readonly<Record<string, string>> = {
  v: 'Via',
  f: 'From',
  t: 'To',
  i: 'Call-ID',
  m: 'Contact',
  l: 'Content-Length',
  c: 'Content-Type',
  k: 'Supported',
  s: 'Subject',
  e: 'Content-Encoding',
  o: 'Event',
  r: 'Refer-To',
  u: 'Allow-Events',
  x: 'Session-Expires', // RFC 4028 §4
};

const SPECIAL_CANONICAL: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  'record-route': 'Record-Route',
  // Exotel's own headers, spelled as its documentation does.
  'x-exotel-accountsid': 'X-Exotel-AccountSid',
  'x-exotel-callsid': 'X-Exotel-CallSid',
  'x-exotel-legsid': 'X-Exotel-LegSid',
  'x-exotel-trunksid': 'X-Exotel-TrunkSid',
};

const CANONICAL_CACHE = new Map<string, string>();

/**
 * The canonical spelling of a header name: compact forms expanded, known names spelled
 * as RFC 3261 and Exotel do, others in Title-Case (`x-crm-id` → `X-Crm-Id`). Memoized.
 */
export function canonicalHeaderName(name: string): string {
  const cached = CANONICAL_CACHE.get(name);
  if (cached !== undefined) return cached;
  const out = computeCanonicalName(name);
  // Bounded: header names come from the network.
  if (CANONICAL_CACHE.size < 1024) CANONICAL_CACHE.set(name, out);
  return out;
}

function computeCanonicalName(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 1) {
    const full = COMPACT_HEADER_NAMES[lower];
    if (full !== undefined) return full;
  }
  const special = SPECIAL_CANONICAL[lower];
  if (special !== undefined) return special;
  let out = '';
  let upper = true;
  for (const ch of lower) {
    out += upper ? ch.toUpperCase() : ch;
    upper = ch === '-';
  }
  return out;
}

/** One header line as it appears in the message (one entry per header line). */
export interface SipHeader {
  /** Canonical name (see `canonicalHeaderName`). */
  readonly name: string;
  /** The raw value, unfolded and trimmed. May hold several comma-separated values. */
  readonly value: string;
}

/** Ordered, case-insensitive header list. Lookups accept any spelling or compact form. */
export class SipHeaders implements Iterable<SipHeader> {
  private readonly list: SipHeader[];

  /** A list holding `headers` in order (names canonicalised); empty by default. */
  constructor(headers: Iterable<SipHeader | readonly [string, string]> = []) {
    this.list = [];
    for (const h of headers) {
      if (Array.isArray(h)) this.append(h[0] as string, h[1] as string);
      else this.append((h as SipHeader).name, (h as SipHeader).value);
    }
  }

  /** The first value of the header, or `undefined`. */
  get(name: string): string | undefined {
    const key = canonicalHeaderName(name);
    for (const h of this.list) if (h.name === key) return h.value;
    return undefined;
  }

  /** Every header line of that name, in order (values are not split at commas). */
  getAll(name: string): string[] {
    const key = canonicalHeaderName(name);
    const out: string[] = [];
    for (const h of this.list) if (h.name === key) out.push(h.value);
    return out;
  }

  /** Whether at least one line of that header is present. */
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Adds a header line after the existing ones. */
  append(name: string, value: string): this {
    this.list.push({ name: canonicalHeaderName(name), value });
    return this;
  }

  /** Adds a header line before all others (e.g. a new top Via). */
  prepend(name: string, value: string): this {
    this.list.unshift({ name: canonicalHeaderName(name), value });
    return this;
  }

  /** Replaces every line of that name with one line (kept at the first one's position). */
  set(name: string, value: string): this {
    const key = canonicalHeaderName(name);
    const idx = this.list.findIndex((h) => h.name === key);
    this.delete(key);
    const entry = { name: key, value };
    if (idx < 0) this.list.push(entry);
    else this.list.splice(Math.min(idx, this.list.length), 0, entry);
    return this;
  }

  /** Removes every line of that header. */
  delete(name: string): this {
    const key = canonicalHeaderName(name);
    for (let i = this.list.length - 1; i >= 0; i--) if (this.list[i]!.name === key) this.list.splice(i, 1);
    return this;
  }

  /** The number of header lines (not of distinct names). */
  get size(): number {
    return this.list.length;
  }

  /** An independent copy: changing one list does not change the other. */
  clone(): SipHeaders {
    return new SipHeaders(this.list);
  }

  /** Every header line, in message order. */
  [Symbol.iterator](): Iterator<SipHeader> {
    return this.list[Symbol.iterator]();
  }
}

interface SipMessageBase {
  /** Always `SIP/2.0`. */
  readonly version: 'SIP/2.0';
  /** The header lines, in order. */
  readonly headers: SipHeaders;
  /** The body bytes (empty when there is none). */
  body: Uint8Array;
}

/** A SIP request: a method and a Request-URI, headers and a body. */
export interface SipRequest extends SipMessageBase {
  /** Always `request`: tells a request from a response. */
  readonly kind: 'request';
  /** The method, as written (`INVITE`, `ACK`, `BYE`...). */
  method: string;
  /** Request-URI as text; parse with `parseUri` when needed. */
  uri: string;
}

/** A SIP response: a status and reason phrase, headers and a body. */
export interface SipResponse extends SipMessageBase {
  /** Always `response`: tells a response from a request. */
  readonly kind: 'response';
  /** The status code, 100–699. */
  status: number;
  /** The reason phrase, as written. */
  reason: string;
}

/** A SIP request or response; `kind` tells which. */
export type SipMessage = SipRequest | SipResponse;

const EMPTY = new Uint8Array(0);

/** A request with these parts; a string body is encoded as UTF-8. Nothing is validated or added. */
export function createRequest(
  method: string,
  uri: string,
  headers: Iterable<SipHeader | readonly [string, string]> = [],
  body: Uint8Array | string = EMPTY,
): SipRequest {
  return {
    kind: 'request',
    version: 'SIP/2.0',
    method,
    uri,
    headers: new SipHeaders(headers),
    body: typeof body === 'string' ? new TextEncoder().encode(body) : body,
  };
}

/** A response with these parts; a string body is encoded as UTF-8. Nothing is validated or added. */
export function createResponse(
  status: number,
  reason: string,
  headers: Iterable<SipHeader | readonly [string, string]> = [],
  body: Uint8Array | string = EMPTY,
): SipResponse {
  return {
    kind: 'response',
    version: 'SIP/2.0',
    status,
    reason,
    headers: new SipHeaders(headers),
    body: typeof body === 'string' ? new TextEncoder().encode(body) : body,
  };
}

/** Standard reason phrases for the statuses the library sends. */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  491: 'Request Pending',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  603: 'Decline',
};
