/**
 * The public vocabulary of a SIP call, shared by both directions: states, end reasons,
 * progress, answer, media updates and the events every call emits.
 */
import type { BridgeError } from '../errors.js';
import type { NegotiatedSdp } from '../sdp/negotiate.js';

/** Lifecycle of a call: `calling`/`ringing` → `early` (1xx) → `answered` → `ending` → `ended`. */
export type CallState = 'calling' | 'early' | 'answered' | 'ending' | 'ended';

/** Why a call ended. */
export type CallEndReason =
  | 'local-bye'
  | 'remote-bye'
  | 'rejected'
  | 'cancelled'
  | 'timeout'
  | 'transport-error'
  | 'max-duration'
  | 'auth-failed'
  | 'negotiation-failed';

/** A provisional response (`progress` event). */
export interface CallProgress {
  status: number;
  reason: string;
  /** The early-media SDP when the response carried one (typically 183). */
  sdp?: string;
}

/** A successful answer (`call.answered`). */
export interface CallAnswer {
  status: number;
  reason: string;
  /** The far end's SDP answer. */
  sdp: string;
  /** The negotiated media, when an SDP offer was passed to `invite`. */
  negotiated?: NegotiatedSdp;
  remoteTag: string;
  callId: string;
  /** The 200 OK's `X-` headers (first value of each). */
  remoteHeaders: Readonly<Record<string, string>>;
}

/** How a call ended (`ended` event and `call.ended`). */
export interface CallEnded {
  reason: CallEndReason;
  /** The SIP status behind the end, when there was one (e.g. 486, 487, 200 to BYE). */
  status?: number;
  /** The error behind the end, when there was one. */
  error?: BridgeError;
}

/** A new media description from the far end (a re-INVITE or UPDATE: hold, resume, address change). */
export interface MediaUpdate {
  /** The far end's new SDP. */
  sdp: string;
  /** Our SDP answer to it. */
  answer: string;
  /** The media now in effect, from our side. */
  negotiated: NegotiatedSdp;
}

/** An INFO request inside the dialog (DTMF relay, application data), answered 200. */
export interface CallInfo {
  contentType: string | undefined;
  body: Uint8Array;
}

/** Events of an established dialog, in either direction. */
export interface SessionEvents {
  /** The far end changed the media with a re-INVITE or UPDATE (answered 200). */
  mediaUpdate: [update: MediaUpdate];
  /** The far end sent an INFO (answered 200). */
  info: [info: CallInfo];
  /** Exactly once, whatever the outcome. */
  ended: [ended: CallEnded];
}

/**
 * Events of an outbound call:
 * - `progress` — every provisional response (100/180/183), with early-media SDP when present;
 * - `answered` — the 2xx arrived and was ACKed;
 * - `mediaUpdate`, `info`, `ended` — see {@link SessionEvents}.
 */
export interface OutboundCallEvents extends SessionEvents {
  progress: [progress: CallProgress];
  answered: [answer: CallAnswer];
}
