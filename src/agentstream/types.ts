/**
 * What `createAgentStreamServer()` takes and reports: the options, the stream offered to
 * the host's `onStream`, and the host's decision (the same shape as `listenForCalls`' `onCall`).
 */
import type { BridgeCall } from '../bridge.js';
import type { RunBridgeOptions } from '../bridge-options.js';
import type { StreamProtocolError } from '../errors.js';
import type { AcceptDecision } from '../inbound/types.js';
import type { AgentStreamLimits } from './media.js';
import type { StreamSampleRate } from './protocol.js';

/** A stream Exotel opened (its `start` arrived), offered to `onStream` before anything joins a room. */
export interface IncomingStream {
  /** The caller in E.164 (a national number is normalised with `defaultCountryCode`); `anonymous` when it is none. */
  from: string;
  /** The Exophone the call reached, as Exotel writes it. */
  to: string;
  /** Exotel's call SID (`sip.callID` of the participant). */
  callSid: string;
  /** Exotel's id of this stream (one call may have several streams). */
  streamSid: string;
  /** The Exotel account the call belongs to. */
  accountSid: string;
  /** The stream URL's custom query parameters (at most three in Exotel's applet). */
  customParameters: Readonly<Record<string, string>>;
  /** Samples per second of the stream's audio, both ways. */
  sampleRate: StreamSampleRate;
  /** The WebSocket peer (Exotel, or the proxy in front of this process). */
  source: {
    /** The peer's IP address. */
    address: string;
    /** The peer's port. */
    port: number;
  };
}

/**
 * Take the stream into a room (`AcceptDecision`, the same as for SIP calls), or refuse it:
 * `{ reject: status }` closes the socket (503/486: 1013 "try again later", else 1008).
 * `acceptInboundCalls()` works as an `onStream` too.
 */
export type StreamDecision =
  | AcceptDecision
  | {
      /** The status to refuse with: 503 and 486 close with 1013 ("try again later"), others with 1008. */
      reject: number;
    };

/** Basic-auth credentials Exotel presents (`wss://KEY:TOKEN@host/path`). */
export interface StreamCredentials {
  /** The user name (Exotel: the part before `:` in the stream URL). */
  username: string;
  /** The password (Exotel: the part after `:`); compared in constant time, never logged. */
  password: string;
}

/** Options of `createAgentStreamServer()`. */
export interface AgentStreamServerOptions extends Pick<
  RunBridgeOptions,
  | 'livekit'
  | 'env'
  | 'logger'
  | 'isAgent'
  | 'timeouts'
  | 'directFfi'
  | 'livekitMedia'
  | 'clock'
  | 'requireExistingRoom'
  | 'audioTaps'
  | 'autoClear'
> {
  /** Decides each inbound stream. Outbound streams (`placeAgentStreamCall`) go to their call instead. */
  onStream?(stream: IncomingStream): StreamDecision | Promise<StreamDecision>;
  /** `listen()`'s address (default `127.0.0.1`; `0.0.0.0` to take connections from outside). */
  host?: string;
  /** `listen()`'s port (default 0: any free port, reported by `listen()`). */
  port?: number;
  /** The path Exotel connects to (default `/exotel/agentstream`); other paths get 404. */
  path?: string;
  /** Basic-auth credentials Exotel must present (else 401 before the upgrade). */
  auth?: StreamCredentials;
  /**
   * Addresses (IPs or CIDR blocks, v4 or v6) allowed in without credentials: Exotel's
   * streaming addresses, or the proxy in front. Others need `auth` (else 403).
   */
  allowFrom?: readonly string[];
  /** Most streams at once; more get 503 before the upgrade. Default 50. */
  maxConcurrentStreams?: number;
  /** Largest WebSocket message accepted (default 64 KiB; a larger one ends the stream with 1009). */
  maxMessageBytes?: number;
  /** Per-stream bounds: message rate, malformed messages, start/media/ping timeouts, queues. */
  limits?: AgentStreamLimits;
  /** Country code for callers in national form (default `91`). */
  defaultCountryCode?: string;
  /** Aborting closes the server without draining. */
  signal?: AbortSignal;
}

/** Options of `AgentStreamServer.close()`. */
export interface CloseStreamServerOptions {
  /** Refuse new streams (503) and let active calls finish, up to `drainTimeoutMs`; then hang up the rest. */
  drain?: boolean;
  /** Longest drain (default 300000 ms). */
  drainTimeoutMs?: number;
}

/** Why a connection was refused before it became a call. */
export interface StreamRefusal {
  /** The HTTP status of a refused upgrade (401, 403, 404, 503), or the close code after `start`. */
  status: number;
  /** Why, in a few words (for logs). */
  why: string;
  /** The peer's IP address. */
  address: string;
  /** The caller, once `start` said. */
  from?: string;
}

/** Counters of an `AgentStreamServer`. */
export interface AgentStreamServerStats {
  /** Streams open now (before and after `start`). */
  active: number;
  /** Streams that became calls since the server started. */
  accepted: number;
  /** Connections refused since the server started (see the `refused` event). */
  refused: number;
  /** Messages refused across all streams (malformed, out of order, too large, flood). */
  protocolErrors: number;
}

/** Events of an `AgentStreamServer`. */
export interface AgentStreamServerEvents {
  /** A stream became a call: its bridge is joining the room. */
  call: [call: BridgeCall];
  /** A connection was refused (auth, path, capacity, `onStream`, or an error before `start`). */
  refused: [info: StreamRefusal];
  /** A message was refused (the stream may go on; see `AgentStreamLimits.maxMalformed`). */
  protocolError: [
    info: {
      /** What was refused and why. */
      error: StreamProtocolError;
      /** The call's SID, once the stream's `start` said it. */
      callSid?: string;
      /** The peer's IP address. */
      address: string;
    },
  ];
}
