/**
 * SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966): parse and format.
 *
 * Values are kept as written (escapes are not decoded), so `formatUri(parseUri(x))`
 * reproduces `x` up to the case of the scheme and of parameter names.
 */
import { SipParseError } from '../errors.js';
import { clip, isDigits } from './bytes.js';

/** URI schemes the library understands. */
export type SipUriScheme = 'sip' | 'sips' | 'tel';

/** A parsed `sip:`, `sips:` or `tel:` URI. */
export interface SipUri {
  /** Lower-cased scheme. */
  scheme: SipUriScheme;
  /** User part as written (escapes kept). For `tel:` URIs, the telephone number. */
  user?: string;
  /** Password from `user:password@` (deprecated by RFC 3261, still parsed). */
  password?: string;
  /** Host name or address; IPv6 references without their brackets. Empty for `tel:` URIs. */
  host: string;
  /** Port, when one is written. */
  port?: number;
  /** URI parameters in order, names lower-cased; `null` for a parameter without value. */
  params: Map<string, string | null>;
  /** URI headers (`?name=value&…`) in order, as written. */
  headers: Map<string, string>;
}

// Characters never allowed unescaped anywhere in a URI we accept (1 = bad).
const BAD_URI_CHAR = (() => {
  const t = new Uint8Array(128);
  for (let c = 0; c <= 0x20; c++) t[c] = 1;
  for (const ch of '\x7f"<>\\^`{|}') t[ch.charCodeAt(0)] = 1;
  return t;
})();

const HOST_CHAR = (() => {
  const t = new Uint8Array(128);
  for (const ch of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._')
    t[ch.charCodeAt(0)] = 1;
  return t;
})();

function isHostChar(c: number): boolean {
  return c < 128 && HOST_CHAR[c] === 1;
}

function isIpv6Char(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x46) ||
    (c >= 0x61 && c <= 0x66) ||
    c === 0x3a /* : */ ||
    c === 0x2e /* . */
  );
}

function isTelChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x46) ||
    (c >= 0x61 && c <= 0x66) ||
    c === 0x2a /* * */ ||
    c === 0x23 /* # */ ||
    c === 0x2b /* + */ ||
    c === 0x2d /* - */ ||
    c === 0x2e /* . */ ||
    c === 0x28 /* ( */ ||
    c === 0x29 /* ) */
  );
}

/**
 * Parses a host, optionally an IPv6 reference `[…]`, followed by an optional `:port`,
 * from `text[start, end)`. Shared with the Via parser. Returns the host without brackets.
 */
export function parseHostPort(
  text: string,
  start: number,
  end: number,
  header: string | undefined,
): { host: string; port: number | undefined } {
  let host: string;
  let i = start;
  if (text.charCodeAt(i) === 0x5b /* [ */) {
    const close = text.indexOf(']', i);
    if (close < 0 || close >= end) throw new SipParseError('unterminated IPv6 reference', header);
    host = text.slice(i + 1, close);
    if (host.length < 2 || host.indexOf(':') < 0) {
      throw new SipParseError(`invalid IPv6 reference "[${clip(host)}]"`, header);
    }
    for (let j = 0; j < host.length; j++) {
      if (!isIpv6Char(host.charCodeAt(j)))
        throw new SipParseError(`invalid IPv6 reference "[${clip(host)}]"`, header);
    }
    i = close + 1;
  } else {
    while (i < end && isHostChar(text.charCodeAt(i))) i++;
    host = text.slice(start, i);
    if (host.length === 0) throw new SipParseError('missing host', header);
  }
  if (i === end) return { host, port: undefined };
  if (text.charCodeAt(i) !== 0x3a /* : */) {
    throw new SipParseError(`invalid character in host "${clip(text.slice(start, end))}"`, header);
  }
  const portText = text.slice(i + 1, end);
  if (!isDigits(portText) || portText.length > 5) {
    throw new SipParseError(`invalid port "${clip(portText)}"`, header);
  }
  const port = Number(portText);
  if (port > 65535) throw new SipParseError(`port ${port} is out of range`, header);
  return { host, port };
}

function parseUriParams(
  text: string,
  start: number,
  end: number,
  params: Map<string, string | null>,
  header: string | undefined,
): void {
  // text[start] is ';'
  let i = start;
  while (i < end) {
    let j = text.indexOf(';', i + 1);
    if (j < 0 || j > end) j = end;
    const eq = text.indexOf('=', i + 1);
    let name: string;
    let value: string | null;
    if (eq >= 0 && eq < j) {
      name = text.slice(i + 1, eq);
      value = text.slice(eq + 1, j);
    } else {
      name = text.slice(i + 1, j);
      value = null;
    }
    if (name.length === 0) throw new SipParseError('empty URI parameter name', header);
    const key = name.toLowerCase();
    if (!params.has(key)) params.set(key, value);
    i = j;
  }
}

/**
 * Parses a `sip:`, `sips:` or `tel:` URI. Throws `SipParseError` (naming `header` when
 * given) for any other scheme or a malformed URI.
 */
export function parseUri(text: string, header?: string): SipUri {
  return parseUriFast(text) ?? parseUriSlow(text, header);
}

// Fast path for the common shape (lower-case scheme, a host name or IPv4 address, plain
// parameters). Anchored, backtracking-free regular expressions scan at native speed, several
// times faster than a per-character loop; anything they do not accept takes the careful
// path below, which also produces the error messages. Both give identical results.
// Every class below also excludes the characters refused anywhere (see BAD_URI_CHAR).
const SIP_URI_RE = new RegExp(
  (
    '^(sips?):(?:([^@:B]+)(?::([^@B]*))?@)?([A-Za-z0-9._-]+)(?::([0-9]{1,5}))?' +
    '((?:;[^;?=@B]+(?:=[^;?@B]*)?)*)(?:\\?([^@B]*))?$'
  ).replace(/B/g, '\\x00-\\x20\\x7f"<>\\\\^`{|}'),
);

function parseUriFast(text: string): SipUri | undefined {
  const m = SIP_URI_RE.exec(text);
  if (m === null) return undefined;
  const portText = m[5];
  let port: number | undefined;
  if (portText !== undefined) {
    port = Number(portText);
    if (port > 65535) return undefined;
  }
  const params = new Map<string, string | null>();
  const paramText = m[6]!;
  if (paramText.length > 0) {
    const parts = paramText.split(';');
    for (let k = 1; k < parts.length; k++) {
      const part = parts[k]!;
      const eq = part.indexOf('=');
      const name = (eq < 0 ? part : part.slice(0, eq)).toLowerCase();
      if (!params.has(name)) params.set(name, eq < 0 ? null : part.slice(eq + 1));
    }
  }
  const headers = new Map<string, string>();
  const headerText = m[7];
  if (headerText !== undefined && headerText.length > 0 && !parseUriHeaders(headerText, headers))
    return undefined;
  return {
    scheme: m[1] as 'sip' | 'sips',
    user: m[2],
    password: m[3],
    host: m[4]!,
    port,
    params,
    headers,
  };
}

/** Parses `name=value&…` into `headers`; false when a name is empty. */
function parseUriHeaders(text: string, headers: Map<string, string>): boolean {
  for (const part of text.split('&')) {
    if (part.length === 0) continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    if (name.length === 0) return false;
    headers.set(name, eq < 0 ? '' : part.slice(eq + 1));
  }
  return true;
}

/** The careful URI parser (every scheme, precise errors). Internal; exported for tests. */
export function parseUriSlow(text: string, header?: string): SipUri {
  const n = text.length;
  if (n === 0) throw new SipParseError('empty URI', header);
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 128 && BAD_URI_CHAR[c] === 1) {
      throw new SipParseError(`invalid character in URI "${clip(text)}"`, header);
    }
  }
  const colon = text.indexOf(':');
  if (colon <= 0) throw new SipParseError(`URI without scheme "${clip(text)}"`, header);
  const scheme = text.slice(0, colon).toLowerCase();
  const params = new Map<string, string | null>();
  const headers = new Map<string, string>();

  if (scheme === 'tel') {
    let semi = text.indexOf(';', colon + 1);
    if (semi < 0) semi = n;
    const number = text.slice(colon + 1, semi);
    let digits = 0;
    for (let i = 0; i < number.length; i++) {
      const c = number.charCodeAt(i);
      if (!isTelChar(c) || (c === 0x2b && i !== 0)) {
        throw new SipParseError(`invalid telephone number "${clip(number)}"`, header);
      }
      if ((c >= 0x30 && c <= 0x39) || c === 0x2a || c === 0x23) digits++;
    }
    if (digits === 0) throw new SipParseError(`invalid telephone number "${clip(number)}"`, header);
    if (semi < n) parseUriParams(text, semi, n, params, header);
    return { scheme: 'tel', user: number, password: undefined, host: '', port: undefined, params, headers };
  }
  if (scheme !== 'sip' && scheme !== 'sips') {
    throw new SipParseError(`unsupported URI scheme "${clip(scheme)}"`, header);
  }

  let i = colon + 1;
  let user: string | undefined;
  let password: string | undefined;
  const at = text.indexOf('@', i);
  if (at >= 0) {
    if (text.indexOf('@', at + 1) >= 0)
      throw new SipParseError(`more than one "@" in URI "${clip(text)}"`, header);
    const userinfo = text.slice(i, at);
    const pc = userinfo.indexOf(':');
    if (pc >= 0) {
      user = userinfo.slice(0, pc);
      password = userinfo.slice(pc + 1);
    } else {
      user = userinfo;
    }
    if (user.length === 0) throw new SipParseError(`empty user part in URI "${clip(text)}"`, header);
    i = at + 1;
  }
  let hpEnd = i;
  while (hpEnd < n) {
    const c = text.charCodeAt(hpEnd);
    if (c === 0x3b /* ; */ || c === 0x3f /* ? */) break;
    hpEnd++;
  }
  const { host, port } = parseHostPort(text, i, hpEnd, header);
  let qm = n;
  if (hpEnd < n) {
    qm = text.indexOf('?', hpEnd);
    if (qm < 0) qm = n;
    if (text.charCodeAt(hpEnd) === 0x3b) parseUriParams(text, hpEnd, qm, params, header);
  }
  if (qm < n && !parseUriHeaders(text.slice(qm + 1), headers)) {
    throw new SipParseError('empty URI header name', header);
  }
  return { scheme, user, password, host, port, params, headers };
}

/** Formats a host for a URI or Via: IPv6 addresses get their brackets back. */
export function formatHost(host: string): string {
  return host.indexOf(':') >= 0 && host.charCodeAt(0) !== 0x5b ? `[${host}]` : host;
}

/** Formats a URI to text (the inverse of `parseUri`). */
export function formatUri(uri: SipUri): string {
  let out = `${uri.scheme}:`;
  if (uri.scheme === 'tel') {
    out += uri.user ?? uri.host;
  } else {
    if (uri.user !== undefined) {
      out += uri.user;
      if (uri.password !== undefined) out += `:${uri.password}`;
      out += '@';
    }
    out += formatHost(uri.host);
    if (uri.port !== undefined) out += `:${uri.port}`;
  }
  for (const [name, value] of uri.params) out += value === null ? `;${name}` : `;${name}=${value}`;
  let sep = '?';
  for (const [name, value] of uri.headers) {
    out += `${sep}${name}=${value}`;
    sep = '&';
  }
  return out;
}
