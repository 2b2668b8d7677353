import { describe, expect, it } from 'vitest';

import { ConfigError, SipParseError } from '../../src/errors.js';
import { createSdpOffer } from '../../src/sdp/offer-answer.js';
import { parseSdp } from '../../src/sdp/parse.js';
import { sdpMediaEndpoint, withSessionVersion } from '../../src/sdp/text.js';
import { OUR_OFFER, sdp } from './fixtures.js';

describe('withSessionVersion', () => {
  it('adds bump to the o= session version and changes nothing else', () => {
    const out = withSessionVersion(OUR_OFFER, 2);
    expect(out).toBe(OUR_OFFER.replace('o=- 3912345678 3912345678 ', 'o=- 3912345678 3912345680 '));
  });

  it('a bump of 0 gives the same SDP back (RFC-order input round-trips)', () => {
    expect(withSessionVersion(OUR_OFFER, 0)).toBe(OUR_OFFER);
  });

  it('is BigInt-safe: a 64-bit version does not lose precision', () => {
    const offer = createSdpOffer({
      ip: '192.0.2.1',
      port: 4000,
      sessionId: '1',
      sessionVersion: '18446744073709551615',
    });
    const out = withSessionVersion(offer, 1);
    expect(parseSdp(out).origin.sessionVersion).toBe('18446744073709551616');
    expect(parseSdp(out).origin.sessionId).toBe('1');
  });

  it('edits only the o= line even when another line holds the same digits', () => {
    const text = sdp(['v=0', 'o=- 7 7 IN IP4 192.0.2.1', 's=7', 'c=IN IP4 192.0.2.1', 't=0 0', 'a=x:7 7']);
    expect(withSessionVersion(text, 1)).toBe(text.replace('o=- 7 7 ', 'o=- 7 8 '));
  });

  it('writes CRLF line ends for an LF-only input', () => {
    const lf = OUR_OFFER.replace(/\r\n/g, '\n');
    expect(withSessionVersion(lf, 1)).toBe(withSessionVersion(OUR_OFFER, 1));
  });

  it('throws SipParseError for a malformed SDP or a non-numeric version', () => {
    expect(() => withSessionVersion('hello', 1)).toThrow(SipParseError);
    const text = sdp(['v=0', 'o=- 1 v2 IN IP4 192.0.2.1', 's=-', 't=0 0']);
    expect(() => withSessionVersion(text, 1)).toThrow(SipParseError);
  });

  it('throws ConfigError for a fractional bump or one that would go below zero', () => {
    expect(() => withSessionVersion(OUR_OFFER, 1.5)).toThrow(ConfigError);
    expect(() => withSessionVersion(OUR_OFFER, -3912345679)).toThrow(ConfigError);
    expect(parseSdp(withSessionVersion(OUR_OFFER, -3912345678)).origin.sessionVersion).toBe('0');
  });
});

describe('sdpMediaEndpoint', () => {
  it('is "<c= address>:<m=audio port>"', () => {
    expect(sdpMediaEndpoint(OUR_OFFER)).toBe('203.0.113.10:40000');
  });

  it('prefers the audio section’s own c= over the session’s', () => {
    const text = sdp([
      'v=0',
      'o=- 1 1 IN IP4 192.0.2.1',
      's=-',
      'c=IN IP4 192.0.2.1',
      't=0 0',
      'm=video 0 RTP/AVP 96',
      'm=audio 5004 RTP/AVP 0',
      'c=IN IP4 198.51.100.7',
    ]);
    expect(sdpMediaEndpoint(text)).toBe('198.51.100.7:5004');
  });

  it('writes IPv6 addresses as they are in c=', () => {
    expect(sdpMediaEndpoint(createSdpOffer({ ip: '2001:db8::1', port: 7000 }))).toBe('2001:db8::1:7000');
  });

  it('is undefined for an unparsable SDP, no audio section or no c= line', () => {
    expect(sdpMediaEndpoint('')).toBeUndefined();
    expect(sdpMediaEndpoint('not sdp')).toBeUndefined();
    expect(sdpMediaEndpoint(sdp(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 't=0 0']))).toBeUndefined();
    expect(
      sdpMediaEndpoint(sdp(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 't=0 0', 'm=audio 5004 RTP/AVP 0'])),
    ).toBeUndefined();
  });
});
