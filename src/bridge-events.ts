/**
 * What a `BridgeCall` reports: its `sip.callStatus`, why it ended, what the answer carried,
 * its milestones and statistics, and its typed events (all documented here, in one place).
 */
import type { HoldInfo, TransferInfo } from './bridge-control.js';
import type { AgentStreamStats, StreamInterruption } from './agentstream/media.js';
import type { BridgeError } from './errors.js';
import type { RtpMediaBridgeStats } from './rtp/bridge.js';

/** `sip.callStatus`: LiveKit SIP's values; `automation` while the `dtmf` option's digits are sent after the answer. */
export type BridgeCallStatus = 'dialing' | 'ringing' | 'automation' | 'active' | 'hangup';

/** Why a bridged call ended. */
export type BridgeEndReason =
  /** The phone hung up (BYE from the far end). */
  | 'phone-hangup'
  /** The host called `hangup()`. */
  | 'host-hangup'
  /** The host's `AbortSignal` fired. */
  | 'aborted'
  /** An agent called `lk.sip.EndCall`. */
  | 'agent-hangup'
  /** Every agent left the room and none came back within `timeouts.agentGoneMs`. */
  | 'agent-left'
  /** The bridge participant was removed from the room. */
  | 'participant-removed'
  /** The room was deleted. */
  | 'room-deleted'
  /** The LiveKit connection was lost (or could not be made). */
  | 'livekit-disconnected'
  /** No RTP arrived for the media timeout. */
  | 'media-timeout'
  /** The far end answered the INVITE with a final non-2xx. */
  | 'rejected'
  /** Nobody answered within the ringing timeout. */
  | 'no-answer'
  /** The trunk did not respond at all (Timer B) or the SIP transport failed. */
  | 'sip-error'
  /** The maximum call duration was reached. */
  | 'max-duration'
  /** Inbound: no agent joined the room in time (the call was refused with 480). */
  | 'no-agent'
  /** A cold transfer succeeded: the phone talks to the transfer target now (we sent BYE). */
  | 'transferred'
  /** Anything else (the `error` field says what). */
  | 'error';

export interface BridgeAnswered {
  /** The bridge's call id (`sip.callID`, `EXO_…`). */
  callId: string;
  /** The SIP Call-ID header. */
  sipCallId: string;
  /** G.711 over RTP, or `L16` (16-bit linear PCM) over an AgentStream. */
  codec: 'PCMU' | 'PCMA' | 'L16';
  /** Where the phone's audio comes from: the RTP peer, or the AgentStream socket's peer. */
  remoteAddress: string;
  remotePort: number;
  /** Milliseconds from `runBridge()` to the 200 OK. */
  setupMs: number;
  remoteHeaders: Readonly<Record<string, string>>;
}

export interface BridgeEnded {
  reason: BridgeEndReason;
  /** The SIP status behind the end, when there was one (e.g. 486). */
  sipStatus?: number;
  error?: BridgeError;
  /** Milliseconds the call was answered (0 if never). */
  talkMs: number;
}

export interface BridgeTimings {
  /** ms from `runBridge()` to each milestone (undefined until reached). */
  livekitConnected?: number;
  trackPublished?: number;
  inviteSent?: number;
  answered?: number;
  firstRtpSent?: number;
  firstRtpReceived?: number;
  active?: number;
  ended?: number;
}

export interface BridgeStats {
  status: BridgeCallStatus;
  rtp: RtpMediaBridgeStats | undefined;
  /** AgentStream calls: the stream's counters (messages, malformed, chunks, heard ms...). */
  stream?: AgentStreamStats;
  livekit: { framesCaptured: number; framesDropped: number; agentTracks: number } | undefined;
  timings: BridgeTimings;
}

/** Events of a `BridgeCall`. */
export interface BridgeCallEvents {
  /** `sip.callStatus` changed. */
  status: [status: BridgeCallStatus];
  /** The far end answered (200 OK) and RTP started; for AgentStream, the stream started. */
  answered: [info: BridgeAnswered];
  /** The first RTP packet (AgentStream: `media` event) arrived after the answer (`sip.callStatus` is now `active`). */
  audioReady: [];
  /** A DTMF digit, from the phone (`'phone'`) or from the room (`'room'`). */
  dtmf: [info: { digit: string; from: 'phone' | 'room' }];
  /**
   * With `audioTaps`: 20 ms of PCM at the call's rate (8 kHz for SIP), what the phone said (`'phone'`) or what the
   * phone was sent from the room (`'room'`). The array is reused: copy it to keep it.
   */
  audio: [frame: { from: 'phone' | 'room'; samples: Int16Array }];
  /** A cold transfer's progress (`transfer()` or the `exotel.sip.Transfer` RPC). */
  transfer: [info: TransferInfo];
  /** The call went on or off hold, from the phone's side (its re-INVITE) or ours (`hold()`). */
  hold: [info: HoldInfo];
  /** Call quality every `statsIntervalMs` once answered (loss, jitter, RTT, MOS: docs/quality.md). */
  stats: [stats: RtpMediaBridgeStats];
  /**
   * AgentStream: a `clear` was sent (the agent fell silent while the caller spoke, the agent
   * called `exotel.ClearAudio`, or the host called `clearAudio()`): what the caller heard.
   */
  interrupted: [info: StreamInterruption];
  /** AgentStream: Exotel confirmed playing agent audio up to `heardMs` (a `mark` echo). */
  playback: [info: { mark: string; heardMs: number; pendingMs: number }];
  /** An outbound call's 183 carried SDP: the far end's early media (ringback, announcements) now reaches the room. */
  earlyMedia: [];
  /** Exactly once, after teardown finished. */
  ended: [info: BridgeEnded];
}
