// Public API of exotel-livekit-bridge. Explicit exports only (no `export *`).

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
  InternalError,
  TransferError,
  ReinviteError,
  StreamProtocolError,
  ExotelApiError,
  UnsupportedError,
  toBridgeError,
} from './errors.js';
export type { BridgeErrorCode, BridgeErrorOptions, StreamProtocolReason } from './errors.js';
export { silentLogger, createMemoryLogger } from './logger.js';
export type { Logger, LogFn, LogLevel, LogRecord } from './logger.js';
export { VERSION } from './version.js';

// --- SIP message layer (src/sip) ---
export {
  SipHeaders,
  canonicalHeaderName,
  createRequest,
  createResponse,
  COMPACT_HEADER_NAMES,
  REASON_PHRASES,
} from './sip/message.js';
export type { SipHeader, SipRequest, SipResponse, SipMessage } from './sip/message.js';
export { parseSipMessage } from './sip/parser.js';
export type { ParseSipMessageOptions } from './sip/parser.js';
export { serializeSipMessage } from './sip/serializer.js';
export { SipStreamFramer } from './sip/framing.js';
export type { SipStreamFramerOptions, SipFramerBatch, SipKeepAliveKind } from './sip/framing.js';
export { parseUri, formatUri } from './sip/uri.js';
export type { SipUri, SipUriScheme } from './sip/uri.js';
export { parseNameAddr, formatNameAddr } from './sip/name-addr.js';
export type { NameAddr } from './sip/name-addr.js';
export {
  splitHeaderList,
  parseVia,
  formatVia,
  parseCSeq,
  parseMaxForwards,
  parseContentLength,
  parseContentType,
  parseCallId,
  parseContact,
  parseRouteList,
  parseAuthChallenge,
  parseAddressHeader,
  getCallId,
  getCSeq,
  getTopVia,
  getVias,
  getFrom,
  getTo,
  getContact,
  getRecordRoute,
  MAX_CSEQ,
} from './sip/headers.js';
export type { Via, CSeq, ContentType, ContactValue, AuthChallenge, AddressHeader } from './sip/headers.js';

// --- SDP (src/sdp) and SIP: digest auth, phone numbers, ids, Exotel INVITE (src/sip) ---
export { parseSdp, serializeSdp, createSdpOffer, createSdpAnswer, negotiateSdp } from './sdp/index.js';
export type {
  SessionDescription,
  SdpMedia,
  SdpOrigin,
  SdpConnection,
  SdpTiming,
  SdpLine,
  SdpAttribute,
  SdpRtpMap,
  SdpFmtp,
  SdpRtcp,
  SdpDirection,
  G711CodecName,
  SdpOfferOptions,
  NegotiateSdpOptions,
  NegotiatedSdp,
} from './sdp/index.js';
export { buildDigestAuthorization } from './sip/digest.js';
export type { DigestAuthorization, DigestAuthorizationOptions, DigestHeaderName } from './sip/digest.js';
export {
  normalizePhoneNumber,
  isE164,
  validateCallerId,
  assertHeaderName,
  assertSafeHeaderValue,
  PROTECTED_HEADER_NAMES,
  MAX_HEADER_VALUE_LENGTH,
} from './sip/phone.js';
export type { NormalizePhoneNumberOptions, AssertHeaderNameOptions } from './sip/phone.js';
export { newCallId, newTag, newBranch, cryptoRandom, BRANCH_MAGIC_COOKIE } from './sip/ids.js';
export type { RandomSource } from './sip/ids.js';
export { buildExotelInvite, EXOTEL_ALLOW, EXOTEL_SUPPORTED } from './sip/invite.js';
export type { ExotelInviteOptions, ExotelInviteIds, ExotelTransport } from './sip/invite.js';

// --- SIP client (src/sip/client) ---
export { ExotelSipClient, OutboundCall, DEFAULT_RINGING_TIMEOUT_MS } from './sip/client.js';
export type {
  ExotelSipClientOptions,
  InviteOptions,
  CallState,
  CallEndReason,
  CallProgress,
  CallAnswer,
  CallEnded,
  MediaUpdate,
  CallInfo,
  OutboundCallEvents,
  SipClientStats,
  ExotelSipClientEvents,
  TrunkHealth,
} from './sip/client.js';
export { SipUserAgent } from './sip/user-agent.js';
export type {
  SipUserAgentOptions,
  UserAgentEvents,
  UaTransport,
  UaTransportEvents,
  UaTransportFactory,
  KeepaliveResult,
} from './sip/user-agent.js';
export { InboundCall } from './sip/invite-server.js';
export type { InboundCallState, InboundCallEvents, AcceptOptions } from './sip/invite-server.js';
export { CallSession } from './sip/session.js';
export type { SessionState, InDialogResult } from './sip/session.js';
export type { SessionEvents } from './sip/call-types.js';
export { DEFAULT_SIP_TIMERS, resolveSipTimers, systemTimerClock } from './sip/timers.js';
export type { TimerClock, TimerHandle, SipTimerValues } from './sip/timers.js';
export { FakeTimerClock } from './testing/fake-clock.js';
export type { SipTransportProtocol, SipTransportStats } from './sip/transport.js';
export {
  DEFAULT_MAX_SIP_MESSAGE_BYTES,
  DEFAULT_SIP_MESSAGE_TIMEOUT_MS,
  DEFAULT_SIP_INBOUND_IDLE_TIMEOUT_MS,
} from './sip/transport.js';

// --- media: codec and RTP (src/codec, src/rtp) ---
export {
  G711Codec,
  silenceByte,
  linearToMulaw,
  mulawToLinear,
  linearToAlaw,
  alawToLinear,
} from './codec/g711.js';
export type { G711Law } from './codec/g711.js';
export {
  Resampler,
  saturate16,
  int16ToFloat32,
  float32ToInt16,
  mixInt16,
  applyGainInt16,
  rmsInt16,
} from './codec/pcm.js';
export type { ResamplerOptions } from './codec/pcm.js';
export { uint16Add, uint16Diff, uint16Gt, uint32Add, uint32Diff, uint32Gt } from './rtp/seq.js';
export {
  RTP_HEADER_LENGTH,
  RtcpPacketType,
  createRtpHeader,
  parseRtpHeader,
  parseRtpPacket,
  serializeRtpPacket,
  writeRtpHeader,
  isRtcpPacket,
  parseRtcpHeader,
  parseRtcpReport,
} from './rtp/packet.js';
export type {
  RtpHeader,
  RtpPacket,
  RtpPacketInit,
  RtpHeaderFields,
  RtcpHeader,
  RtcpReport,
  RtcpReportBlock,
} from './rtp/packet.js';
export { JitterBuffer, LossConcealer } from './rtp/jitter.js';
export type {
  JitterBufferOptions,
  JitterBufferStats,
  JitterPacket,
  JitterPushResult,
  JitterOutput,
  JitterAudio,
  JitterLoss,
  JitterIdle,
  LossConcealerOptions,
} from './rtp/jitter.js';
export {
  DtmfSender,
  DtmfReceiver,
  encodeTelephoneEvent,
  decodeTelephoneEvent,
  dtmfDigitToEvent,
  eventToDtmfDigit,
} from './rtp/dtmf.js';
export type { TelephoneEvent, DtmfPacket, DtmfSenderOptions, DtmfReceiverOptions } from './rtp/dtmf.js';
export {
  goertzelPower,
  toneDominates,
  dominantFrequency,
  generateTone,
  generateDtmfTone,
  DTMF_FREQUENCIES,
} from './rtp/goertzel.js';
export type { SampleArray } from './rtp/goertzel.js';

// media I/O: RTP session over UDP, paced sender, statistics, RtpMediaBridge
export { systemClock } from './clock.js';
export { ManualClock } from './testing/fake-clock.js';
export type { Clock, TimerOptions } from './clock.js';
export { bindRtpPorts, DEFAULT_RTP_PORT_RANGE } from './rtp/port.js';
export type { RtpPortOptions, RtpPorts } from './rtp/port.js';
export { RtpReceptionStats } from './rtp/stats.js';
export type { RtpStats, SeqVerdict } from './rtp/stats.js';
export { RtpSession, DEFAULT_MEDIA_TIMEOUT_MS, DEFAULT_NO_MEDIA_TIMEOUT_MS } from './rtp/session.js';
export type {
  RtpSessionOptions,
  RtpSessionEvents,
  RtpSessionState,
  RtpRemote,
  RtpLocalAddress,
  RtpFirstPacketInfo,
  RtpAudioPacket,
  RtpDtmfEvent,
} from './rtp/session.js';
export { PacedScheduler, PacingHistogram, RtpPacketizer, getSharedScheduler } from './rtp/pacer.js';
export type {
  PacedSchedulerOptions,
  PacedSchedulerStats,
  PacerClient,
  PacerHandle,
  PacerTimers,
  PacingSummary,
  RtpPacketizerOptions,
  RtpPacketizerStats,
} from './rtp/pacer.js';
export { RtpMediaBridge } from './rtp/bridge.js';
export { MediaLatencyProbe, LatencyHistograms } from './rtp/latency-probe.js';
export type {
  RtpMediaBridgeOptions,
  RtpMediaBridgeEvents,
  RtpMediaBridgeState,
  RtpMediaBridgeStats,
  RtpMediaStartOptions,
  BridgeAudioFrame,
} from './rtp/bridge.js';

// --- LiveKit and runBridge ---
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
export { resolveConfig, loadConfigFromEnv, ENV_VARS, EXOTEL_DEFAULTS } from './config.js';
export type {
  BridgeConfig,
  ConfigInput,
  Env,
  ExotelSettings,
  ExotelTlsSettings,
  LiveKitSettings,
  SipTransportName,
} from './config.js';
export {
  createOutboundRoomName,
  agentTypeFromRoomName,
  placeOutboundCall,
  warmTransfer,
  hearsAgentsAndPhones,
} from './host.js';
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
// --- AgentStream: Exotel's WebSocket media stream (src/agentstream) ---
export { createAgentStreamServer, AgentStreamServer, CORRELATION_PARAM } from './agentstream/server.js';
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
export { connectStreamCall, EXOTEL_API_BASE_URLS } from './agentstream/connect-api.js';
export type {
  ExotelApiSettings,
  ConnectStreamRequest,
  ConnectStreamOptions,
  ConnectStreamResult,
  ConnectStatusCallbackEvent,
} from './agentstream/connect-api.js';
export { AgentStreamMedia } from './agentstream/media.js';
export type {
  AgentStreamLimits,
  AgentStreamStats,
  AgentStreamEnd as AgentStreamEndInfo,
  AgentStreamMediaEvents,
  StreamInterruption,
  StreamSocket,
  StreamSocketData,
} from './agentstream/media.js';
export { StreamAudioOut } from './agentstream/outbound-audio.js';
export {
  parseExotelEvent,
  parseBotEvent,
  decodePcm,
  encodePcm,
  mediaMessage,
  markMessage,
  clearMessage,
  ExotelEventWriter,
  STREAM_SAMPLE_RATES,
} from './agentstream/protocol.js';
export type {
  ExotelStreamEvent,
  BotStreamEvent,
  StreamStart,
  StreamSampleRate,
  StreamParseLimits,
} from './agentstream/protocol.js';
export {
  RPC_TRANSFER,
  RPC_HOLD,
  RPC_SEND_DTMF,
  RPC_CLEAR_AUDIO,
  CALL_CONTROL_ATTRIBUTE,
  mayControlCall,
} from './bridge-control.js';
export type { TransferInfo, HoldInfo } from './bridge-control.js';
export {
  transferCall,
  holdCall,
  sendCallDtmf,
  endCall,
  getCallHeaders,
  connectToCall,
} from './call-control-client.js';
export type { RemoteCall, ConnectToCallOptions } from './call-control-client.js';
export { RingbackTone, INDIA_RINGBACK } from './rtp/ringback.js';
export type { RingbackPattern } from './rtp/ringback.js';
export { estimateMos } from './rtp/quality.js';
export type { MosEstimate, MosInputs } from './rtp/quality.js';
export type { RtcpRemoteReport } from './rtp/rtcp-reporter.js';
export type { RtpDirection } from './rtp/bridge.js';
export type { ReferResult, ReferProgress, SipInfoDtmf } from './sip/call-types.js';
export type { AcceptInboundCallsOptions, InboundParty } from './inbound/host.js';
export type { InboundCredentials } from './sip/auth-server.js';
export type { PlaceOutboundCallOptions, PlacedCall, WarmTransferOptions } from './host.js';
export {
  isBridgeParticipant,
  waitForAudioReady,
  parseBridgeMetadata,
  BRIDGE_CALL_ID_PREFIX,
} from './agent.js';
export type { BridgeParticipantMetadata, WaitForAudioReadyOptions } from './agent.js';
export {
  PhoneParticipant,
  isAgentParticipant,
  RPC_END_CALL,
  RPC_GET_REMOTE_HEADERS,
  BRIDGE_SAMPLE_RATE,
} from './livekit/participant.js';
export type {
  PhoneParticipantOptions,
  PhoneParticipantEvents,
  ParticipantPredicate,
  AgentTrackInfo,
} from './livekit/participant.js';
export { createBridgeToken } from './livekit/token.js';
export type { BridgeTokenOptions } from './livekit/token.js';
export { FrameMixer } from './livekit/frame-mixer.js';
export { acquireSipClient, sharedSipClientCount } from './sip-client-pool.js';
export type { SipClientLease } from './sip-client-pool.js';
