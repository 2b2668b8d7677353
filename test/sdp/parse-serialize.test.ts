import { describe, expect, it } from 'vitest';

import { SipParseError } from '../../src/errors.js';
import { parseSdp } from '../../src/sdp/parse.js';
import { serializeSdp } from '../../src/sdp/serialize.js';
import { sdp, OUR_OFFER, EXOTEL_ANSWER, SIPP_ANSWER, BARESIP_ANSWER } from './fixtures.js';

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
