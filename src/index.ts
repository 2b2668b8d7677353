/**
 * `exotel-livekit-bridge`: what a host backend needs to put phone calls into its LiveKit
 * rooms. Outbound and inbound calls, Exotel's AgentStream, the end of the process,
 * configuration, errors and logging. The layers have their own entries: `/sip`, `/media`,
 * `/agent`, `/agentstream`, `/testing`. Importing this entry loads no native code:
 * `@livekit/rtc-node` is loaded by the first call that joins a room.
 *
 * @module exotel-livekit-bridge
 */
// Explicit exports only (no `export *`).

// --- calls ---
export { runBridge, BridgeCall } from './bridge.js';
export type {
  RunBridgeOptions,
  BridgeCallEvents,
  BridgeCallStatus,
  BridgeEndReason,
  BridgeAnswered,
  BridgeEnded,
  BridgeStats,
  BridgeTimings,
} from './bridge.js';
export type { TransferInfo, HoldInfo } from './bridge-control.js';
export type { StreamInterruption } from './agentstream/media.js';
export { placeOutboundCall, warmTransfer, hearsAgentsAndPhones } from './host.js';
export { createOutboundRoomName } from './room-names.js';
export type { PlaceOutboundCallOptions, PlacedCall, WarmTransferOptions } from './host.js';
export { connectToCall } from './call-control-client.js';
export type { RemoteCall, ConnectToCallOptions } from './call-control-client.js';

// --- inbound calls ---
export { listenForCalls, InboundListener } from './inbound/listener.js';
export type {
  ListenForCallsOptions,
  IncomingCall,
  CallDecision,
  AcceptDecision,
  RejectDecision,
  CloseListenerOptions,
  InboundListenerEvents,
} from './inbound/types.js';
export { acceptInboundCalls, createInboundRoomName } from './inbound/host.js';
export type { AcceptInboundCallsOptions, InboundParty } from './inbound/host.js';

// --- AgentStream (Exotel's WebSocket stream) ---
export { createAgentStreamServer, AgentStreamServer } from './agentstream/server.js';
export type {
  AgentStreamServerOptions,
  AgentStreamServerEvents,
  AgentStreamServerStats,
  CloseStreamServerOptions,
  IncomingStream,
  StreamDecision,
  StreamCredentials,
  StreamRefusal,
} from './agentstream/types.js';
export { placeAgentStreamCall } from './agentstream/outbound.js';
export type { PlaceAgentStreamCallOptions } from './agentstream/outbound.js';

// --- the end of the process ---
export { shutdown, activeCallCount } from './shutdown.js';
export type { ShutdownOptions } from './shutdown.js';
export { resourceCounts } from './resources.js';
export type { ResourceKind } from './resources.js';

// --- configuration ---
export {
  resolveConfig,
  resolveLiveKitSettings,
  loadConfigFromEnv,
  ENV_VARS,
  EXOTEL_DEFAULTS,
} from './config.js';
export type {
  BridgeConfig,
  ConfigInput,
  Env,
  ExotelSettings,
  ExotelTlsSettings,
  LiveKitSettings,
  SipTransportName,
} from './config.js';
export type { ParticipantPredicate, PhoneTrackPublish, PhoneTrackTuning } from './livekit/participant.js';
export type { SipTimerValues } from './sip/timers.js';
export type { TimerClock, TimerHandle, TimerOptions } from './clock.js';

// --- errors, logging, version ---
export {
  BridgeError,
  ConfigError,
  AbortedError,
  ClosedError,
  SipParseError,
  SipMessageTooLargeError,
  SipTimeoutError,
  SipTransportError,
  SipAuthError,
  CallRejectedError,
  TransferError,
  ReinviteError,
  SdpNegotiationError,
  InvalidPhoneNumberError,
  InvalidHeaderError,
  RtpParseError,
  RtpBindError,
  RtpSocketError,
  RtpTimeoutError,
  LiveKitConnectError,
  RoomNotFoundError,
  LiveKitError,
  StreamProtocolError,
  ExotelApiError,
  UnsupportedError,
  InternalError,
  toBridgeError,
} from './errors.js';
export type { BridgeErrorCode, BridgeErrorOptions, StreamProtocolReason } from './errors.js';
export { silentLogger, createMemoryLogger } from './logger.js';
export type { Logger, LogFn, LogLevel, LogRecord } from './logger.js';
export { VERSION } from './version.js';
