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
  RtpTimeoutError,
  LiveKitConnectError,
  RoomNotFoundError,
  LiveKitError,
} from './errors.js';
export type { BridgeErrorCode, BridgeErrorOptions } from './errors.js';
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

// --- SIP client (src/sip/client) ---

// --- media: codec and RTP (src/codec, src/rtp) ---

// --- LiveKit and runBridge ---
