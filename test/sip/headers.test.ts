import { describe, expect, it } from 'vitest';

import { SipParseError } from '../../src/errors.js';
import {
  MAX_CSEQ,
  formatVia,
  getMinSe,
  getRetryAfter,
  getSessionExpires,
  parseAuthChallenge,
  parseCSeq,
  parseCallId,
  parseContact,
  parseContentLength,
  parseContentType,
  parseMaxForwards,
  parseMinSe,
  parseRetryAfter,
  parseRouteList,
  parseSessionExpires,
  parseVia,
  splitHeaderList,
} from '../../src/sip/headers.js';
import type { SipMessage } from '../../src/sip/message.js';
import { parseSipMessage } from '../../src/sip/parser.js';

function errorOf(fn: () => unknown): SipParseError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SipParseError) return e;
    throw new Error(`expected SipParseError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected SipParseError, nothing thrown');
}

describe('splitHeaderList', () => {
  it('splits at top-level commas only', () => {
    expect(
      splitHeaderList('<sip:a@b;x=1,2>, "Doe, John" <sip:j@d>,sip:c@d , ,"a \\" , b" <sip:e@f>'),
    ).toEqual(['<sip:a@b;x=1,2>', '"Doe, John" <sip:j@d>', 'sip:c@d', '"a \\" , b" <sip:e@f>']);
    expect(splitHeaderList('   ')).toEqual([]);
    expect(splitHeaderList('INVITE, ACK,BYE')).toEqual(['INVITE', 'ACK', 'BYE']);
  });
});

describe('parseVia / formatVia', () => {
  it('reads several via-parms of one header, with every parameter form', () => {
    const vias = parseVia(
      'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport;received=198.51.100.7, SIP/2.0/tcp [2001:db8::2]:5061;branch=z9hG4bK2;rport=4000;ttl=16',
    );
    expect(vias).toHaveLength(2);
    expect(vias[0]).toEqual({
      protocol: 'SIP/2.0',
      transport: 'UDP',
      host: '192.0.2.1',
      port: 5060,
      branch: 'z9hG4bK1',
      received: '198.51.100.7',
      rport: true,
      params: new Map([
        ['branch', 'z9hG4bK1'],
        ['rport', null],
        ['received', '198.51.100.7'],
      ]),
    });
    expect(vias[1]).toMatchObject({ transport: 'TCP', host: '2001:db8::2', port: 5061, rport: 4000 });
    expect(vias[1]!.params.get('ttl')).toBe('16');
  });

  it('tolerates LWS around slashes, the port colon, semicolons and equals signs', () => {
    const [v] = parseVia('SIP / 2.0 / TLS  host.example.com : 5061 ;  branch = z9hG4bKx ; rport');
    expect(v).toMatchObject({
      transport: 'TLS',
      host: 'host.example.com',
      port: 5061,
      branch: 'z9hG4bKx',
      rport: true,
    });
  });

  it('accepts the sent-by without port and without parameters', () => {
    expect(parseVia('SIP/2.0/WS df7jal23ls0d.invalid')[0]).toMatchObject({
      transport: 'WS',
      host: 'df7jal23ls0d.invalid',
      port: undefined,
      branch: undefined,
      rport: undefined,
    });
  });

  it.each([
    ['', 'empty value'],
    ['SIP/2.0 host', 'malformed sent-protocol'],
    ['HTTP/1.1/TCP host', 'unsupported protocol'],
    ['SIP/2.0/UDP', 'missing sent-by host'],
    ['SIP/2.0/UDP host:0x10', 'invalid port'],
    ['SIP/2.0/UDP host:65536', 'out of range'],
    ['SIP/2.0/UDP ho st', 'invalid character in host'],
    ['SIP/2.0/UDP host;rport=70000', 'invalid rport'],
    ['SIP/2.0/UDP host;branch', 'branch parameter without value'],
    ['SIP/2.0/UDP host;received', 'received parameter without value'],
    ['SIP/2.0/UDP host;branch=a b', 'where a ";" parameter was expected'],
  ])('rejects %j (%s)', (value, problem) => {
    const e = errorOf(() => parseVia(value));
    expect(e.header).toBe('Via');
    expect(e.message).toContain(problem);
  });

  it('formats, letting set fields override parameters in place', () => {
    const [v] = parseVia('SIP/2.0/TCP [2001:db8::2]:5061;branch=old;rport;alias');
    expect(formatVia(v!)).toBe('SIP/2.0/TCP [2001:db8::2]:5061;branch=old;rport;alias');
    v!.branch = 'new';
    v!.rport = 40000;
    v!.received = '192.0.2.9';
    expect(formatVia(v!)).toBe(
      'SIP/2.0/TCP [2001:db8::2]:5061;branch=new;rport=40000;alias;received=192.0.2.9',
    );
    expect(
      formatVia({
        protocol: 'SIP/2.0',
        transport: 'UDP',
        host: 'h',
        rport: true,
        branch: 'z9hG4bKq',
        params: new Map(),
      }),
    ).toBe('SIP/2.0/UDP h;branch=z9hG4bKq;rport');
  });
});

describe('CSeq, Max-Forwards, Content-Length, Call-ID', () => {
  it('reads valid values', () => {
    expect(parseCSeq(' 4711   INVITE ')).toEqual({ seq: 4711, method: 'INVITE' });
    expect(parseCSeq(`${MAX_CSEQ} BYE`).seq).toBe(2147483647);
    expect(parseMaxForwards('70')).toBe(70);
    expect(parseMaxForwards('0')).toBe(0);
    expect(parseContentLength('0')).toBe(0);
    expect(parseContentLength('00123')).toBe(123);
    expect(parseCallId(' a84b4c76e66710@pc33.atlanta.com ')).toBe('a84b4c76e66710@pc33.atlanta.com');
  });

  it.each([
    [() => parseCSeq('2147483648 INVITE'), 'CSeq', 'above'],
    [() => parseCSeq('1'), 'CSeq', 'invalid method'],
    [() => parseCSeq('1 INVITE extra'), 'CSeq', 'invalid method'],
    [() => parseCSeq('one INVITE'), 'CSeq', 'digits'],
    [() => parseMaxForwards('256'), 'Max-Forwards', 'above'],
    [() => parseMaxForwards('-1'), 'Max-Forwards', 'digits'],
    [() => parseContentLength('1e3'), 'Content-Length', 'digits'],
    [() => parseContentLength('2147483648'), 'Content-Length', 'above'],
    [() => parseContentLength(''), 'Content-Length', 'digits'],
    [() => parseCallId(''), 'Call-ID', 'empty'],
    [() => parseCallId('a<b'), 'Call-ID', 'invalid character'],
  ])('rejects bad values (%#)', (fn, header, problem) => {
    const e = errorOf(fn);
    expect(e.header).toBe(header);
    expect(e.message).toContain(problem);
  });
});

describe('parseContentType', () => {
  it('lower-cases type and subtype and unquotes parameter values', () => {
    expect(parseContentType('Application/SDP')).toEqual({
      type: 'application',
      subtype: 'sdp',
      params: new Map(),
    });
    const mp = parseContentType('multipart/mixed; boundary="a;b c"; charset=UTF-8');
    expect(mp.type).toBe('multipart');
    expect([...mp.params]).toEqual([
      ['boundary', 'a;b c'],
      ['charset', 'UTF-8'],
    ]);
  });

  it.each(['application', '/sdp', 'application/', 'appli cation/sdp', 'application/sdp;'])(
    'rejects %j',
    (v) => {
      expect(errorOf(() => parseContentType(v)).header).toBe('Content-Type');
    },
  );
});

describe('parseContact / parseRouteList', () => {
  it('reads "*", a list across several lines, and expires parameters', () => {
    expect(parseContact(' * ')).toEqual({ star: true });
    const c = parseContact([
      '<sip:a@192.0.2.1:5060;transport=tcp>;expires=3600;q=0.7, "B" <sip:b@h>',
      'sip:c@h;expires=0',
    ]);
    if (c.star) throw new Error('expected addresses');
    expect(c.contacts.map((x) => [x.uri.user, x.params.get('expires') ?? null])).toEqual([
      ['a', '3600'],
      ['b', null],
      ['c', '0'],
    ]);
  });

  it('rejects "*" mixed with addresses, naming Contact', () => {
    expect(errorOf(() => parseContact('*, <sip:a@b>')).header).toBe('Contact');
    expect(errorOf(() => parseContact('<sip:a@b')).header).toBe('Contact');
  });

  it('reads Record-Route values in order from one or several lines', () => {
    const one = parseRouteList(
      '<sip:p1.example.com;lr>,<sip:p2.example.com;lr;transport=tcp>',
      'Record-Route',
    );
    const two = parseRouteList(
      ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr;transport=tcp>'],
      'Record-Route',
    );
    expect(two).toEqual(one);
    expect(one.map((r) => r.uri.host)).toEqual(['p1.example.com', 'p2.example.com']);
    expect(one[1]!.uri.params.get('transport')).toBe('tcp');
    expect(errorOf(() => parseRouteList('<sip:p1;lr', 'Record-Route')).header).toBe('Record-Route');
  });
});

describe('parseAuthChallenge', () => {
  it('reads quoted and token parameters, escapes and commas inside quotes', () => {
    const c = parseAuthChallenge(
      'Digest realm="atlanta.com",domain="sip:ss1.carrier.com", qop="auth, auth-int",nonce="f84f1cec41e6cbe5aea9c8e88d359",opaque="", stale=TRUE, algorithm=MD5, x-note="say \\"hi\\", ok"',
    );
    expect(c).toMatchObject({
      scheme: 'Digest',
      realm: 'atlanta.com',
      domain: 'sip:ss1.carrier.com',
      qop: ['auth', 'auth-int'],
      nonce: 'f84f1cec41e6cbe5aea9c8e88d359',
      opaque: '',
      stale: true,
      algorithm: 'MD5',
    });
    expect(c.params.get('x-note')).toBe('say "hi", ok');
  });

  it('normalizes the Digest scheme and keeps other schemes', () => {
    expect(parseAuthChallenge('digest realm="r"').scheme).toBe('Digest');
    expect(parseAuthChallenge('Bearer realm="r"').scheme).toBe('Bearer');
    expect(parseAuthChallenge('Digest').params.size).toBe(0);
  });

  it.each([
    ['', 'missing authentication scheme'],
    ['Digest realm', 'without "="'],
    ['Digest realm="x', 'unterminated'],
    ['Digest realm=', 'without value'],
    ['Digest realm="x" nonce="y"', 'expected ","'],
    ['Digest,realm="x"', 'after the scheme'],
  ])('rejects %j (%s), naming the header', (value, problem) => {
    const e = errorOf(() => parseAuthChallenge(value, 'Proxy-Authenticate'));
    expect(e.header).toBe('Proxy-Authenticate');
    expect(e.message).toContain(problem);
  });
});

describe('parseSessionExpires / getSessionExpires (RFC 4028 §4)', () => {
  it('reads delta-seconds and the refresher, case-insensitively, ignoring other parameters', () => {
    expect(parseSessionExpires('1800')).toEqual({ seconds: 1800 });
    expect(parseSessionExpires(' 4000;refresher=uac')).toEqual({ seconds: 4000, refresher: 'uac' });
    expect(parseSessionExpires('90 ; Refresher = UAS ; x-foo=1')).toEqual({ seconds: 90, refresher: 'uas' });
    expect(parseSessionExpires('1800;x-flag')).toEqual({ seconds: 1800 });
  });

  it('refuses garbage with a SipParseError naming Session-Expires', () => {
    for (const bad of [
      '',
      'abc',
      '-5',
      '1800abc',
      '1800 ,1',
      '0',
      '99999999999999',
      '1800;refresher',
      '1800;refresher=both',
      '1800;=1',
    ]) {
      const e = errorOf(() => parseSessionExpires(bad));
      expect(e.code).toBe('SIP_PARSE');
      expect(e.header).toBe('Session-Expires');
    }
  });

  it('reads the header of a message, also in its compact form x; undefined when absent', () => {
    const msg = (extra: string[]): SipMessage =>
      parseSipMessage(
        [
          'INVITE sip:bob@example.com SIP/2.0',
          'Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK1',
          'From: <sip:alice@example.com>;tag=1',
          'To: <sip:bob@example.com>',
          'Call-ID: se-1',
          'CSeq: 1 INVITE',
          ...extra,
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n'),
      );
    expect(getSessionExpires(msg([]))).toBeUndefined();
    expect(getSessionExpires(msg(['Session-Expires: 1800;refresher=uas']))).toEqual({
      seconds: 1800,
      refresher: 'uas',
    });
    expect(getSessionExpires(msg(['x: 600']))).toEqual({ seconds: 600 });
    expect(() => getSessionExpires(msg(['Session-Expires: soon']))).toThrow(SipParseError);
    expect(() => getSessionExpires(msg(['Session-Expires: 600', 'x: 700']))).toThrow(/more than one/);
    expect(getMinSe(msg(['Min-SE: 90']))).toBe(90);
    expect(getMinSe(msg([]))).toBeUndefined();
    expect(getRetryAfter(msg(['Retry-After: 5']))).toEqual({ seconds: 5, params: new Map() });
    expect(getRetryAfter(msg([]))).toBeUndefined();
  });
});

describe('parseMinSe (RFC 4028 §5)', () => {
  it('reads delta-seconds, parameters ignored', () => {
    expect(parseMinSe('90')).toBe(90);
    expect(parseMinSe(' 1800 ;x=1')).toBe(1800);
  });

  it('refuses garbage', () => {
    for (const bad of ['', 'ninety', '90s', '1e3', '90 90']) {
      expect(errorOf(() => parseMinSe(bad)).header).toBe('Min-SE');
    }
  });
});

describe('parseRetryAfter (RFC 3261 §20.33)', () => {
  it('reads the RFC examples', () => {
    expect(parseRetryAfter('18000;duration=3600')).toEqual({
      seconds: 18000,
      duration: 3600,
      params: new Map([['duration', '3600']]),
    });
    expect(parseRetryAfter("120 (I'm in a meeting)")).toEqual({
      seconds: 120,
      comment: "I'm in a meeting",
      params: new Map(),
    });
  });

  it('reads nested comments with quoted-pairs, then parameters', () => {
    expect(parseRetryAfter('60 (back (maybe) at 5\\) pm) ; duration=10;x-y')).toEqual({
      seconds: 60,
      comment: 'back (maybe) at 5) pm',
      duration: 10,
      params: new Map<string, string | null>([
        ['duration', '10'],
        ['x-y', null],
      ]),
    });
  });

  it('refuses garbage with a SipParseError naming Retry-After', () => {
    for (const bad of [
      '',
      'later',
      '5 minutes',
      '5 (unterminated',
      '5 (a) (b)',
      '5;duration',
      '5;duration=soon',
      '5 (a\\\r\n b)',
    ]) {
      expect(errorOf(() => parseRetryAfter(bad)).header).toBe('Retry-After');
    }
  });
});
