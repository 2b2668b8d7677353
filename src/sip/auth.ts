/**
 * Digest authentication of our requests (RFC 3261 §22.2, RFC 8760 algorithms): the one
 * helper that turns a 401/407 into the request to send again, used for the INVITE and
 * for in-dialog requests alike. The digest arithmetic itself lives in `digest.ts`.
 */
import { BridgeError, InternalError, SipAuthError } from '../errors.js';
import { buildDigestAuthorization } from './digest.js';
import { getCSeq, parseAuthChallenge } from './headers.js';
import { createRequest, type SipRequest, type SipResponse } from './message.js';

/** Digest credentials for a trunk that challenges. */
export interface SipCredentials {
  /** The digest user name. */
  readonly username: string;
  /** The digest password; never logged. */
  readonly password: string;
}

/** Whether a status is a challenge (401 from a UAS or registrar, 407 from a proxy). */
export function isChallenge(status: number): boolean {
  return status === 401 || status === 407;
}

/** What {@link retryWithCredentials} made of a challenge. */
export type AuthRetry =
  { readonly ok: true; readonly request: SipRequest } | { readonly ok: false; readonly error: SipAuthError };

/**
 * The request to send again after `res` challenged `req`: a copy with the next CSeq, a new
 * top Via (`via`, with a fresh branch), and the Authorization / Proxy-Authorization
 * answering the challenge. `ok: false` when no credentials are configured, the challenge
 * is missing or unusable: the caller ends the request with that error.
 */
export function retryWithCredentials(
  req: SipRequest,
  res: SipResponse,
  credentials: SipCredentials | undefined,
  via: string,
): AuthRetry {
  const status = res.status;
  if (credentials === undefined) {
    return {
      ok: false,
      error: new SipAuthError(`the trunk asked for credentials (${status}) and none are configured`, status),
    };
  }
  const proxy = status === 407;
  const headerName = proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate';
  const raw = res.headers.get(headerName);
  if (raw === undefined) {
    return { ok: false, error: new SipAuthError(`${status} without ${headerName}`, status) };
  }
  let answer: { name: string; value: string };
  try {
    answer = buildDigestAuthorization(parseAuthChallenge(raw, headerName), {
      username: credentials.username,
      password: credentials.password,
      method: req.method,
      uri: req.uri,
      body: req.body,
      status: proxy ? 407 : 401,
    });
  } catch (err) {
    const cause = err instanceof BridgeError ? err : new InternalError(String(err), { cause: err });
    return {
      ok: false,
      error: new SipAuthError(`cannot answer the ${status} challenge: ${cause.message}`, status, { cause }),
    };
  }
  const next = createRequest(req.method, req.uri, req.headers.clone(), req.body);
  next.headers.set('Via', via);
  next.headers.set('CSeq', `${getCSeq(req).seq + 1} ${req.method}`);
  next.headers.delete('Authorization');
  next.headers.delete('Proxy-Authorization');
  next.headers.set(answer.name, answer.value);
  return { ok: true, request: next };
}
