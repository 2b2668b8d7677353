import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { SipParseError } from '../../src/errors.js';
import { formatNameAddr, parseNameAddr } from '../../src/sip/name-addr.js';
import { formatUri, parseUri, parseUriSlow } from '../../src/sip/uri.js';

const entries = <K, V>(m: Map<K, V>): [K, V][] => [...m];

describe('parseUri', () => {
  it('reads every part of a SIP URI', () => {
    const u = parseUri(
      'sip:alice:secret@atlanta.example.com:5070;transport=TCP;LR;maddr=239.255.255.1?subject=project&priority=urgent',
    );
    expect(u).toMatchObject({
      scheme: 'sip',
      user: 'alice',
      password: 'secret',
      host: 'atlanta.example.com',
      port: 5070,
    });
    expect(entries(u.params)).toEqual([
      ['transport', 'TCP'],
      ['lr', null],
      ['maddr', '239.255.255.1'],
    ]);
    expect(entries(u.headers)).toEqual([
      ['subject', 'project'],
      ['priority', 'urgent'],
    ]);
  });

  it('reads sips:, upper-case schemes, IPv4 and IPv6 hosts', () => {
    expect(parseUri('sips:bob@example.com')).toMatchObject({
      scheme: 'sips',
      user: 'bob',
      host: 'example.com',
    });
    expect(parseUri('SIP:bob@example.com')).toMatchObject({ scheme: 'sip', user: 'bob' });
    expect(parseUri('sip:192.0.2.4')).toMatchObject({ host: '192.0.2.4', user: undefined, port: undefined });
    expect(parseUri('sip:[2001:db8::1]:5061;transport=tls')).toMatchObject({
      host: '2001:db8::1',
      port: 5061,
    });
    expect(parseUri('sip:+91-98765@[::1]').host).toBe('::1');
  });

  it('keeps escapes and user-part parameters as written', () => {
    const u = parseUri('sip:%61lice;npdi@example.com;user=phone');
    expect(u.user).toBe('%61lice;npdi');
    expect(u.params.get('user')).toBe('phone');
  });

  it('keeps the first of duplicated parameters', () => {
    expect(parseUri('sip:h;a=1;A=2').params.get('a')).toBe('1');
  });

  it('reads tel: URIs with phone-context', () => {
    const u = parseUri('tel:+919876543210;phone-context=+91');
    expect(u).toMatchObject({ scheme: 'tel', user: '+919876543210', host: '' });
    expect(u.params.get('phone-context')).toBe('+91');
    expect(parseUri('tel:1234;phone-context=example.com').user).toBe('1234');
  });

  it.each([
    ['', 'empty URI'],
    ['alice@example.com', 'URI without scheme'],
    ['http://example.com', 'unsupported URI scheme'],
    ['sip:', 'missing host'],
    ['sip:@example.com', 'empty user part'],
    ['sip:a@b@c', 'more than one "@"'],
    ['sip:a@example.com:70000', 'out of range'],
    ['sip:a@example.com:50x', 'invalid port'],
    ['sip:a b@example.com', 'invalid character'],
    ['sip:a@exa"mple.com', 'invalid character'],
    ['sip:[2001:db8::1', 'unterminated IPv6'],
    ['sip:[zz]', 'invalid IPv6'],
    ['sip:a@example.com;;x', 'empty URI parameter name'],
    ['sip:a@example.com?=v', 'empty URI header name'],
    ['tel:', 'invalid telephone number'],
    ['tel:+91+98', 'invalid telephone number'],
  ])('rejects %j (%s)', (input, problem) => {
    let err: unknown;
    try {
      parseUri(input, 'Contact');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SipParseError);
    expect((err as SipParseError).header).toBe('Contact');
    expect((err as SipParseError).message).toContain(problem);
  });
});

describe('formatUri', () => {
  it.each([
    'sip:alice@atlanta.example.com',
    'sip:alice:pw@atlanta.example.com:5060;transport=tcp;lr',
    'sips:[2001:db8::1]:5061;maddr=x?h=v&j=w',
    'tel:+919876543210;phone-context=+91',
    'sip:192.0.2.1;lr',
  ])('formats %s back as written', (uri) => {
    expect(formatUri(parseUri(uri))).toBe(uri);
  });

  it('lower-cases the scheme and parameter names', () => {
    expect(formatUri(parseUri('SIP:Bob@Example.com;Transport=TCP'))).toBe(
      'sip:Bob@Example.com;transport=TCP',
    );
  });
});

describe('fast and careful URI paths agree', () => {
  const tokenChar = fc.constantFrom(...'abcXYZ019-._!~*+'.split(''));
  const word = fc.string({ unit: tokenChar, minLength: 1, maxLength: 8 });
  const anyChar = fc.constantFrom(...'abc19-.:;?=&@[]<> "%\\^{}|\t/+#'.split(''));
  const uriLike = fc.oneof(
    fc
      .tuple(
        fc.constantFrom('sip', 'sips', 'SIP'),
        fc.option(word),
        fc.option(word),
        fc.oneof(word, fc.constant('[2001:db8::1]'), fc.constant('192.0.2.1')),
        fc.option(fc.integer({ min: 0, max: 99999 })),
        fc.array(fc.tuple(word, fc.option(word)), { maxLength: 3 }),
        fc.array(fc.tuple(word, word), { maxLength: 2 }),
      )
      .map(([scheme, user, pw, host, port, params, headers]) => {
        let s = `${scheme}:`;
        if (user !== null) s += pw === null ? `${user}@` : `${user}:${pw}@`;
        s += host;
        if (port !== null) s += `:${port}`;
        for (const [k, v] of params) s += v === null ? `;${k}` : `;${k}=${v}`;
        if (headers.length > 0) s += `?${headers.map(([k, v]) => `${k}=${v}`).join('&')}`;
        return s;
      }),
    fc.string({ unit: anyChar, maxLength: 30 }).map((s) => `sip:${s}`),
  );

  it('gives identical results or both throw SipParseError', () => {
    fc.assert(
      fc.property(uriLike, (input) => {
        let slow: unknown;
        let slowErr: unknown;
        try {
          slow = parseUriSlow(input);
        } catch (e) {
          slowErr = e;
        }
        let fast: unknown;
        let fastErr: unknown;
        try {
          fast = parseUri(input);
        } catch (e) {
          fastErr = e;
        }
        if (slowErr !== undefined) {
          expect(slowErr).toBeInstanceOf(SipParseError);
          expect(fastErr).toBeInstanceOf(SipParseError);
        } else {
          expect(fastErr).toBeUndefined();
          expect(fast).toEqual(slow);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseNameAddr / formatNameAddr', () => {
  it('reads a quoted display name with escapes, the URI in <>, and header parameters', () => {
    const a = parseNameAddr(
      '"Alice \\"A\\" \\\\ Co" <sip:alice@example.com;transport=tcp>;tag=88;expires=60',
      'From',
    );
    expect(a.displayName).toBe('Alice "A" \\ Co');
    expect(a.uriText).toBe('sip:alice@example.com;transport=tcp');
    expect(a.uri.params.get('transport')).toBe('tcp');
    expect(entries(a.params)).toEqual([
      ['tag', '88'],
      ['expires', '60'],
    ]);
  });

  it('reads token display names and no display name', () => {
    expect(parseNameAddr('Bob Smith <sip:bob@example.com>').displayName).toBe('Bob Smith');
    expect(parseNameAddr('<sip:bob@example.com>').displayName).toBeUndefined();
    expect(parseNameAddr('"" <sip:bob@example.com>').displayName).toBe('');
  });

  it('gives the parameters after a bare URI to the header (RFC 3261 20.10)', () => {
    const a = parseNameAddr('sip:bob@example.com;tag=abc;transport=udp', 'To');
    expect(a.uriText).toBe('sip:bob@example.com');
    expect(a.uri.params.size).toBe(0);
    expect(entries(a.params)).toEqual([
      ['tag', 'abc'],
      ['transport', 'udp'],
    ]);
  });

  it('keeps quoted parameter values with their quotes', () => {
    const a = parseNameAddr('<sip:a@b>;+sip.instance="<urn:uuid:1;x>";reg-id=1', 'Contact');
    expect(a.params.get('+sip.instance')).toBe('"<urn:uuid:1;x>"');
    expect(a.params.get('reg-id')).toBe('1');
  });

  it.each([
    ['', 'empty address'],
    ['"Alice <sip:a@b>', 'unterminated quoted string'],
    ['"Alice" sip:a@b', 'expected "<"'],
    ['<sip:a@b', 'missing ">"'],
    ['<sip:a@b> junk', 'where a ";" parameter was expected'],
    ['<sip:a@b>;=x', 'empty parameter name'],
    ['<sip:a@b>;tag=', 'empty value'],
    ['<sip:a@b>;tag="x', 'unterminated quoted value'],
    ['<mailto:a@b>', 'unsupported URI scheme'],
  ])('rejects %j (%s)', (input, problem) => {
    expect(() => parseNameAddr(input, 'To')).toThrow(problem);
    expect(() => parseNameAddr(input, 'To')).toThrow(expect.objectContaining({ header: 'To' }));
  });

  it('formats with quoting and the <> form, and parses back to the same value', () => {
    const a = parseNameAddr('"Q \\"x\\" \\\\" <sip:q@example.com;lr>;tag=1');
    const s = formatNameAddr(a);
    expect(s).toBe('"Q \\"x\\" \\\\" <sip:q@example.com;lr>;tag=1');
    expect(parseNameAddr(s)).toEqual(a);
    expect(formatNameAddr(parseNameAddr('sip:bob@example.com;tag=abc'))).toBe(
      '<sip:bob@example.com>;tag=abc',
    );
  });
});
