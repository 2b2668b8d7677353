/**
 * What `listenForCalls()` takes and reports: the options, the call offered to the host's
 * `onCall`, and the host's decision.
 */
import type { BridgeCall, BridgeEnded } from '../bridge.js';
import type { RunBridgeOptions } from '../bridge-options.js';
import type { InboundCredentials } from '../sip/auth-server.js';

/** An inbound call offered to `onCall` before anything joins a room. */
export interface IncomingCall {
  /** The caller in E.164 (a national number is normalised with `defaultCountryCode`); `anonymous` when it is none. */
  from: string;
  /** The dialled Exophone, as the INVITE's To user carries it. */
  to: string;
  /** The SIP Call-ID. */
  sipCallId: string;
  /** The INVITE's `X-` headers (first value of each): `X-Exotel-CallSid`… */
  headers: Readonly<Record<string, string>>;
  /** Where the INVITE came from (the trunk, or the SIP proxy in front of this process). */
  source: {
    /** The sender's IP address. */
    address: string;
    /** The sender's port. */
    port: number;
    /** The transport the INVITE came over. */
    transport: 'udp' | 'tcp' | 'tls';
  };
}

/** Take the call into `roomName` (which must exist, with its agent dispatched)… */
export interface AcceptDecision {
  /** The room to bridge the call into; it must exist and have its agent dispatched. */
  roomName: string;
  /** The agent type serving the call (kept in the participant's metadata and logs). */
  agentType?: string;
  /** Extra participant attributes (merged over the `sip.*` ones). */
  attributes?: Readonly<Record<string, string>>;
  /** Participant name (default: the caller's number). */
  participantName?: string;
  /**
   * Called once the call is over, however it ended (also when the caller hung up before
   * the bridge joined): e.g. to delete the room made for it. Failures are logged.
   */
  onEnded?: (ended: BridgeEnded | { reason: 'cancelled-before-bridge' }) => void | Promise<void>;
}

/** …or refuse it with a final status (486 Busy Here, 603 Decline, 404, 480…). */
export interface RejectDecision {
  /** The SIP status to answer the INVITE with (a final status, 300–699). */
  reject: number;
}

/** What `onCall` decides for an incoming call: take it into a room, or refuse it. */
export type CallDecision = AcceptDecision | RejectDecision;

/** Options of `listenForCalls()`. */
export interface ListenForCallsOptions extends Pick<
  RunBridgeOptions,
  | 'livekit'
  | 'exotel'
  | 'env'
  | 'logger'
  | 'isAgent'
  | 'timeouts'
  | 'sipTimers'
  | 'jitterTargetMs'
  | 'directFfi'
  | 'livekitMedia'
  | 'statsLogIntervalMs'
  | 'clock'
  | 'requireExistingRoom'
  | 'includeHeaders'
  | 'audioTaps'
> {
  /** Decides each call: resolve `{ roomName }` to take it, `{ reject: status }` or throw (500) to refuse it. */
  onCall(call: IncomingCall): CallDecision | Promise<CallDecision>;
  /** Closing: aborting closes the listener without draining. */
  signal?: AbortSignal;
  /**
   * Addresses allowed to call in besides those the trunk host resolves to: Exotel's
   * signalling addresses, or the SIP proxy in front of this process.
   */
  allowFrom?: readonly string[];
  /** Digest credentials that callers from other addresses must prove (else they get 403). */
  auth?: InboundCredentials;
  /** Most calls at once (ringing or answered); more get 486 Busy Here. Default 50. */
  maxConcurrentCalls?: number;
  /**
   * When to send the 200 OK: once the bridge joined the room and published its track
   * (`joined`, the default), or once an agent is in the room too (`agent`).
   */
  answerWhen?: 'joined' | 'agent';
  /**
   * What the caller hears before the answer: `ringing` (180, their own network's ringback,
   * the default) or `early-media` (180, then 183 with our SDP as soon as RTP is open, and a
   * ringback tone played by the bridge until the 200).
   */
  ringback?: 'ringing' | 'early-media';
  /** With `answerWhen: 'agent'`: how long to wait for one before refusing with 480. Default 15000 ms. */
  agentWaitMs?: number;
  /** Country code for callers in national form (default `91`). */
  defaultCountryCode?: string;
  /** `Retry-After` (seconds) on the 503 answered to INVITEs while draining. Default 30. */
  drainRetryAfterSec?: number;
}

/** Options of `InboundListener.close()`. */
export interface CloseListenerOptions {
  /**
   * Refuse new INVITEs (503 with Retry-After) and let active calls finish, up to
   * `drainTimeoutMs`; then hang up the rest. Default false: hang up at once.
   */
  drain?: boolean;
  /** Longest drain (default 300000 ms). */
  drainTimeoutMs?: number;
}

/** Events of an `InboundListener`. */
export interface InboundListenerEvents {
  /** A call was taken: its bridge is joining the room. */
  call: [call: BridgeCall];
  /** An INVITE was refused before any room was involved. */
  refused: [
    info: {
      /** The INVITE's Call-ID. */
      sipCallId: string;
      /** The caller as the INVITE's From carries it. */
      from: string;
      /** The status the INVITE was answered with (403, 486, 503…). */
      status: number;
      /** Why, in a few words (for logs). */
      why: string;
    },
  ];
}
