import { describe, expect, it } from 'vitest';

import { ConfigError, SdpNegotiationError } from '../../src/errors.js';
import { negotiateSdp } from '../../src/sdp/negotiate.js';
import { createSdpAnswer, createSdpOffer } from '../../src/sdp/offer-answer.js';
import { parseSdp } from '../../src/sdp/parse.js';
import { sdp, OUR_OFFER, OFFER_OPTIONS, EXOTEL_ANSWER } from './fixtures.js';

describe('createSdpOffer', () => {
  it('writes Exotel’s order: PCMA, PCMU, telephone-event 101 with 0-16, ptime 20, sendrecv', () => {
    expect(createSdpOffer(OFFER_OPTIONS)).toBe(OUR_OFFER);
  });

  it('advertises IPv6 with IN IP6', () => {
    expect(createSdpOffer({ ip: '2001:db8::10', port: 5004, sessionId: 7, sessionVersion: 8 })).toBe(
      sdp([
        'v=0',
        'o=- 7 8 IN IP6 2001:db8::10',
        's=-',
        'c=IN IP6 2001:db8::10',
        't=0 0',
        'm=audio 5004 RTP/AVP 8 0 101',
        'a=rtpmap:8 PCMA/8000',
        'a=rtpmap:0 PCMU/8000',
        'a=rtpmap:101 telephone-event/8000',
        'a=fmtp:101 0-16',
        'a=ptime:20',
        'a=sendrecv',
      ]),
    );
  });

  it('honours codecs, telephone-event, ptime, direction and names', () => {
    expect(
      createSdpOffer({
        ip: '192.0.2.1',
        port: 6000,
        codecs: ['PCMU'],
        telephoneEvent: false,
        ptime: 30,
        direction: 'recvonly',
        username: 'bridge',
        sessionName: 'call',
        sessionId: '1',
      }),
    ).toBe(
      sdp([
        'v=0',
        'o=bridge 1 1 IN IP4 192.0.2.1',
        's=call',
        'c=IN IP4 192.0.2.1',
        't=0 0',
        'm=audio 6000 RTP/AVP 0',
        'a=rtpmap:0 PCMU/8000',
        'a=ptime:30',
        'a=recvonly',
      ]),
    );
    expect(createSdpOffer({ ...OFFER_OPTIONS, telephoneEvent: 96 })).toContain(
      'm=audio 40000 RTP/AVP 8 0 96\r\n',
    );
  });

  it('draws the session id from the injected random source', () => {
    const offer = createSdpOffer({
      ip: '192.0.2.1',
      port: 6000,
      random: () => Uint8Array.of(0, 0, 0, 0, 1, 2),
    });
    expect(offer).toContain('o=- 258 258 IN IP4 192.0.2.1\r\n');
    expect(createSdpOffer({ ip: '192.0.2.1', port: 6000 })).toMatch(/^v=0\r\no=- (\d+) \1 IN IP4/);
  });

  it.each([
    ['a host name', { ip: 'localhost' }],
    ['an injected line', { ip: '192.0.2.1\r\na=evil' }],
    ['port 0', { port: 0 }],
    ['port 65536', { port: 65536 }],
    ['no codecs', { codecs: [] }],
    ['an unknown codec', { codecs: ['G729'] as unknown as ['PCMU'] }],
    ['duplicate codecs', { codecs: ['PCMU', 'PCMU'] as ['PCMU', 'PCMU'] }],
    ['a static telephone-event type', { telephoneEvent: 8 }],
    ['ptime 0', { ptime: 0 }],
    ['a non-numeric session id', { sessionId: 'abc' }],
    ['a username with a space', { username: 'a b' }],
    ['an unknown direction', { direction: 'both' as 'sendrecv' }],
  ])('refuses %s with ConfigError', (_what, patch) => {
    expect(() => createSdpOffer({ ...OFFER_OPTIONS, ...patch })).toThrow(ConfigError);
  });
});

describe('createSdpAnswer', () => {
  const LOCAL = { ip: '203.0.113.10', port: 40002, sessionId: '77' } as const;

  it('answers with the offer’s first codec we support and mirrors telephone-event', () => {
    const offer = sdp([
      'v=0',
      'o=- 5 5 IN IP4 198.51.100.20',
      's=-',
      'c=IN IP4 198.51.100.20',
      't=0 0',
      'm=audio 18432 RTP/AVP 18 0 8 96',
      'a=rtpmap:18 G729/8000',
      'a=rtpmap:96 telephone-event/8000',
      'a=fmtp:96 0-15',
    ]);
    expect(createSdpAnswer(offer, LOCAL)).toBe(
      sdp([
        'v=0',
        'o=- 77 77 IN IP4 203.0.113.10',
        's=-',
        'c=IN IP4 203.0.113.10',
        't=0 0',
        'm=audio 40002 RTP/AVP 0 96',
        'a=rtpmap:0 PCMU/8000',
        'a=rtpmap:96 telephone-event/8000',
        'a=fmtp:96 0-16',
        'a=ptime:20',
        'a=sendrecv',
      ]),
    );
    expect(createSdpAnswer(offer, { ...LOCAL, telephoneEvent: false })).toContain(
      'm=audio 40002 RTP/AVP 0\r\n',
    );
    expect(createSdpAnswer(offer, { ...LOCAL, codecs: ['PCMA'] })).toContain(
      'm=audio 40002 RTP/AVP 8 96\r\n',
    );
  });

  it('keeps the offer’s dynamic payload type for G.711', () => {
    const offer = sdp([
      'v=0',
      'o=- 5 5 IN IP4 198.51.100.20',
      's=-',
      'c=IN IP4 198.51.100.20',
      't=0 0',
      'm=audio 18432 RTP/AVP 97',
      'a=rtpmap:97 PCMA/8000',
    ]);
    const answer = createSdpAnswer(offer, LOCAL);
    expect(answer).toContain('m=audio 40002 RTP/AVP 97\r\na=rtpmap:97 PCMA/8000\r\n');
    expect(negotiateSdp(answer, offer)).toMatchObject({ codec: 'PCMA', payloadType: 97 });
  });

  it.each([
    ['sendonly', 'recvonly'],
    ['recvonly', 'sendonly'],
    ['inactive', 'inactive'],
    ['sendrecv', 'sendrecv'],
  ])('mirrors an offer that is %s with %s', (theirs, ours) => {
    const offer = EXOTEL_ANSWER.replace('a=sendrecv', `a=${theirs}`);
    expect(createSdpAnswer(offer, LOCAL).endsWith(`a=${ours}\r\n`)).toBe(true);
  });

  it('does not send to an RFC 2543 hold address', () => {
    const offer = EXOTEL_ANSWER.replace('c=IN IP4 198.51.100.20', 'c=IN IP4 0.0.0.0');
    expect(createSdpAnswer(offer, LOCAL).endsWith('a=recvonly\r\n')).toBe(true);
  });

  it('rejects other streams with port 0, keeping the m-line count and order', () => {
    const offer = sdp([
      'v=0',
      'o=- 5 5 IN IP4 198.51.100.20',
      's=-',
      'c=IN IP4 198.51.100.20',
      't=0 0',
      'm=video 5000 RTP/AVP 96',
      'a=rtpmap:96 H264/90000',
      'm=audio 6000 RTP/SAVP 0',
      'm=audio 7000 RTP/AVP 8',
    ]);
    const answer = parseSdp(createSdpAnswer(offer, LOCAL));
    expect(answer.media.map((m) => `${m.type} ${m.port} ${m.protocol} ${m.formats.join(' ')}`)).toEqual([
      'video 0 RTP/AVP 96',
      'audio 0 RTP/SAVP 0',
      'audio 40002 RTP/AVP 8',
    ]);
    // The offer has no telephone-event, so neither has the answer; rejected streams carry no attributes.
    expect(answer.media[0]!.attributes).toEqual([]);
  });

  it('reuses our previous SDP (address, port, codecs, o= line) and bumps the version', () => {
    const reinvite = EXOTEL_ANSWER.replace('a=sendrecv', 'a=sendonly');
    expect(createSdpAnswer(reinvite, OUR_OFFER)).toBe(
      sdp([
        'v=0',
        'o=- 3912345678 3912345679 IN IP4 203.0.113.10',
        's=-',
        'c=IN IP4 203.0.113.10',
        't=0 0',
        'm=audio 40000 RTP/AVP 8 101',
        'a=rtpmap:8 PCMA/8000',
        'a=rtpmap:101 telephone-event/8000',
        'a=fmtp:101 0-16',
        'a=ptime:20',
        'a=recvonly',
      ]),
    );
    expect(createSdpAnswer(reinvite, parseSdp(OUR_OFFER))).toBe(createSdpAnswer(reinvite, OUR_OFFER));
    // Session versions beyond 2^53 are incremented exactly.
    const big = OUR_OFFER.replace('3912345678 3912345678', '1 18446744073709551614');
    expect(createSdpAnswer(reinvite, big)).toContain('o=- 1 18446744073709551615 IN IP4');
  });

  it('answer and offer negotiate back to the same media', () => {
    const answer = createSdpAnswer(OUR_OFFER, {
      ip: '198.51.100.9',
      port: 30000,
      codecs: ['PCMU', 'PCMA'],
      sessionId: 1,
    });
    expect(negotiateSdp(OUR_OFFER, answer)).toMatchObject({
      remoteAddress: '198.51.100.9',
      remotePort: 30000,
      codec: 'PCMA',
      payloadType: 8,
      telephoneEventPayloadType: 101,
    });
  });

  it.each([
    ['only G.729', 'm=audio 6000 RTP/AVP 18'],
    ['only SRTP', 'm=audio 6000 RTP/SAVP 0'],
    ['a rejected audio stream', 'm=audio 0 RTP/AVP 0'],
    ['no audio', 'm=video 6000 RTP/AVP 31'],
  ])('throws SdpNegotiationError for an offer with %s', (_what, mLine) => {
    const offer = sdp([
      'v=0',
      'o=- 5 5 IN IP4 198.51.100.20',
      's=-',
      'c=IN IP4 198.51.100.20',
      't=0 0',
      mLine,
    ]);
    expect(() => createSdpAnswer(offer, LOCAL)).toThrow(SdpNegotiationError);
  });

  it('throws SdpNegotiationError when the offer has no c= for the stream', () => {
    const offer = sdp(['v=0', 'o=- 5 5 IN IP4 198.51.100.20', 's=-', 't=0 0', 'm=audio 6000 RTP/AVP 0']);
    expect(() => createSdpAnswer(offer, LOCAL)).toThrow(SdpNegotiationError);
  });
});

describe('codec preference (RFC 3264 §6.1: the answerer picks among the offered codecs)', () => {
  const LOCAL = { ip: '203.0.113.10', port: 40002, sessionId: '77' } as const;
  const offerWith = (formats: string): string =>
    sdp([
      'v=0',
      'o=- 5 5 IN IP4 198.51.100.20',
      's=-',
      'c=IN IP4 198.51.100.20',
      't=0 0',
      `m=audio 18432 RTP/AVP ${formats} 101`,
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
    ]);

  it('an offer lists the codecs in the order given', () => {
    expect(createSdpOffer({ ...LOCAL, codecs: ['PCMU', 'PCMA'] })).toContain(
      'm=audio 40002 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n',
    );
    expect(createSdpOffer({ ...LOCAL, codecs: ['PCMA', 'PCMU'] })).toContain(
      'm=audio 40002 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n',
    );
  });

  it("by default the answer follows the offerer's order", () => {
    const answer = createSdpAnswer(offerWith('0 8'), { ...LOCAL, codecs: ['PCMA', 'PCMU'] });
    expect(answer).toContain('m=audio 40002 RTP/AVP 0 101\r\n');
    expect(negotiateSdp(answer, offerWith('0 8'))).toMatchObject({ codec: 'PCMU', payloadType: 0 });
  });

  it("with codecPreference 'ours' the answer takes the first of our codecs that the offer has", () => {
    const ours = { ...LOCAL, codecs: ['PCMA', 'PCMU'] as const, codecPreference: 'ours' as const };
    const answer = createSdpAnswer(offerWith('0 8'), ours);
    expect(answer).toContain('m=audio 40002 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n');
    expect(negotiateSdp(answer, offerWith('0 8'))).toMatchObject({ codec: 'PCMA', payloadType: 8 });
    // our first choice absent: our next one that the offer has
    expect(createSdpAnswer(offerWith('18 0'), ours)).toContain('m=audio 40002 RTP/AVP 0 101\r\n');
    // nothing in common: still a negotiation error
    expect(() => createSdpAnswer(offerWith('18'), ours)).toThrow(SdpNegotiationError);
  });

  it('rejects an unknown codecPreference', () => {
    expect(() =>
      createSdpAnswer(offerWith('0'), { ...LOCAL, codecPreference: 'theirs' as unknown as 'ours' }),
    ).toThrow(ConfigError);
  });
});
