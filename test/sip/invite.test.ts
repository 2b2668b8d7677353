import { describe, expect, it } from 'vitest';

import { ConfigError, InvalidHeaderError, InvalidPhoneNumberError } from '../../src/errors.js';
import { getCallId, getCSeq, getFrom, getTo, getTopVia } from '../../src/sip/headers.js';
import { newBranch, newCallId, newTag, type RandomSource } from '../../src/sip/ids.js';
import { buildExotelInvite, type ExotelInviteOptions } from '../../src/sip/invite.js';
import { parseSipMessage } from '../../src/sip/parser.js';
import { createSdpOffer } from '../../src/sdp/offer-answer.js';
import { serializeSipMessage } from '../../src/sip/serializer.js';
import { VERSION } from '../../src/version.js';
import { OUR_OFFER_LINES } from '../sdp/fixtures.js';

const CRLF = '\r\n';

const SDP_LINES = OUR_OFFER_LINES;
const SDP = SDP_LINES.join(CRLF) + CRLF;

const BASE: ExotelInviteOptions = {
  to: '+91 98765 43210',
  sipHost: 'pstn.in1.exotel.com',
  sipPort: 5070,
  transport: 'tcp',
  customerIp: '203.0.113.10',
  customerSipPort: 5061,
  callerId: '08044319240',
  fromDomain: 'acme1.sip.exotel.com',
  sdp: SDP,
  ids: {
    callId: '6f1c2a3b4d5e6f708192a3b4c5d6e7f8@203.0.113.10',
    fromTag: '9a8b7c6d5e4f3a2b',
    branch: 'z9hG4bK1a2b3c4d5e6f708192a3b4c5',
    cseq: 1,
  },
};

const text = (opts: ExotelInviteOptions): string =>
  new TextDecoder().decode(serializeSipMessage(buildExotelInvite(opts)));

describe('buildExotelInvite', () => {
  it('produces Exotel’s INVITE byte for byte', () => {
    expect(SDP.length).toBe(238);
    const expected = [
      'INVITE sip:+919876543210@pstn.in1.exotel.com:5070 SIP/2.0',
      'Via: SIP/2.0/TCP 203.0.113.10:5061;branch=z9hG4bK1a2b3c4d5e6f708192a3b4c5;rport',
      'Max-Forwards: 70',
      'From: <sip:08044319240@acme1.sip.exotel.com>;tag=9a8b7c6d5e4f3a2b',
      'To: <sip:+919876543210@pstn.in1.exotel.com>',
      'Call-ID: 6f1c2a3b4d5e6f708192a3b4c5d6e7f8@203.0.113.10',
      'CSeq: 1 INVITE',
      'Contact: <sip:08044319240@203.0.113.10:5061;transport=tcp>',
      'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, NOTIFY',
      'Supported: replaces, timer',
      `User-Agent: exotel-livekit-bridge/${VERSION}`,
      'X-Exotel-AccountSid: acme1',
      'X-Crm-Id: lead-42',
      'X-Lk-Room: support room 7',
      'Content-Type: application/sdp',
      'Content-Length: 238',
      '',
      ...SDP_LINES,
      '',
    ].join(CRLF);
    expect(
      text({
        ...BASE,
        accountSid: 'acme1',
        extraHeaders: { 'X-Crm-Id': 'lead-42', 'X-Lk-Room': 'support room 7' },
      }),
    ).toBe(expected);
  });

  it('matches the SDP builder’s output', () => {
    expect(createSdpOffer({ ip: '203.0.113.10', port: 40000, sessionId: '3912345678' })).toBe(SDP);
  });

  it('follows the transport in Via and Contact, and optionally in the Request-URI', () => {
    const udp = text({ ...BASE, transport: 'udp' });
    expect(udp).toContain('Via: SIP/2.0/UDP 203.0.113.10:5061;branch=');
    expect(udp).toContain('Contact: <sip:08044319240@203.0.113.10:5061;transport=udp>');
    const tls = text({ ...BASE, transport: 'tls', sipPort: 443, uriTransportParam: true });
    expect(tls.startsWith('INVITE sip:+919876543210@pstn.in1.exotel.com:443;transport=tls SIP/2.0\r\n')).toBe(
      true,
    );
    expect(tls).toContain('Via: SIP/2.0/TLS 203.0.113.10:5061;');
    expect(tls).toContain('Contact: <sip:08044319240@203.0.113.10:5061;transport=tls>');
    expect(text({ ...BASE, uriTransportParam: true }).split(CRLF)[0]).toBe(
      'INVITE sip:+919876543210@pstn.in1.exotel.com:5070;transport=tcp SIP/2.0',
    );
  });

  it('writes IPv6 addresses in brackets', () => {
    const v6 = text({ ...BASE, customerIp: '2001:db8::10', sipHost: '[2001:db8::1]' });
    expect(v6.split(CRLF)[0]).toBe('INVITE sip:+919876543210@[2001:db8::1]:5070 SIP/2.0');
    expect(v6).toContain('Via: SIP/2.0/TCP [2001:db8::10]:5061;branch=');
    expect(v6).toContain('Contact: <sip:08044319240@[2001:db8::10]:5061;transport=tcp>');
    expect(v6).toContain('To: <sip:+919876543210@[2001:db8::1]>');
  });

  it('honours userAgent, maxForwards, cseq and the default country code', () => {
    const t = text({
      ...BASE,
      to: '(415) 555-0100',
      defaultCountryCode: '1',
      userAgent: 'my-app/2',
      maxForwards: 10,
      ids: { ...BASE.ids, cseq: 7 },
    });
    expect(t).toContain('\r\nTo: <sip:+14155550100@pstn.in1.exotel.com>\r\n');
    expect(t).toContain('\r\nUser-Agent: my-app/2\r\n');
    expect(t).toContain('\r\nMax-Forwards: 10\r\n');
    expect(t).toContain('\r\nCSeq: 7 INVITE\r\n');
  });

  it('without SDP has no Content-Type and Content-Length 0', () => {
    const { sdp: _sdp, ...noSdp } = BASE;
    const t = text(noSdp);
    expect(t).not.toContain('Content-Type');
    expect(
      t.endsWith(
        'Supported: replaces, timer\r\nUser-Agent: exotel-livekit-bridge/' +
          VERSION +
          '\r\nContent-Length: 0\r\n\r\n',
      ),
    ).toBe(true);
  });

  it('accepts the SDP as bytes', () => {
    expect(text({ ...BASE, sdp: new TextEncoder().encode(SDP) })).toBe(text(BASE));
  });

  it('round-trips through parseSipMessage', () => {
    const invite = buildExotelInvite({
      ...BASE,
      accountSid: 'acme1',
      extraHeaders: { 'X-Crm-Id': 'lead-42' },
    });
    const bytes = serializeSipMessage(invite);
    const parsed = parseSipMessage(bytes);
    if (parsed.kind !== 'request') throw new Error('expected a request');
    expect(parsed.method).toBe('INVITE');
    expect(parsed.uri).toBe('sip:+919876543210@pstn.in1.exotel.com:5070');
    expect(getCallId(parsed)).toBe(BASE.ids.callId);
    expect(getCSeq(parsed)).toMatchObject({ seq: 1, method: 'INVITE' });
    expect(getTopVia(parsed)).toMatchObject({
      transport: 'TCP',
      host: '203.0.113.10',
      port: 5061,
      branch: BASE.ids.branch,
    });
    expect(getFrom(parsed).tag).toBe(BASE.ids.fromTag);
    expect(getTo(parsed).tag).toBeUndefined();
    expect(parsed.headers.get('x-exotel-accountsid')).toBe('acme1');
    expect(parsed.headers.get('X-CRM-ID')).toBe('lead-42');
    expect(new TextDecoder().decode(parsed.body)).toBe(SDP);
    expect(serializeSipMessage(parsed)).toEqual(bytes);
  });

  it('works with generated ids', () => {
    const r: RandomSource = (n) => new Uint8Array(n).fill(0xab);
    const ids = { callId: newCallId('203.0.113.10', r), fromTag: newTag(r), branch: newBranch(r), cseq: 1 };
    expect(text({ ...BASE, ids })).toContain(`\r\nCall-ID: ${'ab'.repeat(16)}@203.0.113.10\r\n`);
    expect(
      text({
        ...BASE,
        ids: { callId: newCallId('2001:db8::1'), fromTag: newTag(), branch: newBranch(), cseq: 1 },
      }),
    ).toMatch(/Call-ID: [0-9a-f]{32}@2001:db8::1\r\n/);
  });
});

describe('buildExotelInvite refuses injection', () => {
  it.each([
    ['to with CRLF', { to: '9876543210\r\nVia: x' }],
    ['to with a URI', { to: 'sip:+919876543210@evil.example.com' }],
    ['to with parameters', { to: '+919876543210;transport=udp' }],
    ['to with an angle bracket', { to: '+919876543210>' }],
    ['callerId with CRLF', { callerId: '08044319240\r\nX-Evil: 1' }],
    ['callerId with an @', { callerId: '0804@evil.com' }],
    ['callerId with letters', { callerId: 'anonymous' }],
  ])('%s → InvalidPhoneNumberError', (_what, patch) => {
    expect(() => buildExotelInvite({ ...BASE, ...patch })).toThrow(InvalidPhoneNumberError);
  });

  it.each([
    ['fromDomain with CRLF', { fromDomain: 'acme.sip.exotel.com\r\nVia: x' }],
    ['fromDomain with a parameter', { fromDomain: 'acme.sip.exotel.com;lr' }],
    ['fromDomain with a user part', { fromDomain: 'x@acme.sip.exotel.com' }],
    ['fromDomain with a port', { fromDomain: 'acme.sip.exotel.com:5060' }],
    ['sipHost with a space', { sipHost: 'pstn.in1.exotel.com x' }],
    ['sipHost in brackets but not IPv6', { sipHost: '[pstn.in1.exotel.com]' }],
    ['customerIp with a closing bracket', { customerIp: '203.0.113.10>' }],
    ['accountSid with CRLF', { accountSid: 'acme1\r\nVia: x' }],
    ['accountSid with a space', { accountSid: 'acme 1' }],
    ['an empty accountSid', { accountSid: '' }],
    ['an extra header value with CRLF', { extraHeaders: { 'X-A': 'v\r\nVia: SIP/2.0/TCP evil' } }],
    ['an extra header value with a bare LF', { extraHeaders: { 'X-A': 'v\nx' } }],
    ['an extra header value with NUL', { extraHeaders: { 'X-A': 'v\u0000' } }],
    ['an extra header name with a colon', { extraHeaders: { 'X-A: b\r\nX-B': 'v' } }],
    ['a non-X extra header', { extraHeaders: { Subject: 'hi' } }],
    ['an extra Via', { extraHeaders: { Via: 'SIP/2.0/UDP evil' } }],
    ['an extra compact Contact', { extraHeaders: { m: '<sip:evil>' } }],
    ['an extra Content-Length', { extraHeaders: { 'Content-Length': '0' } }],
    [
      'an extra header duplicating the account SID',
      { accountSid: 'acme1', extraHeaders: { 'x-exotel-accountsid': 'other' } },
    ],
    ['the same extra header twice in two spellings', { extraHeaders: { 'X-A': '1', 'x-a': '2' } }],
    ['a User-Agent with CRLF', { userAgent: 'ua\r\nVia: x' }],
    ['a Call-ID with a space', { ids: { ...BASE.ids, callId: 'a b' } }],
    ['a Call-ID with CRLF', { ids: { ...BASE.ids, callId: 'a\r\nVia: x' } }],
    ['a tag with a semicolon', { ids: { ...BASE.ids, fromTag: 'a;b=c' } }],
    ['a branch without the magic cookie', { ids: { ...BASE.ids, branch: 'abc' } }],
    ['a branch with a semicolon', { ids: { ...BASE.ids, branch: 'z9hG4bK1;received=x' } }],
  ])('%s → InvalidHeaderError', (_what, patch) => {
    expect(() => buildExotelInvite({ ...BASE, ...patch } as ExotelInviteOptions)).toThrow(InvalidHeaderError);
  });

  it.each([
    ['sipPort 0', { sipPort: 0 }],
    ['customerSipPort 70000', { customerSipPort: 70000 }],
    ['cseq 0', { ids: { ...BASE.ids, cseq: 0 } }],
    ['cseq 2^31', { ids: { ...BASE.ids, cseq: 2 ** 31 } }],
    ['maxForwards 256', { maxForwards: 256 }],
    ['an unknown transport', { transport: 'sctp' as 'tcp' }],
  ])('%s → ConfigError', (_what, patch) => {
    expect(() => buildExotelInvite({ ...BASE, ...patch })).toThrow(ConfigError);
  });
});
