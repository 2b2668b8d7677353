/**
 * Quoted strings with quoted-pairs (RFC 3261 §25.1):
 *
 *   quoted-string = SWS DQUOTE *(qdtext / quoted-pair) DQUOTE
 *   quoted-pair   = "\" (%x00-09 / %x0B-0C / %x0E-7F)
 *
 * in display names (From, To, Contact), quoted header parameter values (Via, Contact...)
 * and authentication parameters. A quoted-pair stands for the octet it escapes, NUL
 * included; one escaping CR or LF is a SipParseError.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { InvalidHeaderError, SipParseError } from '../../src/errors.js';
import {
  getContact,
  getFrom,
  getTo,
  getTopVia,
  parseAuthChallenge,
  parseVia,
} from '../../src/sip/headers.js';
import { createRequest } from '../../src/sip/message.js';
import { formatNameAddr, parseNameAddr } from '../../src/sip/name-addr.js';
import { parseSipMessage } from '../../src/sip/parser.js';
import { serializeSipMessage } from '../../src/sip/serializer.js';
import { parseUri } from '../../src/sip/uri.js';

const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const text = (b: Uint8Array): string => String.fromCharCode(...b);

function parseError(fn: () => unknown): SipParseError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SipParseError) return e;
    throw e;
  }
  throw new SipParseError('expected a SipParseError, nothing was thrown');
}

/** A request whose header lines are `lines` plus the mandatory ones, CRLF-joined. */
const request = (lines: readonly string[]): string =>
  [
    'OPTIONS sip:bridge@192.0.2.1 SIP/2.0',
    'Via: SIP/2.0/TCP 192.0.2.9:5060;branch=z9hG4bKqp1',
    ...lines,
    'Call-ID: qp-1',
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

describe('quoted-pairs in a whole message', () => {
  // Bytes on the wire: \" \\ \<NUL> \a \<TAB> in display names and quoted parameter values.
  const wire = [
    'INVITE sip:bridge@192.0.2.1 SIP/2.0',
    'Via: SIP/2.0/TCP 192.0.2.9:5060;branch=z9hG4bKqp2;x-note="semi;\\"colon\\""',
    'From: "Zed \\"Z\\" \\\\ N\\\0L" <sip:+919876543210@exotel.example>;tag=f1',
    'To: "\\a\\b\\\tc" <sip:bridge@192.0.2.1>',
    'Contact: "Back\\\\slash, \\"Inc\\"" <sip:z@192.0.2.9:5060;transport=tcp>;x-q="\\\0"',
    'Call-ID: qp-2',
    'CSeq: 1 INVITE',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

  it('unescapes display names, keeps parameter values as written, NUL included', () => {
    const m = parseSipMessage(latin1(wire));
    expect(getFrom(m).displayName).toBe('Zed "Z" \\ N\0L');
    expect(getFrom(m).tag).toBe('f1');
    expect(getTo(m).displayName).toBe('ab\tc');
    const contact = getContact(m);
    expect(contact?.star).toBe(false);
    const c = contact?.star === false ? contact.contacts : [];
    expect(c).toHaveLength(1); // the comma inside the quoted string does not split the list
    expect(c[0]!.displayName).toBe('Back\\slash, "Inc"');
    expect(c[0]!.params.get('x-q')).toBe('"\\\0"');
    expect(getTopVia(m).params.get('x-note')).toBe('"semi;\\"colon\\""');
    expect(getTopVia(m).branch).toBe('z9hG4bKqp2');
  });

  it('round-trips byte for byte through the serializer', () => {
    expect(text(serializeSipMessage(parseSipMessage(latin1(wire))))).toBe(wire);
  });

  it('reads the same message from a stream-style parse of the bytes', () => {
    expect(getFrom(parseSipMessage(latin1(wire), { transport: 'stream' })).displayName).toBe(
      'Zed "Z" \\ N\0L',
    );
  });

  it('refuses a quoted-pair that escapes the CR of a folded line', () => {
    const folded = request(['From: "Zed \\', ' Z" <sip:z@example.com>;tag=1', 'To: <sip:b@example.com>']);
    const e = parseError(() => parseSipMessage(folded));
    expect(e.message).toMatch(/quoted-pair escaping CR or LF/);
    expect(e.header).toBe('From');
  });

  it('refuses a quoted-pair that escapes a bare LF line end', () => {
    const bareLf = request(['To: <sip:b@example.com>']).replace(
      'To: <sip:b@example.com>',
      'From: "Zed \\\n Z" <sip:z@example.com>;tag=1\r\nTo: <sip:b@example.com>',
    );
    expect(parseError(() => parseSipMessage(bareLf)).header).toBe('From');
  });

  it('refuses a NUL that is not a quoted-pair inside a quoted-string', () => {
    const cases = [
      ['From: "Ze\0d" <sip:z@example.com>;tag=1', 'To: <sip:b@example.com>'], // unescaped, in quotes
      ['From: <sip:z@example.com>;tag=1', 'To: <sip:b@example.com>', 'Subject: a\\\0b'], // escaped, no quotes
      ['From: <sip:z@example.com>;tag=1', 'To: "a" b\\\0 <sip:b@example.com>'], // after the quotes closed
    ];
    for (const lines of cases) {
      const e = parseError(() => parseSipMessage(latin1(request(lines))));
      expect(e.message, lines.join(' | ')).toMatch(/NUL outside a quoted-pair/);
    }
  });

  it('a quoted-string does not run into the next header line', () => {
    // The unterminated quote of X-A ends with its line: the NUL of X-B is outside quotes.
    const lines = ['From: <sip:z@example.com>;tag=1', 'To: <sip:b@example.com>', 'X-A: "open', 'X-B: \\\0'];
    expect(parseError(() => parseSipMessage(latin1(request(lines)))).message).toMatch(/NUL outside/);
  });
});

describe('quoted-pairs in header values', () => {
  it('display names: every octet but CR and LF can be escaped', () => {
    for (let c = 0; c < 0x80; c++) {
      if (c === 0x0d || c === 0x0a) continue;
      const ch = String.fromCharCode(c);
      expect(parseNameAddr(`"a\\${ch}b" <sip:x@example.com>`).displayName, `octet ${c}`).toBe(`a${ch}b`);
    }
    for (const ch of ['\r', '\n']) {
      const e = parseError(() => parseNameAddr(`"a\\${ch}b" <sip:x@example.com>`, 'To'));
      expect(e.header).toBe('To');
      expect(e.message).toMatch(/quoted-pair escapes CR or LF/);
    }
  });

  it('an escaped quote or backslash at the end of the display name', () => {
    expect(parseNameAddr('"\\"" <sip:x@example.com>').displayName).toBe('"');
    expect(parseNameAddr('"\\\\" <sip:x@example.com>').displayName).toBe('\\');
    expect(parseError(() => parseNameAddr('"\\" <sip:x@example.com>')).message).toMatch(/unterminated/);
  });

  it('quoted parameter values: kept as written, CR or LF escaped refused (Via, Contact)', () => {
    expect(parseVia('SIP/2.0/UDP h;branch=z9hG4bK1;x="a\\"b\\\0"')[0]!.params.get('x')).toBe('"a\\"b\\\0"');
    expect(parseError(() => parseVia('SIP/2.0/UDP h;branch=z9hG4bK1;x="a\\\rb"')).header).toBe('Via');
    expect(parseError(() => parseNameAddr('<sip:x@example.com>;x="a\\\nb"', 'Contact')).header).toBe(
      'Contact',
    );
  });

  it('authentication parameters are unescaped; CR or LF escaped refused', () => {
    const c = parseAuthChallenge('Digest realm="ex\\"otel", nonce="n\\\\1\\\0", qop="auth"');
    expect(c.realm).toBe('ex"otel');
    expect(c.nonce).toBe('n\\1\0');
    expect(c.qop).toEqual(['auth']);
    const e = parseError(() => parseAuthChallenge('Digest realm="a\\\nb", nonce="n"', 'Proxy-Authenticate'));
    expect(e.header).toBe('Proxy-Authenticate');
  });
});

describe('writing display names', () => {
  const uri = parseUri('sip:x@example.com');

  it('escapes quotes, backslashes and control octets, NUL included, and the serializer lets them through', () => {
    const dn = 'a"b\\c\0d\x01e\x7ff\tg';
    const written = formatNameAddr({ displayName: dn, uri, uriText: 'sip:x@example.com', params: new Map() });
    expect(written).toBe('"a\\"b\\\\c\\\0d\\\x01e\\\x7ff\tg" <sip:x@example.com>');
    expect(parseNameAddr(written).displayName).toBe(dn);
    const req = createRequest('OPTIONS', 'sip:x@example.com', [['X-Caller', written]]);
    expect(text(serializeSipMessage(req))).toContain(`X-Caller: ${written}\r\n`);
  });

  it('the serializer still refuses CR and LF in a display name, and a NUL outside quotes', () => {
    const withCr = formatNameAddr({ displayName: 'a\r\nVia: evil', uri, uriText: '', params: new Map() });
    expect(() =>
      serializeSipMessage(createRequest('OPTIONS', 'sip:x@example.com', [['From', withCr]])),
    ).toThrow(InvalidHeaderError);
    expect(() =>
      serializeSipMessage(createRequest('OPTIONS', 'sip:x@example.com', [['X-A', 'a\\\0b']])),
    ).toThrow(InvalidHeaderError);
  });

  it('any display name without CR or LF survives format → parse (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii' }), fc.string(), (ascii, unicode) => {
        for (const dn of [ascii, unicode]) {
          if (/[\r\n]/.test(dn)) continue;
          const written = formatNameAddr({ displayName: dn, uri, uriText: '', params: new Map() });
          expect(parseNameAddr(written).displayName).toBe(dn);
        }
      }),
    );
  });
});
