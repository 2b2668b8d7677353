// The SDP module: model, parser, serializer, offer/answer and negotiation (RFC 8866,
// RFC 3264) for G.711 telephony. Knows nothing of SIP, RTP or LiveKit.
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
} from './model.js';
export {
  G711_STATIC_PAYLOAD_TYPES,
  G711_CLOCK_RATE,
  TELEPHONE_EVENT_ENCODING,
  DEFAULT_TELEPHONE_EVENT_PAYLOAD_TYPE,
  TELEPHONE_EVENT_FMTP,
  g711CodecOfStaticPayloadType,
} from './model.js';
export { parseSdp } from './parse.js';
export { serializeSdp } from './serialize.js';
export { createSdpOffer, createSdpAnswer } from './offer-answer.js';
export type { SdpOfferOptions } from './offer-answer.js';
export { negotiateSdp } from './negotiate.js';
export type { NegotiateSdpOptions, NegotiatedSdp } from './negotiate.js';
export { withSessionVersion, sdpMediaEndpoint, reviseSdp, sessionVersionOf } from './text.js';
export type { SdpRevision } from './text.js';
