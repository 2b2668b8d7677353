/**
 * Typed parsers for the header values the library reads, a comma splitter that respects
 * quotes and `<…>`, and cached getters on a message (`getCSeq(msg)`, `getTopVia(msg)`...).
 *
 * Every parser throws `SipParseError` whose `header` names the header.
 */
import { SipParseError } from '../errors.js';
import {
  clip,
  isDigits,
  isToken,
  isTokenCode,
  isWs,
  parseBoundedInt,
  readQuoted,
  skipQuoted,
  skipWs,
  trimWs,
} from './bytes.js';
import type { SipHeaders, SipMessage, SipRequest, SipResponse } from './message.js';
import { formatHeaderParams, parseHeaderParams, parseNameAddr } from './name-addr.js';
import type { NameAddr } from './name-addr.js';
import { formatHost, parseHostPort } from './uri.js';

export {
  MAX_DELTA_SECONDS,
  parseSessionExpires,
  getSessionExpires,
  parseMinSe,
  getMinSe,
  parseRetryAfter,
  getRetryAfter,
} from './headers-timer.js';
export type { SessionExpires, RetryAfter } from './headers-timer.js';

/** Largest CSeq sequence number (RFC 3261 §8.1.1.5: below 2**31). */
export const MAX_CSEQ = 2 ** 31 - 1;

/**
 * Splits a header value at top-level commas: commas inside quoted strings (with `\`
 * escapes) and inside `<…>` do not split. Items are trimmed; empty items are dropped.
 */
export function splitHeaderList(value: string): string[] {
  if (value.indexOf(',') < 0) {
    const item = trimWs(value);
    return item.length === 0 ? [] : [item];
  }
  const out: string[] = [];
  const n = value.length;
  let start = 0;
  let inAngle = false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = skipQuoted(value, i);
      if (end < 0) break; // unterminated: the rest is one item, its parser reports it
      i = end - 1;
    } else if (c === 0x3c /* < */) {
      inAngle = true;
    } else if (c === 0x3e /* > */) {
      inAngle = false;
    } else if (c === 0x2c /* , */ && !inAngle) {
      const item = trimWs(value.slice(start, i));
      if (item.length > 0) out.push(item);
      start = i + 1;
    }
  }
  const last = trimWs(value.slice(start));
  if (last.length > 0) out.push(last);
  return out;
}

// ---------------------------------------------------------------- Via

/** One via-parm of a Via header. */
export interface Via {
  /** Always `SIP/2.0`. */
  protocol: 'SIP/2.0';
  /** Upper-cased transport: `UDP`, `TCP`, `TLS`, `WS`... */
  transport: 'UDP' | 'TCP' | 'TLS' | (string & {});
  /** sent-by host (IPv6 without brackets). */
  host: string;
  /** sent-by port, when written. */
  port?: number;
  /** The `branch` parameter. */
  branch?: string;
  /** The `received` parameter. */
  received?: string;
  /** The `rport` parameter: a number when it has a value, `true` when present without one. */
  rport: number | true | undefined;
  /** Every parameter in order (names lower-cased), including branch/received/rport. */
  params: Map<string, string | null>;
}

// Fast path for the usual `SIP/2.0/TCP host[:port]` (host name or IPv4), then `;` or end.
const VIA_FAST_RE = /^SIP\/2\.0\/([A-Za-z0-9\-.!%*_+`'~]+) ([A-Za-z0-9._-]+)(?::([0-9]{1,5}))?(?=;|$)/;

/**
 * `s` without LWS around its ':' characters, in one pass. (The regular expression used
 * before backtracked over every blank run without a colon, quadratic in its length: a
 * 64 KiB Via cost seconds. Found by the sip-via fuzz target's hang limit.)
 */
function squeezeColons(s: string): string {
  let out = '';
  let start = 0;
  for (let c = s.indexOf(':'); c >= 0; c = s.indexOf(':', start)) {
    let e = c;
    while (e > start && isWs(s.charCodeAt(e - 1))) e--;
    out += `${s.slice(start, e)}:`;
    start = c + 1;
    while (start < s.length && isWs(s.charCodeAt(start))) start++;
  }
  return out + s.slice(start);
}

function parseOneVia(text: string): Via {
  const H = 'Via';
  const n = text.length;
  const fast = VIA_FAST_RE.exec(text);
  if (fast !== null) {
    const port = fast[3] === undefined ? undefined : Number(fast[3]);
    if (port === undefined || port <= 65535) {
      const params = new Map<string, string | null>();
      const end = fast[0].length;
      if (end < n) parseHeaderParams(text, end, params, H);
      return finishVia(fast[1]!, fast[2]!, port, params);
    }
  }
  let i: number;
  let transport: string;
  if (text.startsWith('SIP/2.0/')) {
    // The usual spelling, without LWS around the slashes.
    i = 8;
    while (i < n && isTokenCode(text.charCodeAt(i))) i++;
    transport = text.slice(8, i);
    if (transport.length === 0) throw new SipParseError(`malformed sent-protocol in "${clip(text)}"`, H);
  } else {
    // sent-protocol: name / version / transport, LWS allowed around the slashes.
    const parts: string[] = [];
    i = 0;
    for (let k = 0; k < 3; k++) {
      i = skipWs(text, i);
      const s = i;
      while (i < n && isTokenCode(text.charCodeAt(i))) i++;
      if (i === s) throw new SipParseError(`malformed sent-protocol in "${clip(text)}"`, H);
      parts.push(text.slice(s, i));
      if (k < 2) {
        i = skipWs(text, i);
        if (text.charCodeAt(i) !== 0x2f /* / */) {
          throw new SipParseError(`malformed sent-protocol in "${clip(text)}"`, H);
        }
        i++;
      }
    }
    const [name, version, t] = parts as [string, string, string];
    if (name.toUpperCase() !== 'SIP' || version !== '2.0') {
      throw new SipParseError(`unsupported protocol "${clip(`${name}/${version}`)}"`, H);
    }
    transport = t;
  }
  if (i < n && !isWs(text.charCodeAt(i)))
    throw new SipParseError(`malformed sent-protocol in "${clip(text)}"`, H);
  // sent-by up to the first ';'
  let semi = text.indexOf(';', i);
  if (semi < 0) semi = n;
  let a = skipWs(text, i);
  let b = semi;
  while (b > a && isWs(text.charCodeAt(b - 1))) b--;
  if (a === b) throw new SipParseError('missing sent-by host', H);
  let hostPort: { host: string; port: number | undefined };
  try {
    hostPort = parseHostPort(text, a, b, H);
  } catch (err) {
    // LWS is allowed around the ':' of host:port (RFC 3261 COLON); nothing else.
    const sentBy = text.slice(a, b);
    if (!/[ \t\r\n]/.test(sentBy)) throw err;
    const squeezed = squeezeColons(sentBy);
    a = 0;
    b = squeezed.length;
    hostPort = parseHostPort(squeezed, a, b, H);
  }
  const { host, port } = hostPort;
  const params = new Map<string, string | null>();
  if (semi < n) parseHeaderParams(text, semi, params, H);
  return finishVia(transport, host, port, params);
}

function finishVia(
  transport: string,
  host: string,
  port: number | undefined,
  params: Map<string, string | null>,
): Via {
  const H = 'Via';
  const via: Via = {
    protocol: 'SIP/2.0',
    transport: transport.toUpperCase(),
    host,
    port,
    branch: undefined,
    received: undefined,
    rport: undefined,
    params,
  };
  const branch = params.get('branch');
  if (branch !== undefined) {
    if (branch === null) throw new SipParseError('branch parameter without value', H);
    via.branch = branch;
  }
  const received = params.get('received');
  if (received !== undefined) {
    if (received === null) throw new SipParseError('received parameter without value', H);
    via.received = received;
  }
  const rport = params.get('rport');
  if (rport !== undefined) {
    if (rport === null) via.rport = true;
    else {
      if (!isDigits(rport) || rport.length > 5 || Number(rport) > 65535) {
        throw new SipParseError(`invalid rport "${clip(rport)}"`, H);
      }
      via.rport = Number(rport);
      // One spelling of the number (`060` → `60`), as formatVia writes it.
      params.set('rport', String(via.rport));
    }
  }
  return via;
}

/** Parses a Via header value (which may hold several comma-separated via-parms). */
export function parseVia(value: string): Via[] {
  const items = splitHeaderList(value);
  if (items.length === 0) throw new SipParseError('empty value', 'Via');
  return items.map(parseOneVia);
}

/**
 * Formats one via-parm. The `branch`, `received` and `rport` fields, when set, override
 * the same-named entries of `params` (keeping their position).
 */
export function formatVia(via: Via): string {
  const params = new Map(via.params);
  if (via.branch !== undefined) params.set('branch', via.branch);
  if (via.received !== undefined) params.set('received', via.received);
  if (via.rport !== undefined) params.set('rport', via.rport === true ? null : String(via.rport));
  const port = via.port === undefined ? '' : `:${via.port}`;
  return `SIP/2.0/${via.transport} ${formatHost(via.host)}${port}${formatHeaderParams(params)}`;
}

// ---------------------------------------------------------------- simple values

/** A parsed CSeq header. */
export interface CSeq {
  /** Sequence number, 0..2**31-1. */
  seq: number;
  /** Method, as written (methods are case-sensitive). */
  method: string;
}

/** Parses `CSeq: 1*DIGIT LWS Method`. */
export function parseCSeq(value: string): CSeq {
  const H = 'CSeq';
  const v = trimWs(value);
  let i = 0;
  while (i < v.length && !isWs(v.charCodeAt(i))) i++;
  const seqText = v.slice(0, i);
  const method = v.slice(skipWs(v, i));
  const seq = parseBoundedInt(seqText, MAX_CSEQ, H, 'sequence number');
  if (!isToken(method)) throw new SipParseError(`invalid method "${clip(method)}"`, H);
  return { seq, method };
}

/** Parses `Max-Forwards: 1*DIGIT` (0..255). */
export function parseMaxForwards(value: string): number {
  return parseBoundedInt(trimWs(value), 255, 'Max-Forwards', 'value');
}

/** Parses `Content-Length: 1*DIGIT` (0..2**31-1). */
export function parseContentLength(value: string): number {
  return parseBoundedInt(trimWs(value), 2 ** 31 - 1, 'Content-Length', 'value');
}

/** A parsed Content-Type header. */
export interface ContentType {
  /** Lower-cased type (`application`). */
  type: string;
  /** Lower-cased subtype (`sdp`). */
  subtype: string;
  /** Parameters, names lower-cased, quoted values unquoted. */
  params: Map<string, string>;
}

const PLAIN_MEDIA_TYPE_RE = /^([A-Za-z0-9\-.!%*_+`'~]+)\/([A-Za-z0-9\-.!%*_+`'~]+)$/;

/** Parses `Content-Type: type/subtype *(;param)`. */
export function parseContentType(value: string): ContentType {
  const H = 'Content-Type';
  const v = trimWs(value);
  const plain = PLAIN_MEDIA_TYPE_RE.exec(v);
  if (plain !== null)
    return { type: plain[1]!.toLowerCase(), subtype: plain[2]!.toLowerCase(), params: new Map() };
  const slash = v.indexOf('/');
  if (slash < 0) throw new SipParseError(`expected type/subtype, got "${clip(v)}"`, H);
  let semi = v.indexOf(';', slash);
  if (semi < 0) semi = v.length;
  const type = trimWs(v.slice(0, slash)).toLowerCase();
  const subtype = trimWs(v.slice(slash + 1, semi)).toLowerCase();
  if (!isToken(type) || !isToken(subtype)) throw new SipParseError(`invalid media type "${clip(v)}"`, H);
  const raw = new Map<string, string | null>();
  if (semi < v.length) parseHeaderParams(v, semi, raw, H, true);
  const params = new Map<string, string>();
  for (const [k, val] of raw) params.set(k, val ?? '');
  return { type, subtype, params };
}

/** A parsed Call-ID (`word ["@" word]`, no whitespace). */
export function parseCallId(value: string): string {
  const v = trimWs(value);
  if (v.length === 0) throw new SipParseError('empty value', 'Call-ID');
  if (BAD_CALL_ID_CHAR_RE.test(v)) throw new SipParseError(`invalid character in "${clip(v)}"`, 'Call-ID');
  return v;
}

// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const BAD_CALL_ID_CHAR_RE = /[\x00-\x20\x7f"<>,]/;

// ---------------------------------------------------------------- address lists

/** A parsed Contact header: `*` or a list of addresses. */
export type ContactValue =
  | {
      /** `Contact: *` (only valid in a REGISTER that removes every binding). */
      star: true;
    }
  | {
      /** A list of addresses. */
      star: false;
      /** The addresses, in order; `expires`, `q` and other parameters in each one's `params`. */
      contacts: NameAddr[];
    };

function asList(value: string | readonly string[]): readonly string[] {
  return typeof value === 'string' ? [value] : value;
}

/**
 * Parses Contact header value(s): one value or every Contact line of a message.
 * `expires`, `q` and other parameters are in each address's `params`.
 */
export function parseContact(value: string | readonly string[]): ContactValue {
  const contacts: NameAddr[] = [];
  let star = false;
  for (const line of asList(value)) {
    for (const item of splitHeaderList(line)) {
      if (item === '*') star = true;
      else contacts.push(parseNameAddr(item, 'Contact'));
    }
  }
  if (star) {
    if (contacts.length > 0) throw new SipParseError('"*" mixed with addresses', 'Contact');
    return { star: true };
  }
  return { star: false, contacts };
}

/** Parses Route or Record-Route value(s) into the ordered list of addresses. */
export function parseRouteList(value: string | readonly string[], header = 'Route'): NameAddr[] {
  const out: NameAddr[] = [];
  for (const line of asList(value))
    for (const item of splitHeaderList(line)) out.push(parseNameAddr(item, header));
  return out;
}

// ---------------------------------------------------------------- authentication

/** A parsed WWW-Authenticate / Proxy-Authenticate challenge. */
export interface AuthChallenge {
  /** `Digest` (normalized) or the scheme as written. */
  scheme: 'Digest' | (string & {});
  /** The protection space: which credentials to use. */
  realm?: string;
  /** The server's nonce, hashed into the answer. */
  nonce?: string;
  /** A value the answer must return unchanged. */
  opaque?: string;
  /** Algorithm as written (`MD5`, `SHA-256`, `MD5-sess`...). */
  algorithm?: string;
  /** The qop options offered (`["auth", "auth-int"]`). */
  qop?: string[];
  /** `stale=true` (case-insensitive). */
  stale?: boolean;
  /** The URIs the challenge covers, as written (space-separated). */
  domain?: string;
  /** Every parameter, names lower-cased, quoted values unquoted and unescaped. */
  params: Map<string, string>;
}

/** Parses a WWW-Authenticate or Proxy-Authenticate value (`Digest realm="…", nonce="…", …`). */
export function parseAuthChallenge(value: string, header = 'WWW-Authenticate'): AuthChallenge {
  const n = value.length;
  let i = skipWs(value, 0);
  const s = i;
  while (i < n && isTokenCode(value.charCodeAt(i))) i++;
  if (i === s) throw new SipParseError('missing authentication scheme', header);
  const schemeText = value.slice(s, i);
  const params = new Map<string, string>();
  if (i < n && !isWs(value.charCodeAt(i))) {
    throw new SipParseError(`unexpected "${clip(value.slice(i), 20)}" after the scheme`, header);
  }
  i = skipWs(value, i);
  while (i < n) {
    const ns = i;
    while (i < n && isTokenCode(value.charCodeAt(i))) i++;
    if (i === ns)
      throw new SipParseError(`expected a parameter name at "${clip(value.slice(i), 20)}"`, header);
    const name = value.slice(ns, i).toLowerCase();
    i = skipWs(value, i);
    if (value.charCodeAt(i) !== 0x3d /* = */)
      throw new SipParseError(`parameter "${name}" without "="`, header);
    i = skipWs(value, i + 1);
    let v: string;
    if (value.charCodeAt(i) === 0x22) {
      const q = readQuoted(value, i, header);
      v = q.value;
      i = q.end;
    } else {
      const vs = i;
      while (i < n && isTokenCode(value.charCodeAt(i))) i++;
      if (i === vs) throw new SipParseError(`parameter "${name}" without value`, header);
      v = value.slice(vs, i);
    }
    if (!params.has(name)) params.set(name, v);
    i = skipWs(value, i);
    if (i < n) {
      if (value.charCodeAt(i) !== 0x2c /* , */) {
        throw new SipParseError(`expected "," at "${clip(value.slice(i), 20)}"`, header);
      }
      while (i < n && (value.charCodeAt(i) === 0x2c || isWs(value.charCodeAt(i)))) i++;
    }
  }
  const out: AuthChallenge = {
    scheme: schemeText.toLowerCase() === 'digest' ? 'Digest' : schemeText,
    params,
  };
  const realm = params.get('realm');
  if (realm !== undefined) out.realm = realm;
  const nonce = params.get('nonce');
  if (nonce !== undefined) out.nonce = nonce;
  const opaque = params.get('opaque');
  if (opaque !== undefined) out.opaque = opaque;
  const algorithm = params.get('algorithm');
  if (algorithm !== undefined) out.algorithm = algorithm;
  const domain = params.get('domain');
  if (domain !== undefined) out.domain = domain;
  const qop = params.get('qop');
  if (qop !== undefined) {
    out.qop = qop
      .split(',')
      .map((q) => trimWs(q))
      .filter((q) => q.length > 0);
  }
  const stale = params.get('stale');
  if (stale !== undefined) out.stale = stale.toLowerCase() === 'true';
  return out;
}

// ---------------------------------------------------------------- getters on a message

/** A From or To address with its `tag` parameter pulled out. */
export interface AddressHeader extends NameAddr {
  /** The `tag` parameter, when present. */
  tag?: string;
}

/** Parses a From or To value (one address; `tag` pulled out). */
export function parseAddressHeader(value: string, header: 'From' | 'To' | (string & {})): AddressHeader {
  const na: AddressHeader = parseNameAddr(value, header);
  const tag = na.params.get('tag');
  if (tag !== undefined) {
    if (tag === null) throw new SipParseError('tag parameter without value', header);
    na.tag = tag;
  }
  return na;
}

interface MessageCache {
  callIdRaw?: string;
  callId?: string;
  cseqRaw?: string;
  cseq?: CSeq;
  viaRaw?: string;
  via?: Via;
  fromRaw?: string;
  from?: AddressHeader;
  toRaw?: string;
  to?: AddressHeader;
}

/**
 * Base of the message objects the parser creates: plain data (the `SipRequest` /
 * `SipResponse` fields, all own enumerable properties) plus a private cache of the parsed
 * header values, so the getters below never parse twice. Each cache entry remembers the
 * raw text it came from, so later edits to the headers are seen. Messages built elsewhere
 * (`createRequest`, object spread) simply have no cache. Internal.
 */
abstract class CachedMessage {
  #parsed: MessageCache | undefined = undefined;

  static cacheOf(msg: SipMessage): MessageCache | undefined {
    if (!(#parsed in msg)) return undefined;
    const m = msg as unknown as CachedMessage;
    return (m.#parsed ??= {});
  }

  static prime(msg: CachedMessage, values: MessageCache): void {
    msg.#parsed = values;
  }
}

/** A request made by the parser (see `CachedMessage`). Internal. */
export class ParsedSipRequest extends CachedMessage implements SipRequest {
  readonly kind = 'request' as const;
  readonly version = 'SIP/2.0' as const;
  method: string;
  uri: string;
  readonly headers: SipHeaders;
  body: Uint8Array;

  constructor(method: string, uri: string, headers: SipHeaders, body: Uint8Array) {
    super();
    this.method = method;
    this.uri = uri;
    this.headers = headers;
    this.body = body;
  }
}

/** A response made by the parser (see `CachedMessage`). Internal. */
export class ParsedSipResponse extends CachedMessage implements SipResponse {
  readonly kind = 'response' as const;
  readonly version = 'SIP/2.0' as const;
  status: number;
  reason: string;
  readonly headers: SipHeaders;
  body: Uint8Array;

  constructor(status: number, reason: string, headers: SipHeaders, body: Uint8Array) {
    super();
    this.status = status;
    this.reason = reason;
    this.headers = headers;
    this.body = body;
  }
}

/** Records values the parser already parsed. Internal (used by `parseSipMessage`). */
export function primeMessageCache(msg: ParsedSipRequest | ParsedSipResponse, values: MessageCache): void {
  CachedMessage.prime(msg, values);
}

function cacheOf(msg: SipMessage): MessageCache {
  // Without a cache, writes go to a throwaway object and reads never match.
  return CachedMessage.cacheOf(msg) ?? {};
}

function required(msg: SipMessage, name: string): string {
  const v = msg.headers.get(name);
  if (v === undefined) throw new SipParseError('missing header', name);
  return v;
}

/** The Call-ID of a message. Throws `SipParseError` when missing or malformed. */
export function getCallId(msg: SipMessage): string {
  const raw = required(msg, 'Call-ID');
  const c = cacheOf(msg);
  if (c.callIdRaw === raw) return c.callId!;
  const value = parseCallId(raw);
  c.callIdRaw = raw;
  c.callId = value;
  return value;
}

/**
 * The CSeq of a message. Throws `SipParseError` when missing or malformed.
 * The returned object is cached: treat it as read-only.
 */
export function getCSeq(msg: SipMessage): CSeq {
  const raw = required(msg, 'CSeq');
  const c = cacheOf(msg);
  if (c.cseqRaw === raw) return c.cseq!;
  const value = parseCSeq(raw);
  c.cseqRaw = raw;
  c.cseq = value;
  return value;
}

/**
 * The top (first) Via of a message. Throws `SipParseError` when missing or malformed.
 * The returned object is cached: treat it as read-only.
 */
export function getTopVia(msg: SipMessage): Via {
  const raw = required(msg, 'Via');
  const c = cacheOf(msg);
  if (c.viaRaw === raw) return c.via!;
  const value = parseVia(raw)[0]!;
  c.viaRaw = raw;
  c.via = value;
  return value;
}

/** Every Via of a message, top first, across all Via header lines. */
export function getVias(msg: SipMessage): Via[] {
  const out: Via[] = [];
  for (const line of msg.headers.getAll('Via')) for (const v of parseVia(line)) out.push(v);
  return out;
}

/**
 * The From address (with `tag`). Throws `SipParseError` when missing or malformed.
 * The returned object is cached: treat it as read-only.
 */
export function getFrom(msg: SipMessage): AddressHeader {
  const raw = required(msg, 'From');
  const c = cacheOf(msg);
  if (c.fromRaw === raw) return c.from!;
  const value = parseAddressHeader(raw, 'From');
  c.fromRaw = raw;
  c.from = value;
  return value;
}

/**
 * The To address (with `tag` once the far end set one). Throws `SipParseError` when
 * missing or malformed. The returned object is cached: treat it as read-only.
 */
export function getTo(msg: SipMessage): AddressHeader {
  const raw = required(msg, 'To');
  const c = cacheOf(msg);
  if (c.toRaw === raw) return c.to!;
  const value = parseAddressHeader(raw, 'To');
  c.toRaw = raw;
  c.to = value;
  return value;
}

/** The Contact header(s) of a message, or `undefined` when there is none. */
export function getContact(msg: SipMessage): ContactValue | undefined {
  const lines = msg.headers.getAll('Contact');
  return lines.length === 0 ? undefined : parseContact(lines);
}

/** The Record-Route entries of a message, top first (empty when none). */
export function getRecordRoute(msg: SipMessage): NameAddr[] {
  return parseRouteList(msg.headers.getAll('Record-Route'), 'Record-Route');
}
