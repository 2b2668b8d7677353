/**
 * Digest authentication of requests that reach us (RFC 3261 §22.4, RFC 7616's nonce
 * advice): a peer outside the allow-list is challenged with 401 and admitted when its
 * retry carries the right credentials. Nonces are stateless (a timestamp and an HMAC of
 * it under a per-process secret), so a challenge flood keeps nothing in memory; a nonce
 * is good for `nonceTtlMs`.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { buildDigestAuthorization } from './digest.js';
import { parseAuthChallenge } from './headers.js';
import type { SipRequest } from './message.js';

/** Credentials a caller must prove. */
export interface InboundCredentials {
  /** The realm sent in our challenges (e.g. our SIP domain). */
  realm: string;
  /** The user name the caller must present. */
  username: string;
  /** The password the caller must prove knowing (never sent or logged). */
  password: string;
}

/** What {@link DigestVerifier.check} decided. */
export type DigestVerdict = 'ok' | 'missing' | 'stale' | 'wrong';

/** Issues challenges and checks the answers, without state per challenge. */
export class DigestVerifier {
  private readonly secret = randomBytes(32);

  constructor(
    private readonly creds: InboundCredentials,
    private readonly now: () => number,
    private readonly nonceTtlMs = 300_000,
  ) {}

  /** `WWW-Authenticate` value with a fresh nonce; `stale` when the peer's nonce had expired. */
  challenge(stale = false): string {
    const ts = Math.floor(this.now()).toString(36);
    const nonce = `${ts}.${this.sign(ts)}`;
    return `Digest realm="${this.creds.realm}", nonce="${nonce}", algorithm=MD5, qop="auth"${stale ? ', stale=true' : ''}`;
  }

  /** Checks the request's `Authorization` against a nonce we issued. */
  check(req: SipRequest): DigestVerdict {
    const header = req.headers.get('Authorization');
    if (header === undefined) return 'missing';
    let params: Map<string, string>;
    try {
      params = parseAuthChallenge(header, 'Authorization').params;
    } catch {
      return 'wrong'; // credentials that do not parse are wrong credentials
    }
    const p = (k: string): string => params.get(k) ?? '';
    const nonce = p('nonce');
    const dot = nonce.indexOf('.');
    if (dot < 0 || !this.same(nonce.slice(dot + 1), this.sign(nonce.slice(0, dot)))) return 'wrong';
    if (p('username') !== this.creds.username || p('realm') !== this.creds.realm) return 'wrong';
    const issued = parseInt(nonce.slice(0, dot), 36);
    if (!(this.now() - issued <= this.nonceTtlMs)) return 'stale';
    const qop = p('qop');
    let expected: string;
    try {
      const built = buildDigestAuthorization(
        {
          scheme: 'Digest',
          realm: this.creds.realm,
          nonce,
          algorithm: 'MD5',
          ...(qop !== '' ? { qop: [qop] } : {}),
          params: new Map(),
        },
        {
          username: this.creds.username,
          password: this.creds.password,
          method: req.method,
          uri: p('uri'),
          ...(p('cnonce') !== '' ? { cnonce: p('cnonce') } : {}),
          ...(p('nc') !== '' ? { nc: parseInt(p('nc'), 16) } : {}),
          status: 401,
        },
      );
      expected = /response="([0-9a-f]+)"/.exec(built.value)?.[1] ?? '';
    } catch {
      return 'wrong'; // parameters the digest code refuses cannot be right
    }
    return expected !== '' && this.same(expected, p('response')) ? 'ok' : 'wrong';
  }

  private sign(ts: string): string {
    return createHmac('sha256', this.secret).update(ts).digest('base64url').slice(0, 22);
  }

  private same(a: string, b: string): boolean {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && timingSafeEqual(x, y);
  }
}
