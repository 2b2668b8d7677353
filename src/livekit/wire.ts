/**
 * LiveKit's wire values that the bridge and its agent helpers compare against, kept here so
 * that code which only *looks at* participants loads no native code: `@livekit/rtc-node`
 * loads its native binding when imported. They are protocol values (livekit_models.proto),
 * the same in rtc-node 1.x and in the 0.13 line that `@livekit/agents` brings.
 */

/** `ParticipantInfo.Kind` (`ParticipantKind` in rtc-node). */
export const PARTICIPANT_KIND = {
  /** A regular participant (a browser or app user, or a host's control participant). */
  STANDARD: 0,
  /** A participant made by LiveKit Ingress (an imported stream). */
  INGRESS: 1,
  /** A participant made by LiveKit Egress (a recorder). */
  EGRESS: 2,
  /** A phone: LiveKit SIP's participants and this bridge's. */
  SIP: 3,
  /** An agent (LiveKit Agents workers join with this kind). */
  AGENT: 4,
} as const;

/** `DisconnectReason` values the bridge tells apart. */
export const DISCONNECT_REASON = {
  PARTICIPANT_REMOVED: 4,
  ROOM_DELETED: 5,
} as const;

/** `RoomEvent` names (string enum values in rtc-node) the bridge and the helpers listen to. */
export const ROOM_EVENT = {
  ParticipantConnected: 'participantConnected',
  ParticipantDisconnected: 'participantDisconnected',
  ParticipantAttributesChanged: 'participantAttributesChanged',
} as const;

/** The RPC methods LiveKit's own SIP participant registers; agents call them by name. */
export const RPC_END_CALL = 'lk.sip.EndCall';
/** LiveKit SIP's RPC that answers with the far end's `X-` headers as a JSON object; the bridge answers it too. */
export const RPC_GET_REMOTE_HEADERS = 'lk.sip.GetRemoteHeaders';

/** RPC methods the bridge participant answers besides LiveKit's `lk.sip.EndCall` and `lk.sip.GetRemoteHeaders`. */
export const RPC_TRANSFER = 'exotel.sip.Transfer';
/** Payload `{"hold": true}` puts the phone on hold, `{"hold": false}` resumes. */
export const RPC_HOLD = 'exotel.sip.Hold';
/** Payload `{"digits": "1234#w5"}`: RFC 4733 digits, `w` a 0.5 s pause. */
export const RPC_SEND_DTMF = 'exotel.sip.SendDtmf';
/**
 * Barge-in from the agent: drop the agent audio not yet played to the phone (AgentStream:
 * `clear`; SIP: the RTP send queue). Payload `{}`; answers what the caller heard (AgentStream).
 */
export const RPC_CLEAR_AUDIO = 'exotel.ClearAudio';

/**
 * The participant attribute that lets a non-agent call the control RPCs. Attributes in a
 * token are set by whoever holds the API secret (the host), and a participant without
 * `canUpdateOwnMetadata` cannot change its own, so this cannot be claimed from the room.
 */
export const CALL_CONTROL_ATTRIBUTE = 'exotel.callControl';
