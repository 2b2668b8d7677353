/**
 * `name-addr` / `addr-spec` values with header parameters (RFC 3261 §20.10, §25.1), as
 * found in From, To, Contact, Route, Record-Route, Refer-To...
 *
 * Quoted display names and quoted parameter values may hold quoted-pairs (`\` and any
 * octet but CR and LF, NUL included): display names are unescaped, parameter values kept
 * as written; a quoted-pair escaping CR or LF is a `SipParseError`.
 */
import { SipParseError } from '../errors.js';
import { clip, isTokenCode, isWs, quote, readQuoted, skipQuoted, skipWs, trimWs } from './bytes.js';
import { formatUri, parseUri } from './uri.js';
import type { SipUri } from './uri.js';

/** An address with an optional display name and header parameters. */
export interface NameAddr {
  /** Display name, unquoted and unescaped; absent when none is written. */
  displayName?: string;
  /** The parsed URI. */
  uri: SipUri;
  /** The URI exactly as written (between `<` and `>`, or the bare addr-spec). */
  uriText: string;
  /**
   * Header parameters (after `>`, or after a bare URI) in order, names lower-cased,
   * values as written (a quoted value keeps its quotes); `null` for a flag parameter.
   */
  params: Map<string, string | null>;
}

// token characters plus those seen in host/IPv6 values (`:`, `[`, `]`) and `/`, `@`.
const PARAM_VALUE_CHAR = (() => {
  const t = new Uint8Array(128);
  for (let c = 0; c < 128; c++) if (isTokenCode(c)) t[c] = 1;
  for (const ch of ':[]/@') t[ch.charCodeAt(0)] = 1;
  return t;
})();

// The same character sets as the loop below: token names, PARAM_VALUE_CHAR values.
const PLAIN_PARAMS_RE = /(?:;[A-Za-z0-9\-.!%*_+`'~]+(?:=[A-Za-z0-9\-.!%*_+`'~:[\]/@]+)?)*$/y;

function isParamValueCode(c: number): boolean {
  return c < 128 && PARAM_VALUE_CHAR[c] === 1;
}

/**
 * Parses `*( SEMI generic-param )` from `text[start…]` into `params` (names lower-cased,
 * values as written, duplicates keep the first). Whitespace around `;` and `=` is allowed.
 * Internal helper shared by the Via, Contact and Content-Type parsers.
 */
export function parseHeaderParams(
  text: string,
  start: number,
  params: Map<string, string | null>,
  header: string,
  unquoteValues = false,
): void {
  const n = text.length;
  // Fast path: plain `;name=value` parameters without spaces or quotes, checked by one
  // anchored regular expression (native speed), then cut with indexOf.
  PLAIN_PARAMS_RE.lastIndex = start;
  if (PLAIN_PARAMS_RE.test(text)) {
    let i = start;
    while (i < n) {
      let j = text.indexOf(';', i + 1);
      if (j < 0) j = n;
      const seg = text.slice(i + 1, j);
      const eq = seg.indexOf('=');
      const name = (eq < 0 ? seg : seg.slice(0, eq)).toLowerCase();
      if (!params.has(name)) params.set(name, eq < 0 ? null : seg.slice(eq + 1));
      i = j;
    }
    return;
  }
  let i = skipWs(text, start);
  while (i < n) {
    if (text.charCodeAt(i) !== 0x3b /* ; */) {
      throw new SipParseError(
        `unexpected "${clip(text.slice(i), 20)}" where a ";" parameter was expected`,
        header,
      );
    }
    i = skipWs(text, i + 1);
    const nameStart = i;
    while (i < n && isTokenCode(text.charCodeAt(i))) i++;
    if (i === nameStart) throw new SipParseError('empty parameter name', header);
    const name = text.slice(nameStart, i).toLowerCase();
    i = skipWs(text, i);
    let value: string | null = null;
    if (i < n && text.charCodeAt(i) === 0x3d /* = */) {
      i = skipWs(text, i + 1);
      if (i < n && text.charCodeAt(i) === 0x22 /* " */) {
        const end = skipQuoted(text, i);
        if (end < 0) throw new SipParseError(`unterminated quoted value of parameter "${name}"`, header);
        if (unquoteValues) value = readQuoted(text, i, header).value;
        else {
          // Kept as written, but a quoted-pair escaping CR or LF is refused all the same.
          const bs = text.indexOf('\\', i);
          if (bs >= 0 && bs < end) readQuoted(text, i, header);
          value = text.slice(i, end);
        }
        i = end;
      } else {
        const vStart = i;
        while (i < n && isParamValueCode(text.charCodeAt(i))) i++;
        if (i === vStart) throw new SipParseError(`empty value of parameter "${name}"`, header);
        value = text.slice(vStart, i);
      }
      i = skipWs(text, i);
    }
    if (!params.has(name)) params.set(name, value);
  }
}

/** Formats header parameters as `;name=value…` (values written as stored). */
export function formatHeaderParams(params: ReadonlyMap<string, string | null>): string {
  let out = '';
  for (const [name, value] of params) out += value === null ? `;${name}` : `;${name}=${value}`;
  return out;
}

/**
 * Parses a `name-addr` (`"Display" <sip:…>;params`) or a bare `addr-spec`
 * (`sip:…;params`, where every parameter belongs to the header, RFC 3261 §20.10).
 * Throws `SipParseError` naming `header` (default `"address"`).
 */
export function parseNameAddr(text: string, header = 'address'): NameAddr {
  const n = text.length;
  const i = skipWs(text, 0);
  if (i >= n) throw new SipParseError('empty address', header);
  let displayName: string | undefined;
  let uriText: string;
  let paramsStart: number;
  const first = text.charCodeAt(i);
  const lt = first === 0x22 ? -1 : text.indexOf('<', i);
  if (first === 0x22 /* " */ || lt >= 0) {
    let open: number;
    if (first === 0x22) {
      const q = readQuoted(text, i, header);
      displayName = q.value;
      open = skipWs(text, q.end);
      if (open >= n || text.charCodeAt(open) !== 0x3c /* < */) {
        throw new SipParseError('expected "<" after the quoted display name', header);
      }
    } else {
      open = lt;
      const dn = trimWs(text.slice(i, lt));
      if (dn.length > 0) {
        for (let j = 0; j < dn.length; j++) {
          const c = dn.charCodeAt(j);
          if (c === 0x22 || c === 0x3e || c === 0x2c || c === 0x3b || c < 0x20) {
            throw new SipParseError(`invalid display name "${clip(dn)}"`, header);
          }
        }
        displayName = dn;
      }
    }
    const close = text.indexOf('>', open + 1);
    if (close < 0) throw new SipParseError('missing ">"', header);
    uriText = trimWs(text.slice(open + 1, close));
    paramsStart = close + 1;
  } else {
    // Bare addr-spec: it ends at the first ";" after the user part (if any) or at LWS.
    let searchFrom = i;
    const at = text.indexOf('@', i);
    if (at >= 0) {
      const dq = text.indexOf('"', i);
      if (dq < 0 || dq > at) searchFrom = at;
    }
    let end = searchFrom;
    while (end < n) {
      const c = text.charCodeAt(end);
      if (c === 0x3b || isWs(c)) break;
      end++;
    }
    uriText = text.slice(i, end);
    paramsStart = end;
  }
  const uri = parseUri(uriText, header);
  const params = new Map<string, string | null>();
  if (paramsStart < n) parseHeaderParams(text, paramsStart, params, header);
  const out: NameAddr = { uri, uriText, params };
  if (displayName !== undefined) out.displayName = displayName;
  return out;
}

/**
 * Formats an address as `"Display" <uri>;params` (always the `<…>` form, so URI parameters
 * and header parameters cannot be confused). The URI comes from `addr.uri`.
 */
export function formatNameAddr(addr: NameAddr): string {
  const dn = addr.displayName === undefined ? '' : `${quote(addr.displayName)} `;
  return `${dn}<${formatUri(addr.uri)}>${formatHeaderParams(addr.params)}`;
}
