/**
 * SIP message serializer: start line, headers in order with canonical names, a computed
 * Content-Length, CRLF line ends, then the body.
 *
 * Nothing can be injected through it: a header name that is not a token, a start line or
 * header value containing CR or LF, or a NUL anywhere but as a quoted-pair inside a
 * quoted-string (`"a\<NUL>b"`, RFC 3261 §25.1), is refused with `InvalidHeaderError`.
 */
import { Buffer } from 'node:buffer';

import { InvalidHeaderError } from '../errors.js';
import { clip, findBadQuotedOctet, isToken } from './bytes.js';
import type { SipMessage } from './message.js';

const FORBIDDEN_RE = /[\r\n\0]/;
// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const BAD_REQUEST_URI_RE = /[\x00-\x20\x7f]/;

/** Header names already checked to be tokens (bounded: names may come from users). */
const VALID_NAMES = new Set<string>();

function checkName(name: string): void {
  if (VALID_NAMES.has(name)) return;
  if (!isToken(name)) throw new InvalidHeaderError(`invalid header name "${clip(name)}"`);
  if (VALID_NAMES.size < 1024) VALID_NAMES.add(name);
}

function startLine(msg: SipMessage): string {
  if (msg.kind === 'request') {
    if (!isToken(msg.method)) throw new InvalidHeaderError(`invalid method "${clip(msg.method)}"`);
    const uri = msg.uri;
    if (uri.length === 0 || BAD_REQUEST_URI_RE.test(uri))
      throw new InvalidHeaderError(`invalid Request-URI "${clip(uri)}"`);
    return `${msg.method} ${uri} SIP/2.0\r\n`;
  }
  const status = msg.status;
  if (!Number.isInteger(status) || status < 100 || status > 699) {
    throw new InvalidHeaderError(`invalid status code ${String(status)}`);
  }
  if (FORBIDDEN_RE.test(msg.reason)) throw new InvalidHeaderError('reason phrase contains CR, LF or NUL');
  return `SIP/2.0 ${status} ${msg.reason}\r\n`;
}

/**
 * Serializes a message to bytes. `Content-Length` is always computed from the body: an
 * existing Content-Length header is replaced in place (extra ones dropped), otherwise one
 * is appended after the other headers. Throws `InvalidHeaderError` for a header name that
 * is not a token, a value with CR, LF or a NUL outside a quoted-pair, a reason phrase with
 * CR, LF or NUL, a malformed Request-URI or method, or a status outside 100–699.
 */
export function serializeSipMessage(msg: SipMessage): Uint8Array {
  let head = startLine(msg);
  const body = msg.body;
  let wroteLength = false;
  // All values are checked at once: one regular-expression scan instead of one per value.
  let values = '';
  for (const h of msg.headers) {
    // SipHeaders stores canonical names already (`canonicalHeaderName` on every insert).
    const name = h.name;
    checkName(name);
    if (name === 'Content-Length') {
      if (!wroteLength) head += `Content-Length: ${body.length}\r\n`;
      wroteLength = true;
      continue;
    }
    const value = h.value;
    values += value;
    head += `${name}: ${value}\r\n`;
  }
  if (FORBIDDEN_RE.test(values)) {
    for (const h of msg.headers) {
      const v = h.value;
      if (v.indexOf('\r') >= 0 || v.indexOf('\n') >= 0) {
        throw new InvalidHeaderError(`value of ${h.name} contains CR or LF`);
      }
      if (v.indexOf('\0') >= 0 && findBadQuotedOctet(v) >= 0) {
        throw new InvalidHeaderError(`value of ${h.name} contains NUL outside a quoted-pair`);
      }
    }
  }
  if (!wroteLength) head += `Content-Length: ${body.length}\r\n`;
  head += '\r\n';
  const headLength = Buffer.byteLength(head, 'utf8');
  // allocUnsafe draws small buffers from Node's pool (much cheaper than a fresh
  // ArrayBuffer); every byte is written below.
  const out = Buffer.allocUnsafe(headLength + body.length);
  out.write(head, 0, headLength, headLength === head.length ? 'latin1' : 'utf8');
  out.set(body, headLength);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
