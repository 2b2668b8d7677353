/**
 * The simulator's digest check (RFC 3261 §22, RFC 2617 MD5 with `qop=auth`): issues
 * nonces in 401/407 challenges and verifies the Authorization of the retried INVITE by
 * computing the expected answer with the library's own digest code.
 */
import { randomBytes } from 'node:crypto';
import { buildDigestAuthorization } from '../sip/digest.js';
import { parseAuthChallenge } from '../sip/headers.js';
import type { SipRequest } from '../sip/message.js';

/** The credentials the simulator expects. */
export interface SimulatorAuthSettings {
  realm: string;
  username: string;
  password: string;
  /** Challenge with 407 / Proxy-Authenticate instead of 401 / WWW-Authenticate. */
  proxy?: boolean;
}

/** The verdict on a request: accept, challenge (401/407) or refuse (403). */
export type DigestVerdict = 'ok' | 401 | 403 | 407;

export class SimulatorDigest {
  private readonly nonces = new Set<string>();

  constructor(private readonly auth: SimulatorAuthSettings) {}

  /** The challenge status: 407 for a proxy, else 401. */
  get challengeStatus(): 401 | 407 {
    return this.auth.proxy === true ? 407 : 401;
  }

  /** A new challenge header (name and value) with a fresh nonce. */
  challenge(): [name: string, value: string] {
    const nonce = randomBytes(12).toString('hex');
    this.nonces.add(nonce);
    return [
      this.auth.proxy === true ? 'Proxy-Authenticate' : 'WWW-Authenticate',
      `Digest realm="${this.auth.realm}", nonce="${nonce}", algorithm=MD5, qop="auth"`,
    ];
  }

  /** Checks the request's credentials against a nonce we issued. */
  check(req: SipRequest): DigestVerdict {
    const auth = this.auth;
    const status = this.challengeStatus;
    const headerName = auth.proxy === true ? 'Proxy-Authorization' : 'Authorization';
    const header = req.headers.get(headerName);
    if (header === undefined) return status;
    try {
      const got = parseAuthChallenge(header, headerName);
      const p = (k: string): string => unquote(got.params.get(k) ?? '');
      const nonce = p('nonce');
      if (!this.nonces.has(nonce) || p('username') !== auth.username) return 403;
      const qop = p('qop');
      const expected = buildDigestAuthorization(
        {
          scheme: 'Digest',
          realm: auth.realm,
          nonce,
          algorithm: 'MD5',
          qop: qop ? [qop] : undefined,
          params: new Map(),
        },
        {
          username: auth.username,
          password: auth.password,
          method: req.method,
          uri: p('uri'),
          cnonce: p('cnonce') || undefined,
          nc: p('nc') ? parseInt(p('nc'), 16) : undefined,
          status,
        },
      );
      const want = unquote(parseAuthChallenge(expected.value, headerName).params.get('response') ?? '');
      return want !== '' && want === p('response') ? 'ok' : 403;
    } catch {
      // Credentials that do not parse, or parameters the digest code refuses, are wrong
      // credentials: the answer a trunk gives is 403, which is what this returns.
      return 403;
    }
  }
}

function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v;
}
