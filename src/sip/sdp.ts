/**
 * Transitional shim: SDP moved to `src/sdp/`. `src/sip/client.ts` still imports from
 * here; once it imports `../sdp/*.js` directly this file is deleted. New code imports
 * `src/sdp/` (the SIP layer may use SDP; SDP never uses SIP).
 */
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
} from '../sdp/model.js';
export { parseSdp } from '../sdp/parse.js';
export { serializeSdp } from '../sdp/serialize.js';
export { createSdpOffer, createSdpAnswer } from '../sdp/offer-answer.js';
export type { SdpOfferOptions } from '../sdp/offer-answer.js';
export { negotiateSdp } from '../sdp/negotiate.js';
export type { NegotiateSdpOptions, NegotiatedSdp } from '../sdp/negotiate.js';
export { withSessionVersion, sdpMediaEndpoint } from '../sdp/text.js';
