import { describe, expect, it } from 'vitest';

import { BridgeError, SipParseError } from '../../src/errors.js';
import {
  getCSeq,
  getCallId,
  getContact,
  getFrom,
  getRecordRoute,
  getTo,
  getTopVia,
  getVias,
  parseAuthChallenge,
  parseContentType,
  parseMaxForwards,
} from '../../src/sip/headers.js';
import { createRequest } from '../../src/sip/message.js';
import type { SipRequest, SipResponse } from '../../src/sip/message.js';
import { parseSipMessage } from '../../src/sip/parser.js';
import {
  BYE,
  CRLF,
  EXOTEL_INVITE,
  MALFORMED,
  OFFER_SDP,
  OK_200,
  OPTIONS,
  PROGRESS_183,
  ANSWER_SDP,
  PROXY_AUTH_407,
  TORTURE_BARE_LF,
  TORTURE_COMPACT,
  TORTURE_ESCAPES,
  TORTURE_WS,
  TRYING_100,
  RINGING_180,
  UNAUTHORIZED_401,
  WELL_FORMED,
  msg,
} from './sip-vectors.js';

const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const asRequest = (m: ReturnType<typeof parseSipMessage>): SipRequest => {
  if (m.kind !== 'request') throw new Error('expected a request');
  return m;
};
const asResponse = (m: ReturnType<typeof parseSipMessage>): SipResponse => {
  if (m.kind !== 'response') throw new Error('expected a response');
  return m;
};

describe('parseSipMessage: well-formed vectors', () => {
  it.each(WELL_FORMED.map((v) => [v.name, v] as const))(
    'parses %s from text and from bytes alike',
    (_name, v) => {
      const fromText = parseSipMessage(v.text);
      const fromBytes = parseSipMessage(new TextEncoder().encode(v.text));
      expect(fromBytes).toEqual(fromText);
      expect(fromText.version).toBe('SIP/2.0');
    },
  );

  it('reads the Exotel INVITE: request line, headers in order, SDP body', () => {
    const m = asRequest(parseSipMessage(EXOTEL_INVITE));
    expect(m.method).toBe('INVITE');
    expect(m.uri).toBe('sip:+919876543210@pstn.in1.exotel.com:5070;transport=tcp');
    expect([...m.headers].map((h) => h.name)).toEqual([
      'Via',
      'Max-Forwards',
      'From',
      'To',
      'Call-ID',
      'CSeq',
      'Contact',
      'Allow',
      'Supported',
      'X-Exotel-AccountSid',
      'User-Agent',
      'Content-Type',
      'Content-Length',
    ]);
    expect(m.headers.get('allow')).toBe('INVITE, ACK, CANCEL, BYE, OPTIONS');
    expect(m.headers.get('x-exotel-accountsid')).toBe('acme1');
    expect(text(m.body)).toBe(OFFER_SDP);
    expect(getCallId(m)).toBe('5f4e3d2c1b0a99887766@203.0.113.10');
    expect(getCSeq(m)).toEqual({ seq: 1, method: 'INVITE' });
    const via = getTopVia(m);
    expect(via).toMatchObject({ transport: 'TCP', host: '203.0.113.10', port: 5061, rport: true });
    expect(via.branch).toBe('z9hG4bK-524287-1---7f3a9c0e1d2b');
    const from = getFrom(m);
    expect(from.displayName).toBe('Exophone');
    expect(from.tag).toBe('as6e3f1b2c');
    expect(from.uri).toMatchObject({ scheme: 'sip', user: '08044556677', host: 'acme1.pstn.exotel.com' });
    expect(getTo(m).tag).toBeUndefined();
    expect(parseContentType(m.headers.get('Content-Type')!)).toMatchObject({
      type: 'application',
      subtype: 'sdp',
    });
  });

  it('reads 100 Trying, 180 Ringing and 183 with SDP', () => {
    const trying = asResponse(parseSipMessage(TRYING_100));
    expect([trying.status, trying.reason, trying.body.length]).toEqual([100, 'Trying', 0]);
    const ringing = asResponse(parseSipMessage(RINGING_180));
    expect([ringing.status, ringing.reason]).toEqual([180, 'Ringing']);
    expect(getTo(ringing).tag).toBe('b7c1d2e3f4');
    const progress = asResponse(parseSipMessage(PROGRESS_183));
    expect(progress.status).toBe(183);
    expect(text(progress.body)).toBe(ANSWER_SDP);
  });

  it('reads the 200 OK with two Record-Route entries and a TLS Contact (LiveKit SIP #730)', () => {
    const ok = asResponse(parseSipMessage(OK_200));
    expect(ok.status).toBe(200);
    const rr = getRecordRoute(ok);
    expect(rr.map((r) => r.uriText)).toEqual([
      'sip:198.51.100.20:5070;transport=tcp;lr;ftag=as6e3f1b2c',
      'sip:10.0.0.5;lr',
    ]);
    expect(rr[0]!.uri.params.get('lr')).toBeNull();
    expect(rr[0]!.uri.port).toBe(5070);
    const contact = getContact(ok);
    expect(contact?.star).toBe(false);
    if (contact?.star === false) {
      expect(contact.contacts[0]!.uri.params.get('transport')).toBe('tls');
      expect(contact.contacts[0]!.uri.host).toBe('198.51.100.21');
    }
    expect(getTopVia(ok)).toMatchObject({ rport: 5061, received: '203.0.113.10' });
  });

  it('reads the 401 and 407 challenges', () => {
    const r401 = parseSipMessage(UNAUTHORIZED_401);
    const c = parseAuthChallenge(r401.headers.get('WWW-Authenticate')!);
    expect(c).toMatchObject({
      scheme: 'Digest',
      realm: 'pstn.exotel.com',
      nonce: 'a1b2c3d4e5f6, with comma',
      opaque: '5ccc069c403ebaf9f0171e9517f40e41',
      algorithm: 'MD5',
      qop: ['auth', 'auth-int'],
      stale: false,
    });
    const r407 = parseSipMessage(PROXY_AUTH_407);
    const p = parseAuthChallenge(r407.headers.get('proxy-authenticate')!, 'Proxy-Authenticate');
    expect(p).toMatchObject({
      realm: 'exotel',
      nonce: 'bm9uY2U=',
      algorithm: 'SHA-256',
      qop: ['auth'],
      stale: true,
    });
  });

  it('reads BYE with two Route lines and OPTIONS', () => {
    const bye = asRequest(parseSipMessage(BYE));
    expect(bye.headers.getAll('Route')).toEqual([
      '<sip:198.51.100.20:5070;transport=tcp;lr;ftag=as6e3f1b2c>',
      '<sip:10.0.0.5;lr>',
    ]);
    expect(getCSeq(bye)).toEqual({ seq: 2, method: 'BYE' });
    const options = asRequest(parseSipMessage(OPTIONS));
    expect(options.method).toBe('OPTIONS');
    expect(getTopVia(options).transport).toBe('UDP');
    expect(options.headers.get('Accept')).toBe('application/sdp');
  });
});

describe('parseSipMessage: torture-test-like vectors', () => {
  it('unfolds continuation lines, tolerates odd spacing and keeps unknown headers as written', () => {
    const m = asRequest(parseSipMessage(TORTURE_WS));
    expect(m.uri).toBe('sip:vivekg@chair-dnrc.example.com;unknownparam');
    expect(m.headers.get('To')).toBe('sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n');
    expect(getTo(m)).toMatchObject({ uriText: 'sip:vivekg@chair-dnrc.example.com', tag: '1918181833n' });
    const from = getFrom(m);
    expect(from.displayName).toBe('J Rosenberg \\"');
    expect(from.tag).toBe('98asjd8');
    expect(parseMaxForwards(m.headers.get('Max-Forwards')!)).toBe(68);
    expect(getCSeq(m)).toEqual({ seq: 9, method: 'INVITE' });
    expect(m.headers.get('NewFangledHeader')).toBe('newfangled value continued newfangled value');
    expect(m.headers.get('UnknownHeaderWithUnusualValue')).toBe(';;,,;;,;');
    expect(m.headers.get('Subject')).toBe('');
    expect(m.headers.get('Route')).toBe('<sip:services.example.com;lr;unknownwith=value;unknown-no-value>');
    const vias = getVias(m);
    expect(vias.map((v) => [v.transport, v.host, v.branch])).toEqual([
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);
    expect(vias[0]!.rport).toBe(true);
    const contact = getContact(m);
    if (contact?.star !== false) throw new Error('expected addresses');
    expect(contact.contacts[0]!.displayName).toBe('Quoted string ""');
    expect([...contact.contacts[0]!.params]).toEqual([
      ['newparam', 'newvalue'],
      ['secondparam', null],
      ['q', '0.33'],
    ]);
    expect(m.body.length).toBe(150);
  });

  it('maps compact forms, reads IPv6 references, both rport forms and Contact "*"', () => {
    const m = asRequest(parseSipMessage(TORTURE_COMPACT));
    expect([...m.headers].map((h) => h.name)).toEqual([
      'Via',
      'Via',
      'From',
      'To',
      'Call-ID',
      'CSeq',
      'Contact',
      'Expires',
      'Supported',
      'Content-Length',
    ]);
    const vias = getVias(m);
    expect(vias[0]).toMatchObject({
      host: '2001:db8::9:1',
      port: 5061,
      rport: true,
      received: '2001:db8::9:255',
    });
    expect(vias[1]).toMatchObject({ host: '192.0.2.1', rport: 5062, branch: 'z9hG4bKc2' });
    expect(vias[2]).toMatchObject({ transport: 'TLS', host: 'gw.example.com', port: 5061, rport: undefined });
    expect(getFrom(m).uri.host).toBe('2001:db8::9:1');
    expect(getTo(m).uriText).toBe('sip:alice@example.com');
    expect(getCallId(m)).toBe('compact-1@[2001:db8::9:1]');
    expect(getContact(m)).toEqual({ star: true });
  });

  it('unescapes quoted display names and decodes UTF-8 header values', () => {
    const m = parseSipMessage(TORTURE_ESCAPES);
    expect(getFrom(m).displayName).toBe('"Q" Smith \\ Co');
    expect(getFrom(m).uri.params.get('user')).toBe('phone');
    expect(getTo(m).displayName).toBe('Bob   Jones');
    expect(m.headers.get('Reply-To')).toBe('"José नमस्ते" <sip:jose@example.com>');
    expect(parseContentType(m.headers.get('Content-Type')!).params.get('charset')).toBe('utf-8');
    expect(text(m.body)).toBe('hello world');
  });

  it('tolerates bare LF line ends and reads tel: URIs', () => {
    const m = asRequest(parseSipMessage(TORTURE_BARE_LF));
    expect(m.uri).toBe('tel:+919876543210;phone-context=+91');
    expect(getFrom(m).uri).toMatchObject({ scheme: 'tel', user: '+918044556677', host: '' });
    expect(getTo(m).uri.params.get('phone-context')).toBe('+91');
    expect(text(m.body)).toBe('abcd');
  });

  it('ignores CRLFs before the start line', () => {
    const m = parseSipMessage(`\r\n\r\n${OPTIONS}`);
    expect(asRequest(m).method).toBe('OPTIONS');
  });
});

describe('parseSipMessage: body and Content-Length', () => {
  const head = [
    'MESSAGE sip:b@example.com SIP/2.0',
    'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKbody',
    'From: <sip:a@example.com>;tag=1',
    'To: <sip:b@example.com>',
    'Call-ID: body-1',
    'CSeq: 1 MESSAGE',
  ];

  it('datagram: a smaller Content-Length truncates the body (RFC 3261 18.3)', () => {
    expect(text(parseSipMessage(msg([...head, 'Content-Length: 3'], 'abcdef')).body)).toBe('abc');
  });

  it('datagram: without Content-Length the body is the rest of the datagram', () => {
    expect(text(parseSipMessage(msg(head, 'abcdef')).body)).toBe('abcdef');
  });

  it('datagram: a larger Content-Length is an error naming Content-Length', () => {
    expect(() => parseSipMessage(msg([...head, 'Content-Length: 7'], 'abcdef'))).toThrow(
      expect.objectContaining({ header: 'Content-Length' }),
    );
  });

  it('stream: the body must be exactly Content-Length bytes, and the header is mandatory', () => {
    const ok = parseSipMessage(msg([...head, 'Content-Length: 6'], 'abcdef'), { transport: 'stream' });
    expect(text(ok.body)).toBe('abcdef');
    for (const bad of [msg(head, 'abcdef'), msg([...head, 'Content-Length: 3'], 'abcdef')]) {
      expect(() => parseSipMessage(bad, { transport: 'stream' })).toThrow(
        expect.objectContaining({ header: 'Content-Length', code: 'SIP_PARSE' }),
      );
    }
  });

  it('keeps binary body bytes exactly, counting bytes not characters', () => {
    const body = new Uint8Array([0x00, 0xff, 0x0d, 0x0a, 0x0d, 0x0a, 0xc3, 0x28]);
    const headBytes = new TextEncoder().encode(`${[...head, 'Content-Length: 8'].join(CRLF)}${CRLF}${CRLF}`);
    const data = new Uint8Array(headBytes.length + body.length);
    data.set(headBytes);
    data.set(body, headBytes.length);
    expect([...parseSipMessage(data).body]).toEqual([...body]);
  });

  it('counts body offsets in bytes when the header section holds UTF-8', () => {
    const m = parseSipMessage(
      msg([...head.slice(0, 2), 'From: "Zoë" <sip:a@example.com>;tag=1', ...head.slice(3)], 'xyz'),
    );
    expect(getFrom(m).displayName).toBe('Zoë');
    expect(text(m.body)).toBe('xyz');
  });
});

describe('parseSipMessage: malformed vectors', () => {
  it.each(MALFORMED.map((v) => [v.name, v] as const))('%s → SipParseError', (_name, v) => {
    let caught: unknown;
    try {
      parseSipMessage(v.text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SipParseError);
    expect(caught).toBeInstanceOf(BridgeError);
    const e = caught as SipParseError;
    expect(e.code).toBe('SIP_PARSE');
    expect(e.header).toBe(v.header);
    if (v.header !== undefined) expect(e.message.startsWith(`${v.header}: `)).toBe(true);
  });

  it('names the header and the problem for a bare CR inside a value', () => {
    const bad = msg([
      'OPTIONS sip:b@example.com SIP/2.0',
      'Via: SIP/2.0/UDP h;branch=z9hG4bK1',
      'Subject: a\rb',
    ]);
    expect(() => parseSipMessage(bad)).toThrow(/Subject: bare CR/);
  });

  it('rejects NUL bytes in the header section', () => {
    expect(() => parseSipMessage(msg(['OPTIONS sip:b@example.com SIP/2.0', 'Subject: a\0b']))).toThrow(
      SipParseError,
    );
  });

  it('rejects an empty message and one made of CRLFs only', () => {
    expect(() => parseSipMessage('')).toThrow(SipParseError);
    expect(() => parseSipMessage('\r\n\r\n')).toThrow(SipParseError);
  });
});

describe('typed getters', () => {
  it('see later edits of the headers (the cache is keyed by the raw value)', () => {
    const m = parseSipMessage(EXOTEL_INVITE);
    expect(getCSeq(m).seq).toBe(1);
    m.headers.set('CSeq', '2 INVITE');
    expect(getCSeq(m)).toEqual({ seq: 2, method: 'INVITE' });
    m.headers.set('To', '<sip:x@example.com>;tag=new');
    expect(getTo(m).tag).toBe('new');
  });

  it('work on messages built with createRequest and throw SipParseError when a header is missing', () => {
    const r = createRequest('OPTIONS', 'sip:b@example.com', [
      ['Via', 'SIP/2.0/TCP 192.0.2.1:5061;branch=z9hG4bKx'],
      ['Call-ID', 'c1'],
      ['CSeq', '5 OPTIONS'],
    ]);
    expect(getTopVia(r)).toMatchObject({ transport: 'TCP', port: 5061, branch: 'z9hG4bKx' });
    expect(getCSeq(r).seq).toBe(5);
    expect(() => getFrom(r)).toThrow(expect.objectContaining({ header: 'From', code: 'SIP_PARSE' }));
    r.headers.set('From', '<sip:a@example.com');
    expect(() => getFrom(r)).toThrow(/From: missing ">"/);
  });
});
