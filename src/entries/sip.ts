/**
 * `exotel-livekit-bridge/sip`: the SIP layer on its own. The message layer (parser,
 * serializer, stream framing, headers, URIs), SDP offer/answer, digest auth, phone-number
 * and header validation, and the user agent with Exotel's trunk conventions
 * (`ExotelSipClient`). Pure TypeScript over Node's sockets: importing it loads no native code.
 *
 * @module exotel-livekit-bridge/sip
 */
// --- SIP message layer (src/sip) ---
export {
  SipHeaders,
  canonicalHeaderName,
  createRequest,
  createResponse,
  COMPACT_HEADER_NAMES,
  REASON_PHRASES,
} from '../sip/message.js';
export type { SipHeader, SipRequest, SipResponse, SipMessage } from '../sip/message.js';
export { parseSipMessage } from '../sip/parser.js';
export type { ParseSipMessageOptions } from '../sip/parser.js';
export { serializeSipMessage } from '../sip/serializer.js';
export { SipStreamFramer } from '../sip/framing.js';
export type { SipStreamFramerOptions, SipFramerBatch, SipKeepAliveKind } from '../sip/framing.js';
export { parseUri, formatUri } from '../sip/uri.js';
export type { SipUri, SipUriScheme } from '../sip/uri.js';
export { parseNameAddr, formatNameAddr } from '../sip/name-addr.js';
export type { NameAddr } from '../sip/name-addr.js';
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
} from '../sip/headers.js';
export type { Via, CSeq, ContentType, ContactValue, AuthChallenge, AddressHeader } from '../sip/headers.js';

// --- SDP (src/sdp) and SIP: digest auth, phone numbers, ids, Exotel INVITE (src/sip) ---
export { parseSdp, serializeSdp, createSdpOffer, createSdpAnswer, negotiateSdp } from '../sdp/index.js';
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
} from '../sdp/index.js';
export { buildDigestAuthorization } from '../sip/digest.js';
export type { DigestAuthorization, DigestAuthorizationOptions, DigestHeaderName } from '../sip/digest.js';
export {
  normalizePhoneNumber,
  isE164,
  validateCallerId,
  assertHeaderName,
  assertSafeHeaderValue,
  PROTECTED_HEADER_NAMES,
  MAX_HEADER_VALUE_LENGTH,
} from '../sip/phone.js';
export type { NormalizePhoneNumberOptions, AssertHeaderNameOptions } from '../sip/phone.js';
export { newCallId, newTag, newBranch, cryptoRandom, BRANCH_MAGIC_COOKIE } from '../sip/ids.js';
export type { RandomSource } from '../sip/ids.js';
export { buildExotelInvite, EXOTEL_ALLOW, EXOTEL_SUPPORTED } from '../sip/invite.js';
export type { ExotelInviteOptions, ExotelInviteIds, ExotelTransport } from '../sip/invite.js';

// --- SIP client (src/sip/client) ---
export { ExotelSipClient, OutboundCall, DEFAULT_RINGING_TIMEOUT_MS } from '../sip/client.js';
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
} from '../sip/client.js';
export { SipUserAgent } from '../sip/user-agent.js';
export type {
  SipUserAgentOptions,
  UserAgentEvents,
  UaTransport,
  UaTransportEvents,
  UaTransportFactory,
  KeepaliveResult,
} from '../sip/user-agent.js';
export { InboundCall } from '../sip/invite-server.js';
export type { InboundCallState, InboundCallEvents, AcceptOptions } from '../sip/invite-server.js';
export { CallSession } from '../sip/session.js';
export type { SessionState, InDialogResult } from '../sip/session.js';
export type { SessionEvents } from '../sip/call-types.js';
export { DEFAULT_SIP_TIMERS, resolveSipTimers, systemTimerClock } from '../sip/timers.js';
export type { TimerClock, TimerHandle, SipTimerValues } from '../sip/timers.js';
export type { SipTransportProtocol, SipTransportStats } from '../sip/transport.js';
export {
  DEFAULT_MAX_SIP_MESSAGE_BYTES,
  DEFAULT_SIP_MESSAGE_TIMEOUT_MS,
  DEFAULT_SIP_INBOUND_IDLE_TIMEOUT_MS,
} from '../sip/transport.js';

export { acquireSipClient, sharedSipClientCount } from '../sip-client-pool.js';
export type { SipClientLease, SipClientTuning } from '../sip-client-pool.js';
export type { ReferResult, ReferProgress, SipInfoDtmf } from '../sip/call-types.js';
export type { InboundCredentials } from '../sip/auth-server.js';
export type { SipFlow, SipTarget } from '../sip/flow.js';
export type { SipCredentials } from '../sip/auth.js';
export type { OutboundCallOptions } from '../sip/invite-client.js';
export type { ReferOptions } from '../sip/refer.js';
export type { CallSessionEvents } from '../sip/call-types.js';
export type { DialogUsage } from '../sip/ua-context.js';
