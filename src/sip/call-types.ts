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
  /** Every header of the 200 OK (first value of each name). */
  headers: Readonly<Record<string, string>>;
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

/** A DTMF digit the far end sent in a SIP INFO (`application/dtmf-relay` or `application/dtmf`). */
export interface SipInfoDtmf {
  /** `0`–`9`, `*`, `#`, `A`–`D`. */
  digit: string;
  /** The `Duration` of a dtmf-relay body, when given. */
  durationMs?: number;
  via: 'info';
}

/** A NOTIFY of our REFER's subscription with a `message/sipfrag` status (`referProgress` event). */
export interface ReferProgress {
  /** The sipfrag's status: 100 Trying, 180 Ringing, 200 OK, 503... */
  status: number;
  reason: string;
  /** The NOTIFY's `Subscription-State`. */
  subscriptionState: 'active' | 'pending' | 'terminated';
}

/** A transfer that succeeded: the 2xx sipfrag the far end reported. */
export interface ReferResult {
  status: number;
  reason: string;
}

/**
 * Events of a {@link CallSession} (`call.dialogSession`), besides {@link SessionEvents}:
 * - `dtmf` — a DTMF digit in an INFO (the `info` event is emitted too, first);
 * - `referProgress` — every sipfrag status of our REFER's NOTIFYs;
 * - `localHold` — our hold (`true`) or resume (`false`) re-INVITE was answered 2xx, with
 *   the media now in effect (`undefined` when the answer could not be negotiated).
 */
export interface CallSessionEvents extends SessionEvents {
  dtmf: [dtmf: SipInfoDtmf];
  referProgress: [progress: ReferProgress];
  localHold: [held: boolean, negotiated: NegotiatedSdp | undefined];
}
