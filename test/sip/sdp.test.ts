import { describe, expect, it } from 'vitest';

import { ConfigError, SdpNegotiationError, SipParseError } from '../../src/errors.js';
import {
  createSdpAnswer,
  createSdpOffer,
  negotiateSdp,
  parseSdp,
  serializeSdp,
  type SdpOfferOptions,
} from '../../src/sip/sdp.js';

const sdp = (lines: readonly string[]): string => lines.join('\r\n') + '\r\n';

/** Our default offer (what the client sends to Exotel). */
const OUR_OFFER = sdp([
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
]);
const OFFER_OPTIONS: SdpOfferOptions = { ip: '203.0.113.10', port: 40000, sessionId: '3912345678' };

const EXOTEL_ANSWER = sdp([
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

const SIPP_ANSWER = sdp([
  'v=0',
  'o=user1 53655765 2353687637 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 6000 RTP/AVP 0',
]);

const BARESIP_ANSWER = sdp([
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

describe('parseSdp', () => {
  it('parses the structural lines and typed attributes of an Exotel-like answer', () => {
    const d = parseSdp(EXOTEL_ANSWER);
    expect(d.version).toBe(0);
    expect(d.origin).toEqual({
      username: '-',
      sessionId: '1732512000',
      sessionVersion: '1732512001',
      netType: 'IN',
      addrType: 'IP4',
      address: '198.51.100.20',
    });
    expect(d.sessionName).toBe('Exotel');
    expect(d.connection).toEqual({ netType: 'IN', addrType: 'IP4', address: '198.51.100.20' });
    expect(d.timing).toEqual([{ start: '0', stop: '0', repeats: [] }]);
    expect(d.media).toHaveLength(1);
    const m = d.media[0]!;
    expect(m.type).toBe('audio');
    expect(m.port).toBe(18432);
    expect(m.protocol).toBe('RTP/AVP');
    expect(m.formats).toEqual(['8', '101']);
    expect(m.rtpmaps).toEqual([
      { payloadType: 8, encoding: 'PCMA', clockRate: 8000 },
      { payloadType: 101, encoding: 'telephone-event', clockRate: 8000 },
    ]);
    expect(m.fmtps).toEqual([{ format: '101', params: '0-16' }]);
    expect(m.ptime).toBe(20);
    expect(m.direction).toBe('sendrecv');
    expect(m.rtcpMux).toBe(false);
    expect(m.connection).toBeUndefined();
  });

  it('reads rtcp, rtcp-mux, maxptime, channels, unknown attributes and other lines', () => {
    const d = parseSdp(
      sdp([
        'v=0',
        'o=alice 1 2 IN IP6 2001:db8::1',
        's= ',
        'i=a call',
        'c=IN IP6 2001:db8::1',
        'b=CT:128',
        't=3034423619 3042462419',
        'r=604800 3600 0 90000',
        'a=recvonly',
        'm=audio 49170/2 RTP/AVP 96 97',
        'i=voice',
        'c=IN IP6 2001:db8::2',
        'b=AS:80',
        'a=rtpmap:96 opus/48000/2',
        'a=rtpmap:97 PCMU/8000/1',
        'a=fmtp:96 minptime=10;useinbandfec=1',
        'a=maxptime:40',
        'a=rtcp:53021 IN IP6 2001:db8::3',
        'a=rtcp-mux',
        'a=x-custom:some value',
        'a=inactive',
        'm=video 0 RTP/AVP 31',
      ]),
    );
    expect(d.sessionName).toBe(' ');
    expect(d.lines).toEqual([
      { type: 'i', value: 'a call' },
      { type: 'b', value: 'CT:128' },
    ]);
    expect(d.timing).toEqual([{ start: '3034423619', stop: '3042462419', repeats: ['604800 3600 0 90000'] }]);
    expect(d.direction).toBe('recvonly');
    const m = d.media[0]!;
    expect(m.port).toBe(49170);
    expect(m.portCount).toBe(2);
    expect(m.connection).toEqual({ netType: 'IN', addrType: 'IP6', address: '2001:db8::2' });
    expect(m.lines).toEqual([
      { type: 'i', value: 'voice' },
      { type: 'b', value: 'AS:80' },
    ]);
    expect(m.rtpmaps).toEqual([
      { payloadType: 96, encoding: 'opus', clockRate: 48000, channels: 2 },
      { payloadType: 97, encoding: 'PCMU', clockRate: 8000, channels: 1 },
    ]);
    expect(m.fmtps).toEqual([{ format: '96', params: 'minptime=10;useinbandfec=1' }]);
    expect(m.maxptime).toBe(40);
    expect(m.ptime).toBeUndefined();
    expect(m.rtcp).toEqual({ port: 53021, netType: 'IN', addrType: 'IP6', address: '2001:db8::3' });
    expect(m.rtcpMux).toBe(true);
    expect(m.direction).toBe('inactive');
    expect(m.attributes).toContainEqual({ name: 'x-custom', value: 'some value' });
    expect(d.media[1]).toMatchObject({ type: 'video', port: 0, formats: ['31'] });
    expect(d.media[1]!.direction).toBeUndefined();
  });

  it('accepts bare LF line ends, blank lines and bytes', () => {
    const lf = [
      'v=0',
      'o=- 1 1 IN IP4 192.0.2.1',
      's=-',
      '',
      'c=IN IP4 192.0.2.1',
      't=0 0',
      'm=audio 5004 RTP/AVP 0',
      '',
    ].join('\n');
    const fromText = parseSdp(lf);
    expect(fromText.media[0]!.port).toBe(5004);
    expect(parseSdp(new TextEncoder().encode(lf))).toEqual(fromText);
  });

  it('tolerates trailing blanks after a flag attribute', () => {
    const d = parseSdp(
      sdp([
        'v=0',
        'o=- 1 1 IN IP4 192.0.2.1',
        's=-',
        't=0 0',
        'm=audio 5004 RTP/AVP 0',
        'a=sendonly ',
        'a=ptime:30 ',
      ]),
    );
    expect(d.media[0]!.direction).toBe('sendonly');
    expect(d.media[0]!.ptime).toBe(30);
  });

  it('keeps malformed values of known attributes but leaves them out of the typed views', () => {
    const d = parseSdp(
      sdp([
        'v=0',
        'o=- 1 1 IN IP4 192.0.2.1',
        's=-',
        't=0 0',
        'm=audio 5004 RTP/AVP 0',
        'a=rtpmap:zero PCMU',
        'a=ptime:abc',
        'a=rtcp:99999',
      ]),
    );
    const m = d.media[0]!;
    expect(m.rtpmaps).toEqual([]);
    expect(m.ptime).toBeUndefined();
    expect(m.rtcp).toBeUndefined();
    expect(m.attributes).toEqual([
      { name: 'rtpmap', value: 'zero PCMU' },
      { name: 'ptime', value: 'abc' },
      { name: 'rtcp', value: '99999' },
    ]);
  });

  const base = ['o=- 1 1 IN IP4 192.0.2.1', 's=-', 't=0 0'];
  it.each([
    ['an empty description', ''],
    ['a missing v= line', sdp(base)],
    ['version 1', sdp(['v=1', ...base])],
    ['a missing o= line', sdp(['v=0', 's=-', 't=0 0'])],
    ['an o= line with 5 fields', sdp(['v=0', 'o=- 1 IN IP4 192.0.2.1', 's=-'])],
    ['a line without "="', sdp(['v=0', ...base, 'garbage'])],
    ['an upper-case type', sdp(['v=0', ...base, 'A=sendrecv'])],
    ['a c= line with 2 fields', sdp(['v=0', ...base, 'c=IN 192.0.2.1'])],
    [
      'two session c= lines',
      sdp(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 'c=IN IP4 192.0.2.2']),
    ],
    ['two s= lines', sdp(['v=0', ...base, 's=again'])],
    ['a second v= line', sdp(['v=0', ...base, 'v=0'])],
    ['a non-numeric t= line', sdp(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 't=now later'])],
    ['r= before t=', sdp(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'r=1 2 3'])],
    ['an m= line with a bad port', sdp(['v=0', ...base, 'm=audio x RTP/AVP 0'])],
    ['an m= port above 65535', sdp(['v=0', ...base, 'm=audio 70000 RTP/AVP 0'])],
    ['an m= line with 2 fields', sdp(['v=0', ...base, 'm=audio 5004'])],
    ['s= inside a media section', sdp(['v=0', ...base, 'm=audio 5004 RTP/AVP 0', 's=x'])],
    [
      'two c= lines in a media section',
      sdp(['v=0', ...base, 'm=audio 5004 RTP/AVP 0', 'c=IN IP4 1.2.3.4', 'c=IN IP4 1.2.3.5']),
    ],
    ['an attribute without a name', sdp(['v=0', ...base, 'a=:x'])],
    ['a stray CR inside a line', sdp(['v=0', 'o=- 1\r1 1 IN IP4 192.0.2.1', 's=-'])],
    ['a NUL inside a line', sdp(['v=0', ...base, 'a=tool:x\u0000y'])],
  ])('refuses %s with SipParseError (header SDP)', (_what, text) => {
    try {
      parseSdp(text);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SipParseError);
      expect((err as SipParseError).header).toBe('SDP');
      expect((err as SipParseError).code).toBe('SIP_PARSE');
    }
  });
});

describe('serializeSdp', () => {
  it.each([
    ['our offer', OUR_OFFER],
    ['an Exotel-like answer', EXOTEL_ANSWER],
    ['a SIPp-like answer', SIPP_ANSWER],
    ['a baresip-like answer', BARESIP_ANSWER],
  ])('round-trips %s byte for byte', (_what, text) => {
    expect(serializeSdp(parseSdp(text))).toBe(text);
  });

  it('round-trips every line type in RFC order', () => {
    const text = sdp([
      'v=0',
      'o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5',
      's=SDP Seminar',
      'i=A Seminar on the session description protocol',
      'u=http://www.example.com/seminars/sdp.pdf',
      'e=j.doe@example.com (Jane Doe)',
      'p=+1 617 555-6011',
      'c=IN IP4 224.2.17.12/127',
      'b=CT:1000',
      't=2873397496 2873404696',
      'r=7d 1h 0 25h',
      'z=2882844526 -1h 2898848070 0',
      'k=prompt',
      'a=recvonly',
      'm=audio 49170 RTP/AVP 0',
      'i=audio',
      'c=IN IP4 224.2.17.13/127',
      'b=AS:64',
      'k=prompt',
      'a=ptime:30',
      'm=application 32416 udp wb',
      'a=orient:portrait',
    ]);
    expect(serializeSdp(parseSdp(text))).toBe(text);
  });

  it('normalizes LF line ends to CRLF', () => {
    const lf = SIPP_ANSWER.replace(/\r\n/g, '\n');
    expect(serializeSdp(parseSdp(lf))).toBe(SIPP_ANSWER);
  });

  it('refuses a field holding CR or LF', () => {
    const d = parseSdp(SIPP_ANSWER);
    d.sessionName = 'x\r\nm=audio 1 RTP/AVP 0';
    expect(() => serializeSdp(d)).toThrow(SipParseError);
  });
});

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
