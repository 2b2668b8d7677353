/**
 * HTTP Digest authentication as SIP uses it (RFC 3261 §22.4, RFC 2617, RFC 7616):
 * computes the `Authorization` / `Proxy-Authorization` value that answers a 401/407
 * challenge.
 *
 * Supported: algorithms MD5, MD5-sess, SHA-256, SHA-256-sess, SHA-512-256 and
 * SHA-512-256-sess; `qop=auth` (preferred when offered), `qop=auth-int` (hashes the
 * body), and the RFC 2069 form without qop; `userhash=true`. Pure apart from the default
 * cnonce, which comes from `node:crypto` and can be injected.
 */
import { createHash, randomBytes } from 'node:crypto';

import { InvalidHeaderError, SipAuthError } from '../errors.js';
import type { AuthChallenge } from './headers.js';

/** Which header the answer goes in. */
export type DigestHeaderName = 'Authorization' | 'Proxy-Authorization';

/** Input of {@link buildDigestAuthorization}. */
export interface DigestAuthorizationOptions {
  /** The user name to authenticate as. */
  username: string;
  /** The password (only its hash goes on the wire). */
  password: string;
  /** The method of the request being authorized (`INVITE`, `BYE`...). */
  method: string;
  /** The Request-URI exactly as sent in the request line. */
  uri: string;
  /** The request body; hashed only for `qop=auth-int` (default: empty). */
  body?: string | Uint8Array;
  /** Client nonce; default 16 random bytes as hex. */
  cnonce?: string;
  /** Nonce count, 1 for the first use of a nonce (default 1). Written as 8 hex digits. */
  nc?: number;
  /**
   * Status of the response that carried the challenge: 401 (`WWW-Authenticate` →
   * `Authorization`, the default) or 407 (`Proxy-Authenticate` → `Proxy-Authorization`).
   */
  status?: 401 | 407;
}

/** A header line to add to the re-sent request. */
export interface DigestAuthorization {
  /** `Authorization` after a 401, `Proxy-Authorization` after a 407. */
  name: DigestHeaderName;
  /** The header value: `Digest username="…", realm="…", nonce="…", …`. */
  value: string;
}

interface Algorithm {
  hash: string;
  sess: boolean;
}

const ALGORITHMS: Readonly<Record<string, Algorithm>> = {
  md5: { hash: 'md5', sess: false },
  'md5-sess': { hash: 'md5', sess: true },
  'sha-256': { hash: 'sha256', sess: false },
  'sha-256-sess': { hash: 'sha256', sess: true },
  'sha-512-256': { hash: 'sha512-256', sess: false },
  'sha-512-256-sess': { hash: 'sha512-256', sess: true },
};

function h(alg: Algorithm, data: string | Uint8Array): string {
  return createHash(alg.hash).update(data).digest('hex');
}

// Refuses control characters anywhere in a value we echo into the header.
function checkValue(what: string, v: string): void {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
      throw new InvalidHeaderError(`digest ${what} contains the control character ${JSON.stringify(v[i])}`);
    }
  }
}

function quote(what: string, v: string): string {
  checkValue(what, v);
  return `"${v.replace(/[\\"]/g, (m) => `\\${m}`)}"`;
}

/**
 * Answers a Digest challenge. Returns the header to add (`Authorization` for a 401,
 * `Proxy-Authorization` for a 407, see `options.status`) and its value.
 *
 * The qop is `auth` when the challenge offers it, else `auth-int` when offered, else
 * none (RFC 2069 form). `opaque` is echoed; `algorithm` is echoed when the challenge
 * named one.
 *
 * @example
 * const { name, value } = buildDigestAuthorization(parseAuthChallenge(res.headers.get('WWW-Authenticate')!), {
 *   username: 'alice', password: 's3cret', method: 'INVITE', uri: invite.uri,
 * });
 * @throws SipAuthError for a scheme other than Digest, an unsupported algorithm or qop, a
 *   missing realm or nonce, or a nonce count out of range.
 * @throws InvalidHeaderError when a value to echo contains control characters.
 */
export function buildDigestAuthorization(
  challenge: AuthChallenge,
  options: DigestAuthorizationOptions,
): DigestAuthorization {
  const status = options.status ?? 401;
  if (challenge.scheme.toLowerCase() !== 'digest') {
    throw new SipAuthError(`unsupported authentication scheme ${JSON.stringify(challenge.scheme)}`, status);
  }
  const realm = challenge.realm;
  const nonce = challenge.nonce;
  if (realm === undefined) throw new SipAuthError('digest challenge without realm', status);
  if (nonce === undefined) throw new SipAuthError('digest challenge without nonce', status);
  const algName = challenge.algorithm;
  const alg = ALGORITHMS[(algName ?? 'MD5').toLowerCase()];
  if (alg === undefined) {
    throw new SipAuthError(`unsupported digest algorithm ${JSON.stringify(algName)}`, status);
  }

  let qop: 'auth' | 'auth-int' | undefined;
  if (challenge.qop !== undefined && challenge.qop.length > 0) {
    const offered = challenge.qop.map((q) => q.toLowerCase());
    if (offered.includes('auth')) qop = 'auth';
    else if (offered.includes('auth-int')) qop = 'auth-int';
    else throw new SipAuthError(`unsupported qop ${JSON.stringify(challenge.qop.join(','))}`, status);
  }

  const nc = options.nc ?? 1;
  if (!Number.isInteger(nc) || nc < 1 || nc > 0xffffffff) {
    throw new SipAuthError(`nonce count must be an integer from 1 to 0xffffffff, got ${nc}`, status);
  }
  const ncText = nc.toString(16).padStart(8, '0');
  const needsCnonce = qop !== undefined || alg.sess;
  const cnonce = needsCnonce ? (options.cnonce ?? randomBytes(16).toString('hex')) : undefined;

  const userhash = challenge.params.get('userhash')?.toLowerCase() === 'true';
  const username = userhash ? h(alg, `${options.username}:${realm}`) : options.username;

  let ha1 = h(alg, `${options.username}:${realm}:${options.password}`);
  if (alg.sess) ha1 = h(alg, `${ha1}:${nonce}:${cnonce!}`);
  let a2 = `${options.method}:${options.uri}`;
  if (qop === 'auth-int') a2 += `:${h(alg, options.body ?? '')}`;
  const ha2 = h(alg, a2);
  const response =
    qop === undefined
      ? h(alg, `${ha1}:${nonce}:${ha2}`)
      : h(alg, `${ha1}:${nonce}:${ncText}:${cnonce!}:${qop}:${ha2}`);

  const parts = [
    `username=${quote('username', username)}`,
    `realm=${quote('realm', realm)}`,
    `nonce=${quote('nonce', nonce)}`,
    `uri=${quote('uri', options.uri)}`,
    `response="${response}"`,
  ];
  if (algName !== undefined) {
    if (!/^[A-Za-z0-9-]+$/.test(algName)) throw new SipAuthError('malformed digest algorithm', status);
    parts.push(`algorithm=${algName}`);
  }
  if (cnonce !== undefined) parts.push(`cnonce=${quote('cnonce', cnonce)}`);
  if (challenge.opaque !== undefined) parts.push(`opaque=${quote('opaque', challenge.opaque)}`);
  if (qop !== undefined) parts.push(`qop=${qop}`, `nc=${ncText}`);
  if (userhash) parts.push('userhash=true');
  return {
    name: status === 407 ? 'Proxy-Authorization' : 'Authorization',
    value: `Digest ${parts.join(', ')}`,
  };
}
