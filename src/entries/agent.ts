/**
 * `exotel-livekit-bridge/agent`: helpers for agent code in the call's room. Recognise the
 * bridge's phone participant, wait until its audio flows, and control the call through the
 * RPC methods the bridge participant answers (LiveKit's `lk.sip.EndCall` and
 * `lk.sip.GetRemoteHeaders`, and the `exotel.*` call control). Typed by shape: participants and
 * rooms of `@livekit/rtc-node` 1.x and of the 0.13 line that `@livekit/agents` uses both fit.
 * Importing it loads no native code.
 *
 * @module exotel-livekit-bridge/agent
 */
export {
  isBridgeParticipant,
  waitForAudioReady,
  parseBridgeMetadata,
  BRIDGE_CALL_ID_PREFIX,
} from '../agent.js';
export type {
  BridgeParticipantMetadata,
  WaitForAudioReadyOptions,
  ParticipantLike,
  RoomLike,
} from '../agent.js';
export {
  transferCall,
  holdCall,
  sendCallDtmf,
  clearCallAudio,
  endCall,
  getCallHeaders,
} from '../agent-control.js';
export type { RpcCaller, ClearAudioResult } from '../agent-control.js';
export { agentTypeFromRoomName } from '../room-names.js';
export {
  PARTICIPANT_KIND,
  RPC_END_CALL,
  RPC_GET_REMOTE_HEADERS,
  RPC_TRANSFER,
  RPC_HOLD,
  RPC_SEND_DTMF,
  RPC_CLEAR_AUDIO,
  CALL_CONTROL_ATTRIBUTE,
} from '../livekit/wire.js';
