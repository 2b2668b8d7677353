/**
 * The pure parsers behind call control: `message/sipfrag` status lines (RFC 3420, as
 * REFER NOTIFYs carry them) and DTMF in INFO bodies (`application/dtmf-relay`,
 * `application/dtmf`). Both are total: odd input is "no status" / "malformed", never a throw.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isSipfragContentType, parseSipfrag } from '../../src/sip/sipfrag.js';
import { parseDtmfInfo } from '../../src/sip/dtmf-info.js';
import { parseSubscriptionState, referTarget } from '../../src/sip/refer.js';
import { InvalidHeaderError, InvalidPhoneNumberError } from '../../src/errors.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('parseSipfrag', () => {
  it.each([
    ['SIP/2.0 100 Trying\r\n', 100, 'Trying'],
    ['SIP/2.0 200 OK', 200, 'OK'],
    ['SIP/2.0 503 Service Unavailable\r\nRetry-After: 5\r\n\r\n', 503, 'Service Unavailable'],
    ['SIP/2.0 180 Ringing\n', 180, 'Ringing'],
    ['sip/2.0 603 Decline\r\n', 603, 'Decline'],
    ['SIP/2.0 200\r\n', 200, ''],
  ])('reads the status line of %j', (body, status, reason) => {
    expect(parseSipfrag(body)).toEqual({ status, reason });
    expect(parseSipfrag(bytes(body))).toEqual({ status, reason });
  });

  it.each([
    '',
    'INVITE sip:bob@example.com SIP/2.0\r\n',
    'SIP/2.0 99 Odd\r\n',
    'SIP/2.0 700 Beyond\r\n',
    'SIP/2.0 2000 OK',
    'SIP/3.0 200 OK',
    'HTTP/1.1 200 OK',
    'SIP/2.0 200 O\x00K',
    `SIP/2.0 200 ${'x'.repeat(300)}`,
  ])('no status in %j', (body) => {
    expect(parseSipfrag(body)).toBeUndefined();
  });

  it('never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
        const r = parseSipfrag(b);
        return r === undefined || (r.status >= 100 && r.status <= 699);
      }),
    );
  });

  it('knows message/sipfrag with or without parameters', () => {
    expect(isSipfragContentType('message/sipfrag')).toBe(true);
    expect(isSipfragContentType('Message/SipFrag;version=2.0')).toBe(true);
    expect(isSipfragContentType('application/sdp')).toBe(false);
    expect(isSipfragContentType('garbage')).toBe(false);
    expect(isSipfragContentType(undefined)).toBe(false);
  });
});

describe('parseSubscriptionState', () => {
  it('reads the state and the reason; absent or unknown is active', () => {
    expect(parseSubscriptionState('terminated;reason=noresource')).toEqual({
      state: 'terminated',
      reason: 'noresource',
    });
    expect(parseSubscriptionState('Active;expires=60')).toEqual({ state: 'active' });
    expect(parseSubscriptionState('pending')).toEqual({ state: 'pending' });
    expect(parseSubscriptionState(undefined)).toEqual({ state: 'active' });
    expect(parseSubscriptionState('whatever')).toEqual({ state: 'active' });
  });
});

describe('parseDtmfInfo', () => {
  it.each([
    ['application/dtmf-relay', 'Signal=5\r\nDuration=160\r\n', { kind: 'dtmf', digit: '5', durationMs: 160 }],
    ['application/dtmf-relay', 'signal = #\nduration= 250', { kind: 'dtmf', digit: '#', durationMs: 250 }],
    ['application/dtmf-relay', 'Signal=*', { kind: 'dtmf', digit: '*' }],
    ['application/dtmf-relay', 'Signal=11\r\nDuration=100', { kind: 'dtmf', digit: '#', durationMs: 100 }],
    ['application/dtmf-relay', 'Signal=10', { kind: 'dtmf', digit: '*' }],
    ['application/dtmf-relay', 'Signal=a\r\nX-Vendor=1', { kind: 'dtmf', digit: 'A' }],
    ['Application/DTMF-Relay; charset=utf-8', 'Signal=0', { kind: 'dtmf', digit: '0' }],
    ['application/dtmf', '7', { kind: 'dtmf', digit: '7' }],
    ['application/dtmf', ' D\r\n', { kind: 'dtmf', digit: 'D' }],
  ])('%s %j', (ct, body, expected) => {
    expect(parseDtmfInfo(ct, bytes(body))).toEqual(expected);
  });

  it.each([
    ['application/dtmf-relay', 'Signal=X'],
    ['application/dtmf-relay', 'Duration=160'],
    ['application/dtmf-relay', 'Signal=1\r\nSignal=2'],
    ['application/dtmf-relay', 'Signal=1\r\nDuration=abc'],
    ['application/dtmf-relay', 'Signal=1\r\nDuration=-5'],
    ['application/dtmf-relay', 'Signal=1\r\nDuration=9999999'],
    ['application/dtmf-relay', 'garbage'],
    ['application/dtmf-relay', ''],
    ['application/dtmf-relay', `Signal=1\r\n${'x=y\r\n'.repeat(100)}`],
    ['application/dtmf', '12345'],
    ['application/dtmf', ''],
  ])('%s %j is malformed', (ct, body) => {
    expect(parseDtmfInfo(ct, bytes(body)).kind).toBe('malformed');
  });

  it('other content types are not DTMF at all', () => {
    expect(parseDtmfInfo('application/sdp', bytes('Signal=5'))).toEqual({ kind: 'other' });
    expect(parseDtmfInfo(undefined, bytes('Signal=5'))).toEqual({ kind: 'other' });
    expect(parseDtmfInfo('nonsense', bytes('Signal=5'))).toEqual({ kind: 'other' });
  });

  it('never throws, whatever the body', () => {
    fc.assert(
      fc.property(fc.constantFrom('application/dtmf-relay', 'application/dtmf'), fc.uint8Array(), (ct, b) => {
        const r = parseDtmfInfo(ct, b);
        return r.kind !== 'other';
      }),
    );
  });
});

describe('referTarget', () => {
  it('a number goes to the trunk host; URIs are written back as parsed', () => {
    expect(referTarget('+919988776655', 'pstn.in1.exotel.com')).toBe('sip:+919988776655@pstn.in1.exotel.com');
    expect(referTarget('+919988776655', '2001:db8::1')).toBe('sip:+919988776655@[2001:db8::1]');
    expect(referTarget('SIP:agent@pbx.example.com:5080;transport=tcp', 'x')).toBe(
      'sip:agent@pbx.example.com:5080;transport=tcp',
    );
    expect(referTarget('sips:agent@pbx.example.com', 'x')).toBe('sips:agent@pbx.example.com');
  });

  it('refuses what could inject headers, with typed errors', () => {
    for (const t of ['sip:a@b\r\nX: y', 'sip:a@b>', 'sip:a<b@c', 'sip:a@b?X-Evil=1', 'tel:+91 98']) {
      expect(() => referTarget(t, 'x')).toThrow(InvalidHeaderError);
    }
    for (const t of ['+91<98>', 'bob@example.com', '<sip:a@b>']) {
      expect(() => referTarget(t, 'x')).toThrow(InvalidPhoneNumberError);
    }
  });
});
