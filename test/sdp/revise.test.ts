/**
 * `reviseSdp` and `sessionVersionOf` (RFC 3264 §8 and §8.4: hold is our SDP with
 * `a=sendonly` and the next `o=` version, resume the same with `a=sendrecv`), and how the
 * answers to a held far end (or a held us) come out.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, SipParseError } from '../../src/errors.js';
import { createSdpAnswer, createSdpOffer } from '../../src/sdp/offer-answer.js';
import { negotiateSdp } from '../../src/sdp/negotiate.js';
import { parseSdp } from '../../src/sdp/parse.js';
import { reviseSdp, sessionVersionOf } from '../../src/sdp/text.js';
import { sdp } from './fixtures.js';

const OURS = createSdpOffer({ ip: '127.0.0.1', port: 40000, sessionId: 5, sessionVersion: 7 });
const FAR = createSdpOffer({ ip: '127.0.0.2', port: 41000, sessionId: 9, sessionVersion: 1 });

describe('reviseSdp', () => {
  it('hold: only the direction line and the version change', () => {
    expect(reviseSdp(OURS, { direction: 'sendonly', sessionVersion: 8n })).toBe(
      OURS.replace('a=sendrecv', 'a=sendonly').replace('o=- 5 7 ', 'o=- 5 8 '),
    );
    expect(sessionVersionOf(reviseSdp(OURS, { sessionVersion: 18446744073709551615n }))).toBe(
      18446744073709551615n,
    );
  });

  it('a session-level direction goes; rejected sections are left alone; a missing direction is added', () => {
    const text = sdp([
      'v=0',
      'o=- 1 1 IN IP4 10.0.0.1',
      's=-',
      'c=IN IP4 10.0.0.1',
      't=0 0',
      'a=recvonly',
      'm=audio 4000 RTP/AVP 0',
      'a=rtpmap:0 PCMU/8000',
      'm=video 0 RTP/AVP 96',
      'a=inactive',
    ]);
    const out = parseSdp(reviseSdp(text, { direction: 'sendonly' }));
    expect(out.direction).toBeUndefined();
    expect(out.attributes).toEqual([]);
    expect(out.media[0]!.direction).toBe('sendonly');
    expect(out.media[0]!.attributes.at(-1)).toEqual({ name: 'sendonly' });
    expect(out.media[1]!.direction).toBe('inactive');
  });

  it('refuses bad input with typed errors', () => {
    expect(() => reviseSdp('nonsense', { direction: 'sendonly' })).toThrow(SipParseError);
    expect(() => reviseSdp(OURS, { sessionVersion: -1n })).toThrow(ConfigError);
    expect(() => reviseSdp(OURS, { direction: 'sideways' as 'sendonly' })).toThrow(ConfigError);
    expect(() => sessionVersionOf(OURS.replace('o=- 5 7', 'o=- 5 x7'))).toThrow(SipParseError);
  });
});

describe('answers to hold (RFC 3264 §8.4) and what negotiateSdp tells the bridge', () => {
  it.each([
    ['sendonly', 'recvonly'],
    ['inactive', 'inactive'],
    ['recvonly', 'sendonly'],
    ['sendrecv', 'sendrecv'],
  ] as const)('the far end offers %s: we answer %s, and negotiated.direction says so', (theirs, ours) => {
    const offer = reviseSdp(FAR, { direction: theirs });
    const answer = createSdpAnswer(offer, OURS);
    expect(parseSdp(answer).media[0]!.direction).toBe(ours);
    expect(negotiateSdp(answer, offer, { allowHold: true }).direction).toBe(ours);
  });

  it('while we hold (our SDP sendonly), a sendrecv offer is answered sendonly and a sendonly one inactive', () => {
    const held = reviseSdp(OURS, { direction: 'sendonly', sessionVersion: 8n });
    expect(parseSdp(createSdpAnswer(FAR, held)).media[0]!.direction).toBe('sendonly');
    const farHold = reviseSdp(FAR, { direction: 'sendonly' });
    expect(parseSdp(createSdpAnswer(farHold, held)).media[0]!.direction).toBe('inactive');
  });

  it('our hold offer answered recvonly: negotiated from our side is sendonly', () => {
    const held = reviseSdp(OURS, { direction: 'sendonly', sessionVersion: 8n });
    const answer = createSdpAnswer(held, FAR);
    expect(parseSdp(answer).media[0]!.direction).toBe('recvonly');
    expect(negotiateSdp(held, answer, { allowHold: true })).toMatchObject({
      direction: 'sendonly',
      hold: false,
    });
  });
});
