/**
 * One error hierarchy for the whole library.
 *
 * Every error has a stable string `code` and may chain a `cause`. Both the ESM and the
 * CJS build can be loaded in one process, so `instanceof` is made reliable with a brand
 * registered through `Symbol.for` (shared across module copies) instead of class identity.
 */

const BRAND = Symbol.for('exotel-livekit-bridge.error');

/**
 * The stable `code` of a {@link BridgeError}: one per error class, safe to switch on and
 * to log (it never changes between versions the way a message may).
 */
export type BridgeErrorCode =
  | 'CONFIG'
  | 'ABORTED'
  | 'CLOSED'
  | 'SIP_PARSE'
  | 'SIP_MESSAGE_TOO_LARGE'
  | 'SIP_TIMEOUT'
  | 'SIP_TRANSPORT'
  | 'SIP_AUTH'
  | 'CALL_REJECTED'
  | 'TRANSFER_FAILED'
  | 'REINVITE_FAILED'
  | 'SDP_NEGOTIATION'
  | 'INVALID_PHONE_NUMBER'
  | 'INVALID_HEADER'
  | 'RTP_PARSE'
  | 'RTP_BIND'
  | 'RTP_TIMEOUT'
  | 'RTP_SOCKET'
  | 'LIVEKIT_CONNECT'
  | 'LIVEKIT_ROOM_NOT_FOUND'
  | 'LIVEKIT'
  | 'STREAM_PROTOCOL'
  | 'EXOTEL_API'
  | 'UNSUPPORTED'
  | 'INTERNAL';

/** Options every error constructor takes. */
export interface BridgeErrorOptions {
  /** The error (or other value) that caused this one; becomes the standard `Error.cause`. */
  cause?: unknown;
}

/**
 * Base class of every error this library throws or rejects with. `instanceof` works even
 * when both the ESM and the CJS build of the package are loaded in one process.
 */
export class BridgeError extends Error {
  /** What kind of failure this is; stable across versions (see {@link BridgeErrorCode}). */
  readonly code: BridgeErrorCode;

  /** Makes an error with `code`, and `options.cause` as its cause; `name` is the class name. */
  constructor(code: BridgeErrorCode, message: string, options?: BridgeErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: new.target.name, enumerable: false });
  }

  /** Works across the ESM and CJS copies of this library. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    const brand = (value as Record<symbol, unknown>)[BRAND];
    if (typeof brand !== 'string') return false;
    if (this === BridgeError) return true;
    // Walk the prototype chain by class name so subclasses of subclasses match too.
    let proto: unknown = Object.getPrototypeOf(value);
    while (proto !== null && typeof proto === 'object') {
      const ctor = (proto as { constructor?: { name?: string } }).constructor;
      if (ctor?.name === this.name) return true;
      proto = Object.getPrototypeOf(proto);
    }
    return false;
  }
}

/** Invalid or missing configuration; `issues` lists every problem found at once. */
export class ConfigError extends BridgeError {
  /** Every problem found, one sentence each (the message joins them with `; `). */
  readonly issues: readonly string[];
  /** Code `CONFIG`; the message lists all `issues`. */
  constructor(issues: readonly string[], options?: BridgeErrorOptions) {
    super('CONFIG', `invalid configuration: ${issues.join('; ')}`, options);
    this.issues = issues;
  }
}

/** The operation was cancelled through an `AbortSignal`. */
export class AbortedError extends BridgeError {
  /** Code `ABORTED`; `cause` is usually the signal's `reason`. */
  constructor(message = 'operation aborted', options?: BridgeErrorOptions) {
    super('ABORTED', message, options);
  }
}

/** The object was used after `close()`. */
export class ClosedError extends BridgeError {
  /** Code `CLOSED`; `what` names the closed object (the message is "`what` is closed"). */
  constructor(what: string) {
    super('CLOSED', `${what} is closed`);
  }
}

/** A SIP message (or one of its headers) could not be parsed. */
export class SipParseError extends BridgeError {
  /** The header whose value was malformed, when the problem is in one header. */
  readonly header: string | undefined;
  /** Code `SIP_PARSE`; the message is prefixed with `header` when one is given. */
  constructor(message: string, header?: string, options?: BridgeErrorOptions) {
    super('SIP_PARSE', header === undefined ? message : `${header}: ${message}`, options);
    this.header = header;
  }
}

/** A SIP message exceeded the configured size or header-count limit. */
export class SipMessageTooLargeError extends BridgeError {
  /** The limit that was exceeded (bytes, or a header count when the message says so). */
  readonly limit: number;
  /** Code `SIP_MESSAGE_TOO_LARGE`. */
  constructor(message: string, limit: number) {
    super('SIP_MESSAGE_TOO_LARGE', message);
    this.limit = limit;
  }
}

/** A SIP transaction timed out (Timer B / Timer F). */
export class SipTimeoutError extends BridgeError {
  /** Code `SIP_TIMEOUT`. */
  constructor(message: string, options?: BridgeErrorOptions) {
    super('SIP_TIMEOUT', message, options);
  }
}

/** The SIP transport failed (connection refused, reset, closed). */
export class SipTransportError extends BridgeError {
  /** Code `SIP_TRANSPORT`; `cause` is the socket error when there was one. */
  constructor(message: string, options?: BridgeErrorOptions) {
    super('SIP_TRANSPORT', message, options);
  }
}

/** Digest authentication failed (no credentials, unsupported algorithm, repeated challenge). */
export class SipAuthError extends BridgeError {
  /** The challenge's SIP status (401 or 407) when a response caused it, else `undefined`. */
  readonly status: number | undefined;
  /** Code `SIP_AUTH`. */
  constructor(message: string, status?: number, options?: BridgeErrorOptions) {
    super('SIP_AUTH', message, options);
    this.status = status;
  }
}

/** The far end answered the INVITE with a final non-2xx response. */
export class CallRejectedError extends BridgeError {
  /** The final response's SIP status (300–699, e.g. 486 Busy Here, 603 Decline). */
  readonly status: number;
  /** The final response's reason phrase, as the far end wrote it. */
  readonly reason: string;
  /** Code `CALL_REJECTED`; the message is `call rejected: <status> <reason>`. */
  constructor(status: number, reason: string, options?: BridgeErrorOptions) {
    super('CALL_REJECTED', `call rejected: ${status} ${reason}`, options);
    this.status = status;
    this.reason = reason;
  }
}

/**
 * A call transfer (REFER, RFC 3515) did not succeed: the REFER was refused (`status` and
 * `reason` of its final response), the far end reported a failure in a `message/sipfrag`
 * NOTIFY (the sipfrag's status and reason), the subscription ended without a final
 * status, no final status came in time (`cause` is a `SipTimeoutError`), or the call
 * ended first. `status` is `undefined` when no SIP status explains it.
 */
export class TransferError extends BridgeError {
  /** The SIP status that explains the failure, or `undefined` when none does. */
  readonly status: number | undefined;
  /** The reason phrase that came with `status` (empty when there is none). */
  readonly reason: string;
  /** Code `TRANSFER_FAILED`. */
  constructor(message: string, status?: number, reason = '', options?: BridgeErrorOptions) {
    super('TRANSFER_FAILED', message, options);
    this.status = status;
    this.reason = reason;
  }
}

/** The far end answered our re-INVITE (hold, resume) with a final non-2xx response. */
export class ReinviteError extends BridgeError {
  /** The final response's SIP status (e.g. 488 Not Acceptable Here). */
  readonly status: number;
  /** The final response's reason phrase, as the far end wrote it. */
  readonly reason: string;
  /** Code `REINVITE_FAILED`; the message is `re-INVITE refused: <status> <reason>`. */
  constructor(status: number, reason: string, options?: BridgeErrorOptions) {
    super('REINVITE_FAILED', `re-INVITE refused: ${status} ${reason}`, options);
    this.status = status;
    this.reason = reason;
  }
}

/** An SDP offer/answer could not be negotiated (no common codec, port 0, inactive...). */
export class SdpNegotiationError extends BridgeError {
  /** Code `SDP_NEGOTIATION`. */
  constructor(message: string, options?: BridgeErrorOptions) {
    super('SDP_NEGOTIATION', message, options);
  }
}

/** A phone number or caller id is not a plain dialable number. */
export class InvalidPhoneNumberError extends BridgeError {
  /** Code `INVALID_PHONE_NUMBER`. */
  constructor(message: string, options?: BridgeErrorOptions) {
    super('INVALID_PHONE_NUMBER', message, options);
  }
}

/** A user-supplied header name or value would corrupt or inject into a SIP message. */
export class InvalidHeaderError extends BridgeError {
  /** Code `INVALID_HEADER`. */
  constructor(message: string, options?: BridgeErrorOptions) {
    super('INVALID_HEADER', message, options);
  }
}

/** An RTP/RTCP packet could not be parsed. */
export class RtpParseError extends BridgeError {
  /** Code `RTP_PARSE`. */
  constructor(message: string, options?: BridgeErrorOptions) {
    super('RTP_PARSE', message, options);
  }
}

/** The RTP socket could not be bound. */
export class RtpBindError extends BridgeError {
  /** Code `RTP_BIND`; `cause` is the socket error. */
  constructor(message: string, options?: BridgeErrorOptions) {
    super('RTP_BIND', message, options);
  }
}

/** An RTP/RTCP socket failed after it was bound (e.g. a send error). */
export class RtpSocketError extends BridgeError {
  /** Code `RTP_SOCKET`; `cause` is the socket error. */
  constructor(message: string, options?: BridgeErrorOptions) {
    super('RTP_SOCKET', message, options);
  }
}

/** No RTP arrived for longer than the media timeout. */
export class RtpTimeoutError extends BridgeError {
  /** Code `RTP_TIMEOUT`. */
  constructor(message: string, options?: BridgeErrorOptions) {
    super('RTP_TIMEOUT', message, options);
  }
}

/** Connecting to the LiveKit server failed or timed out. */
export class LiveKitConnectError extends BridgeError {
  /** Code `LIVEKIT_CONNECT`; `cause` is the SDK's error when there was one. */
  constructor(message: string, options?: BridgeErrorOptions) {
    super('LIVEKIT_CONNECT', message, options);
  }
}

/** The room named by the host does not exist (the bridge never creates rooms). */
export class RoomNotFoundError extends BridgeError {
  /** The name of the room that was looked for. */
  readonly roomName: string;
  /** Code `LIVEKIT_ROOM_NOT_FOUND`. */
  constructor(roomName: string, options?: BridgeErrorOptions) {
    super('LIVEKIT_ROOM_NOT_FOUND', `LiveKit room "${roomName}" does not exist`, options);
    this.roomName = roomName;
  }
}

/** Any other LiveKit failure. */
export class LiveKitError extends BridgeError {
  /** Code `LIVEKIT`; `cause` is the SDK's error when there was one. */
  constructor(message: string, options?: BridgeErrorOptions) {
    super('LIVEKIT', message, options);
  }
}

/** What was wrong with an AgentStream (WebSocket) message or connection. */
export type StreamProtocolReason =
  | 'malformed-json'
  | 'bad-event'
  | 'bad-payload'
  | 'too-large'
  | 'flood'
  | 'unexpected'
  | 'timeout'
  | 'closed';

/**
 * Exotel's AgentStream peer sent something we refuse (`reason` says what): JSON that does
 * not parse, an event missing a field or out of order, base64 that is not 16-bit PCM, a
 * message over the size bound, more messages than the rate bound, no `start` or media in
 * time, or the socket closed abnormally.
 */
export class StreamProtocolError extends BridgeError {
  /** What was wrong, as a stable string to switch on. */
  readonly reason: StreamProtocolReason;
  /** Code `STREAM_PROTOCOL`. */
  constructor(reason: StreamProtocolReason, message: string, options?: BridgeErrorOptions) {
    super('STREAM_PROTOCOL', message, options);
    this.reason = reason;
  }
}

/**
 * Exotel's HTTP API refused or failed a request: `status` is the HTTP status (0 when no
 * response came: network failure or timeout). The message never carries credentials.
 */
export class ExotelApiError extends BridgeError {
  /** The HTTP status of Exotel's answer, or 0 when no answer came. */
  readonly status: number;
  /** Code `EXOTEL_API`. */
  constructor(status: number, message: string, options?: BridgeErrorOptions) {
    super('EXOTEL_API', message, options);
    this.status = status;
  }
}

/** The call's transport cannot do this (e.g. a REFER transfer on an AgentStream call). */
export class UnsupportedError extends BridgeError {
  /** Code `UNSUPPORTED`. */
  constructor(message: string, options?: BridgeErrorOptions) {
    super('UNSUPPORTED', message, options);
  }
}

/** A failure nobody classified: a bug, or an error of a dependency we did not expect. */
export class InternalError extends BridgeError {
  /** Code `INTERNAL`; `cause` is the original error. */
  constructor(message: string, options?: BridgeErrorOptions) {
    super('INTERNAL', message, options);
  }
}

/** `err` itself when it is one of ours; otherwise an {@link InternalError} whose `cause` is `err`. */
export function toBridgeError(err: unknown): BridgeError {
  if (err instanceof BridgeError) return err;
  return new InternalError(err instanceof Error ? err.message : String(err), { cause: err });
}

/** Throws `AbortedError` when the signal has already fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError('operation aborted', { cause: signal.reason });
}
