/** SDP fixtures shared by the test/sdp tests: our offer and the answers of real peers. */
import type { SdpOfferOptions } from '../../src/sdp/offer-answer.js';

/** An SDP from its lines, CRLF-terminated. */
export const sdp = (lines: readonly string[]): string => lines.join('\r\n') + '\r\n';

/** Our default offer's lines (what the client sends to Exotel), and the offer itself. */
export const OUR_OFFER_LINES: readonly string[] = [
  'v=0',
  'o=- 3912345678 3912345678 IN IP4 203.0.113.10',
  's=-',
  'c=IN IP4 203.0.113.10',
  't=0 0',
  'm=audio 40000 RTP/AVP 8 0 101',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=ptime:20',
  'a=sendrecv',
];
export const OUR_OFFER = sdp(OUR_OFFER_LINES);
export const OFFER_OPTIONS: SdpOfferOptions = { ip: '203.0.113.10', port: 40000, sessionId: '3912345678' };

export const EXOTEL_ANSWER = sdp([
  'v=0',
  'o=- 1732512000 1732512001 IN IP4 198.51.100.20',
  's=Exotel',
  'c=IN IP4 198.51.100.20',
  't=0 0',
  'm=audio 18432 RTP/AVP 8 101',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=ptime:20',
  'a=sendrecv',
]);

export const SIPP_ANSWER = sdp([
  'v=0',
  'o=user1 53655765 2353687637 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 6000 RTP/AVP 0',
]);

export const BARESIP_ANSWER = sdp([
  'v=0',
  'o=- 2890844526 2890844527 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'a=tool:baresip 1.0.0',
  'm=audio 10004 RTP/AVP 0 101',
  'b=AS:64',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=sendrecv',
  'a=label:1',
  'a=ssrc:3133153245 cname:sip:uas@127.0.0.1',
  'a=rtcp-rsize',
  'a=ptime:20',
]);
