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

/** What the `answered` event of a `BridgeCall` carries: who answered and how the audio flows. */
export interface BridgeAnswered {
  /** The bridge's call id (`sip.callID`, `EXO_…`). */
  callId: string;
  /** The SIP Call-ID header. */
  sipCallId: string;
  /** G.711 over RTP, or `L16` (16-bit linear PCM) over an AgentStream. */
  codec: 'PCMU' | 'PCMA' | 'L16';
  /** Where the phone's audio comes from: the RTP peer, or the AgentStream socket's peer. */
  remoteAddress: string;
  /** The port of `remoteAddress`. */
  remotePort: number;
  /** Milliseconds from `runBridge()` to the 200 OK. */
  setupMs: number;
  /**
   * The `X-` headers of the far end's answer (outbound) or INVITE (inbound), first value
   * of each; for AgentStream calls, the stream's custom parameters.
   */
  remoteHeaders: Readonly<Record<string, string>>;
}

/** What the `ended` event of a `BridgeCall` carries: why and how the call ended. */
export interface BridgeEnded {
  /** Why the call ended. */
  reason: BridgeEndReason;
  /** The SIP status behind the end, when there was one (e.g. 486). */
  sipStatus?: number;
  /** The failure behind the end, for reasons such as `error`, `sip-error` or `media-timeout`. */
  error?: BridgeError;
  /** Milliseconds the call was answered (0 if never). */
  talkMs: number;
}

/**
 * When a call reached each milestone: milliseconds from `runBridge()`, each `undefined`
 * until it is reached.
 */
export interface BridgeTimings {
  /** The bridge participant joined the room. */
  livekitConnected?: number;
  /** The phone's audio track was published in the room. */
  trackPublished?: number;
  /** The INVITE went out (outbound), or answering began (inbound and AgentStream calls). */
  inviteSent?: number;
  /** The call was answered: the far end's 200 OK (outbound), the ACK of ours (inbound), or the stream's start. */
  answered?: number;
  /** The first audio packet went to the phone. */
  firstRtpSent?: number;
  /** The first audio packet came from the phone. */
  firstRtpReceived?: number;
  /** `sip.callStatus` became `active`. */
  active?: number;
  /** Teardown finished. */
  ended?: number;
}

/** A snapshot of one call's state and counters (`BridgeCall.stats()`). */
export interface BridgeStats {
  /** The call's `sip.callStatus` now. */
  status: BridgeCallStatus;
  /** RTP counters and quality (SIP calls, once media started), else `undefined`. */
  rtp: RtpMediaBridgeStats | undefined;
  /** AgentStream calls: the stream's counters (messages, malformed, chunks, heard ms...). */
  stream?: AgentStreamStats;
  /** The room side, once the participant exists, else `undefined`. */
  livekit:
    | {
        /** 20 ms frames of phone audio sent into the room. */
        framesCaptured: number;
        /** Frames of phone audio the room side could not take (dropped). */
        framesDropped: number;
        /**
         * Frames of phone audio that came before the track was published (an outbound call
         * dials while the bridge joins the room), dropped: late audio is no use to an agent.
         */
        framesBeforePublish: number;
        /** Agent audio tracks the bridge is subscribed to now. */
        agentTracks: number;
      }
    | undefined;
  /** When the call reached each milestone. */
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
  dtmf: [
    info: {
      /** The digit: `0`–`9`, `*`, `#` or `A`–`D`. */
      digit: string;
      /** Who pressed it: the phone, or an agent in the room (sent on to the phone). */
      from: 'phone' | 'room';
    },
  ];
  /**
   * With `audioTaps`: 20 ms of PCM at the call's rate (8 kHz for SIP), what the phone said (`'phone'`) or what the
   * phone was sent from the room (`'room'`). The array is reused: copy it to keep it.
   */
  audio: [
    frame: {
      /** `phone`: what the phone said; `room`: what the room sent to the phone. */
      from: 'phone' | 'room';
      /** 20 ms of 16-bit mono PCM (reused: copy to keep). */
      samples: Int16Array;
    },
  ];
  /** A cold transfer's progress (`transfer()` or the `exotel.sip.Transfer` RPC). */
  transfer: [info: TransferInfo];
  /** The call went on or off hold, from the phone's side (its re-INVITE) or ours (`hold()`). */
  hold: [info: HoldInfo];
  /** Call quality every `statsIntervalMs` once answered (loss, jitter, RTT, MOS; see docs/quality.md in the repository). */
  stats: [stats: RtpMediaBridgeStats];
  /**
   * AgentStream: a `clear` was sent (the agent fell silent while the caller spoke, the agent
   * called `exotel.ClearAudio`, or the host called `clearAudio()`): what the caller heard.
   */
  interrupted: [info: StreamInterruption];
  /** AgentStream: Exotel confirmed playing agent audio up to `heardMs` (a `mark` echo). */
  playback: [
    info: {
      /** The name of the echoed mark. */
      mark: string;
      /** Agent audio the caller has heard so far, in ms. */
      heardMs: number;
      /** Agent audio sent to Exotel and not yet confirmed heard, in ms. */
      pendingMs: number;
    },
  ];
  /** An outbound call's 183 carried SDP: the far end's early media (ringback, announcements) now reaches the room. */
  earlyMedia: [];
  /** Exactly once, after teardown finished. */
  ended: [info: BridgeEnded];
}
