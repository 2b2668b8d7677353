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
  /** We hung up with BYE. */
  | 'local-bye'
  /** The far end hung up with BYE. */
  | 'remote-bye'
  /** The INVITE got a final non-2xx response. */
  | 'rejected'
  /** Cancelled before the answer (CANCEL, abort, or the client closed). */
  | 'cancelled'
  /** No final answer in time (ringing timeout, or no response at all: 408). */
  | 'timeout'
  /** The signalling connection failed. */
  | 'transport-error'
  /** The maximum call duration was reached (we sent BYE). */
  | 'max-duration'
  /** The trunk's digest challenge could not be answered. */
  | 'auth-failed'
  /** The far end's SDP could not be negotiated (we sent BYE after the answer). */
  | 'negotiation-failed';

/** A provisional response (`progress` event). */
export interface CallProgress {
  /** The SIP status, 100–199 (180 Ringing, 183 Session Progress...). */
  status: number;
  /** The reason phrase, as the far end wrote it. */
  reason: string;
  /** The early-media SDP when the response carried one (typically 183). */
  sdp?: string;
}

/** A successful answer (`call.answered`). */
export interface CallAnswer {
  /** The SIP status, 200–299. */
  status: number;
  /** The reason phrase, as the far end wrote it. */
  reason: string;
  /** The far end's SDP answer. */
  sdp: string;
  /** The negotiated media, when an SDP offer was passed to `invite`. */
  negotiated?: NegotiatedSdp;
  /** The far end's To tag: with the Call-ID and our From tag, it identifies the dialog. */
  remoteTag: string;
  /** The SIP Call-ID. */
  callId: string;
  /** The 200 OK's `X-` headers (first value of each). */
  remoteHeaders: Readonly<Record<string, string>>;
  /** Every header of the 200 OK (first value of each name). */
  headers: Readonly<Record<string, string>>;
}

/** How a call ended (`ended` event and `call.ended`). */
export interface CallEnded {
  /** Why the call ended. */
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
  /** The request's `Content-Type`, when it had one. */
  contentType: string | undefined;
  /** The request's body, as received. */
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
  /** The transport has written the INVITE (a connection to the trunk opened first if needed; again after a digest challenge). */
  inviteSent: [];
  /** A provisional response (100/180/183), with early-media SDP when present. */
  progress: [progress: CallProgress];
  /** The 2xx arrived and was ACKed. */
  answered: [answer: CallAnswer];
}

/** A DTMF digit the far end sent in a SIP INFO (`application/dtmf-relay` or `application/dtmf`). */
export interface SipInfoDtmf {
  /** `0`–`9`, `*`, `#`, `A`–`D`. */
  digit: string;
  /** The `Duration` of a dtmf-relay body, when given. */
  durationMs?: number;
  /** How the digit came: always `info` (RFC 4733 digits come through the RTP layer instead). */
  via: 'info';
}

/** A NOTIFY of our REFER's subscription with a `message/sipfrag` status (`referProgress` event). */
export interface ReferProgress {
  /** The sipfrag's status: 100 Trying, 180 Ringing, 200 OK, 503... */
  status: number;
  /** The sipfrag's reason phrase. */
  reason: string;
  /** The NOTIFY's `Subscription-State`. */
  subscriptionState: 'active' | 'pending' | 'terminated';
}

/** A transfer that succeeded: the 2xx sipfrag the far end reported. */
export interface ReferResult {
  /** The sipfrag's status (200–299). */
  status: number;
  /** The sipfrag's reason phrase. */
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
  /** A DTMF digit in an INFO (the `info` event is emitted too, first). */
  dtmf: [dtmf: SipInfoDtmf];
  /** Every sipfrag status of our REFER's NOTIFYs. */
  referProgress: [progress: ReferProgress];
  /** Our hold (`true`) or resume (`false`) re-INVITE was answered 2xx, with the media now in effect. */
  localHold: [held: boolean, negotiated: NegotiatedSdp | undefined];
}
