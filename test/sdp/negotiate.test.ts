import { describe, expect, it } from 'vitest';

import { SdpNegotiationError } from '../../src/errors.js';
import { negotiateSdp } from '../../src/sdp/negotiate.js';
import { createSdpOffer } from '../../src/sdp/offer-answer.js';
import { parseSdp } from '../../src/sdp/parse.js';
import { sdp, OUR_OFFER, OFFER_OPTIONS, EXOTEL_ANSWER, SIPP_ANSWER, BARESIP_ANSWER } from './fixtures.js';

describe('negotiateSdp', () => {
  it('Exotel-like answer: PCMA 8, telephone-event 101, ptime 20, sendrecv', () => {
    expect(negotiateSdp(OUR_OFFER, EXOTEL_ANSWER)).toEqual({
      remoteAddress: '198.51.100.20',
      remoteAddressType: 'IP4',
      remotePort: 18432,
      codec: 'PCMA',
      payloadType: 8,
      clockRate: 8000,
      telephoneEventPayloadType: 101,
      ptime: 20,
      direction: 'sendrecv',
      hold: false,
      rtcpMux: false,
    });
  });

  it('SIPp-like answer: static PCMU without rtpmap, no telephone-event, default ptime', () => {
    expect(negotiateSdp(OUR_OFFER, SIPP_ANSWER)).toEqual({
      remoteAddress: '127.0.0.1',
      remoteAddressType: 'IP4',
      remotePort: 6000,
      codec: 'PCMU',
      payloadType: 0,
      clockRate: 8000,
      ptime: 20,
      direction: 'sendrecv',
      hold: false,
      rtcpMux: false,
    });
  });

  it('baresip-like answer: PCMU with telephone-event, extra attributes ignored', () => {
    const n = negotiateSdp(OUR_OFFER, BARESIP_ANSWER);
    expect(n).toMatchObject({
      remotePort: 10004,
      codec: 'PCMU',
      payloadType: 0,
      telephoneEventPayloadType: 101,
      ptime: 20,
    });
  });

  it('takes parsed descriptions and bytes as well as text', () => {
    const expected = negotiateSdp(OUR_OFFER, EXOTEL_ANSWER);
    expect(negotiateSdp(parseSdp(OUR_OFFER), new TextEncoder().encode(EXOTEL_ANSWER))).toEqual(expected);
  });

  it('media-level c= overrides the session-level one', () => {
    const answer = sdp([
      'v=0',
      'o=- 1 1 IN IP4 198.51.100.1',
      's=-',
      'c=IN IP4 198.51.100.1',
      't=0 0',
      'm=audio 20000 RTP/AVP 0',
      'c=IN IP4 198.51.100.2',
    ]);
    expect(negotiateSdp(OUR_OFFER, answer)).toMatchObject({
      remoteAddress: '198.51.100.2',
      remotePort: 20000,
    });
  });

  it('uses a media-level c= when there is no session-level one, and IPv6', () => {
    const answer = sdp([
      'v=0',
      'o=- 1 1 IN IP6 2001:db8::5',
      's=-',
      't=0 0',
      'm=audio 20000 RTP/AVP 8',
      'c=IN IP6 2001:db8::6',
    ]);
    expect(negotiateSdp(OUR_OFFER, answer)).toMatchObject({
      remoteAddress: '2001:db8::6',
      remoteAddressType: 'IP6',
      codec: 'PCMA',
    });
  });

  it('honours dynamic payload types for telephone-event and G.711', () => {
    const answer = sdp([
      'v=0',
      'o=- 1 1 IN IP4 198.51.100.1',
      's=-',
      'c=IN IP4 198.51.100.1',
      't=0 0',
      'm=audio 20000 RTP/AVP 97 96',
      'a=rtpmap:97 pcmu/8000',
      'a=rtpmap:96 telephone-event/8000',
      'a=fmtp:96 0-15',
      'a=ptime:30',
    ]);
    expect(negotiateSdp(OUR_OFFER, answer)).toMatchObject({
      codec: 'PCMU',
      payloadType: 97,
      telephoneEventPayloadType: 96,
      ptime: 30,
    });
  });

  it('chooses the answer’s first codec that we offered', () => {
    const answer = sdp([
      'v=0',
      'o=- 1 1 IN IP4 198.51.100.1',
      's=-',
      'c=IN IP4 198.51.100.1',
      't=0 0',
      'm=audio 20000 RTP/AVP 18 0 8',
      'a=rtpmap:18 G729/8000',
    ]);
    expect(negotiateSdp(OUR_OFFER, answer)).toMatchObject({ codec: 'PCMU', payloadType: 0 });
    const pcmuOnlyOffer = createSdpOffer({ ...OFFER_OPTIONS, codecs: ['PCMU'] });
    const pcmaFirst = answer.replace('RTP/AVP 18 0 8', 'RTP/AVP 8 0');
    expect(negotiateSdp(pcmuOnlyOffer, pcmaFirst)).toMatchObject({ codec: 'PCMU', payloadType: 0 });
  });

  it('reports telephone-event only when we offered it too', () => {
    const noDtmf = createSdpOffer({ ...OFFER_OPTIONS, telephoneEvent: false });
    expect(negotiateSdp(noDtmf, EXOTEL_ANSWER).telephoneEventPayloadType).toBeUndefined();
  });

  it('records a=rtcp with and without an address', () => {
    const withAddress = EXOTEL_ANSWER.replace(
      'a=ptime:20\r\n',
      'a=ptime:20\r\na=rtcp:18500 IN IP4 198.51.100.21\r\n',
    );
    expect(negotiateSdp(OUR_OFFER, withAddress)).toMatchObject({
      rtcpPort: 18500,
      rtcpAddress: '198.51.100.21',
    });
    const portOnly = EXOTEL_ANSWER.replace('a=ptime:20\r\n', 'a=ptime:20\r\na=rtcp:18433\r\na=rtcp-mux\r\n');
    const n = negotiateSdp(OUR_OFFER, portOnly);
    expect(n.rtcpPort).toBe(18433);
    expect(n.rtcpAddress).toBeUndefined();
    expect(n.rtcpMux).toBe(true);
  });

  it('reports the direction from our side', () => {
    const withDir = (dir: string): string => EXOTEL_ANSWER.replace('a=sendrecv', `a=${dir}`);
    expect(negotiateSdp(OUR_OFFER, withDir('recvonly'))).toMatchObject({
      direction: 'sendonly',
      hold: false,
    });
    expect(negotiateSdp(OUR_OFFER, withDir('sendonly'))).toMatchObject({ direction: 'recvonly', hold: true });
    const listenOnly = createSdpOffer({ ...OFFER_OPTIONS, direction: 'recvonly' });
    expect(negotiateSdp(listenOnly, EXOTEL_ANSWER)).toMatchObject({ direction: 'recvonly', hold: false });
    // A session-level direction applies when the media section has none.
    const sessionLevel = SIPP_ANSWER.replace('t=0 0\r\n', 't=0 0\r\na=sendonly\r\n');
    expect(negotiateSdp(OUR_OFFER, sessionLevel).direction).toBe('recvonly');
  });

  it('with allowHold, reports inactive and the RFC 2543 0.0.0.0 hold instead of throwing', () => {
    const inactive = EXOTEL_ANSWER.replace('a=sendrecv', 'a=inactive');
    expect(negotiateSdp(OUR_OFFER, inactive, { allowHold: true })).toMatchObject({
      direction: 'inactive',
      hold: true,
    });
    const zero = EXOTEL_ANSWER.replace('c=IN IP4 198.51.100.20', 'c=IN IP4 0.0.0.0');
    expect(negotiateSdp(OUR_OFFER, zero, { allowHold: true })).toMatchObject({
      remoteAddress: '0.0.0.0',
      direction: 'recvonly',
      hold: true,
    });
  });

  const answerWith = (mLine: string, extra: readonly string[] = [], conn = 'c=IN IP4 198.51.100.1'): string =>
    sdp(['v=0', 'o=- 1 1 IN IP4 198.51.100.1', 's=-', ...(conn ? [conn] : []), 't=0 0', mLine, ...extra]);
  it.each([
    ['port 0 (stream rejected)', answerWith('m=audio 0 RTP/AVP 0'), /port 0/],
    [
      'no common codec',
      answerWith('m=audio 20000 RTP/AVP 18 9', ['a=rtpmap:18 G729/8000']),
      /no common codec/,
    ],
    [
      'G.711 at another clock rate',
      answerWith('m=audio 20000 RTP/AVP 96', ['a=rtpmap:96 PCMU/16000']),
      /no common codec/,
    ],
    ['inactive', answerWith('m=audio 20000 RTP/AVP 0', ['a=inactive']), /inactive/],
    ['a 0.0.0.0 hold', answerWith('m=audio 20000 RTP/AVP 0', [], 'c=IN IP4 0.0.0.0'), /0\.0\.0\.0/],
    ['a missing c=', answerWith('m=audio 20000 RTP/AVP 0', [], ''), /no c= line/],
    ['no audio section', answerWith('m=video 20000 RTP/AVP 31'), /no audio/],
    ['SRTP', answerWith('m=audio 20000 RTP/SAVP 0'), /protocol/],
    ['a multicast address', answerWith('m=audio 20000 RTP/AVP 0', [], 'c=IN IP4 224.2.1.1/127'), /multicast/],
    ['an unknown address type', answerWith('m=audio 20000 RTP/AVP 0', [], 'c=IN IPX 1'), /address type/],
  ])('throws SdpNegotiationError for %s', (_what, answer, message) => {
    expect(() => negotiateSdp(OUR_OFFER, answer)).toThrow(SdpNegotiationError);
    expect(() => negotiateSdp(OUR_OFFER, answer)).toThrow(message);
  });

  it('throws when our own SDP has no audio', () => {
    expect(() => negotiateSdp(SIPP_ANSWER.replace('m=audio', 'm=video'), EXOTEL_ANSWER)).toThrow(
      SdpNegotiationError,
    );
  });
});
