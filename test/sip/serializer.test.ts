import { describe, expect, it } from 'vitest';

import { InvalidHeaderError } from '../../src/errors.js';
import { createRequest, createResponse } from '../../src/sip/message.js';
import { parseSipMessage } from '../../src/sip/parser.js';
import { serializeSipMessage } from '../../src/sip/serializer.js';
import { WELL_FORMED, msg } from './sip-vectors.js';

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('serializeSipMessage', () => {
  it.each(WELL_FORMED.filter((v) => v.canonical).map((v) => [v.name, v] as const))(
    'reproduces the canonical vector %s byte for byte',
    (_name, v) => {
      const out = serializeSipMessage(parseSipMessage(v.text));
      expect(out).toBeInstanceOf(Uint8Array);
      expect(text(out)).toBe(v.text);
    },
  );

  it.each(WELL_FORMED.map((v) => [v.name, v] as const))(
    'round-trips %s: parse(serialize(parse(x))) = parse(x)',
    (_name, v) => {
      const once = parseSipMessage(v.text);
      const twice = parseSipMessage(serializeSipMessage(once));
      expect(twice).toEqual(once);
    },
  );

  it('writes compact and oddly spelled names canonically, with CRLF everywhere', () => {
    const m = parseSipMessage(
      [
        'OPTIONS sip:b@example.com SIP/2.0',
        'v: SIP/2.0/UDP h;branch=z9hG4bK1',
        'f: <sip:a@example.com>;tag=1',
        't: <sip:b@example.com>',
        'i: abc',
        'cseq: 1 OPTIONS',
        'www-authenticate: Digest realm="r"',
        'x-custom-id: 7',
        'l: 0',
        '',
        '',
      ].join('\n'),
    );
    expect(text(serializeSipMessage(m))).toBe(
      [
        'OPTIONS sip:b@example.com SIP/2.0',
        'Via: SIP/2.0/UDP h;branch=z9hG4bK1',
        'From: <sip:a@example.com>;tag=1',
        'To: <sip:b@example.com>',
        'Call-ID: abc',
        'CSeq: 1 OPTIONS',
        'WWW-Authenticate: Digest realm="r"',
        'X-Custom-Id: 7',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
  });

  it('computes Content-Length from the body, replacing a wrong one in place and dropping duplicates', () => {
    const r = createRequest(
      'MESSAGE',
      'sip:b@example.com',
      [
        ['Via', 'SIP/2.0/TCP h;branch=z9hG4bK1'],
        ['Content-Length', '999'],
        ['Content-Type', 'text/plain'],
        ['l', '5'],
      ],
      'héllo',
    );
    expect(text(serializeSipMessage(r))).toBe(
      msg(
        [
          'MESSAGE sip:b@example.com SIP/2.0',
          'Via: SIP/2.0/TCP h;branch=z9hG4bK1',
          'Content-Length: 6',
          'Content-Type: text/plain',
        ],
        'héllo',
      ),
    );
  });

  it('appends Content-Length last when absent', () => {
    const r = createResponse(200, 'OK', [['Via', 'SIP/2.0/TCP h;branch=z9hG4bK1']]);
    expect(text(serializeSipMessage(r))).toBe(
      msg(['SIP/2.0 200 OK', 'Via: SIP/2.0/TCP h;branch=z9hG4bK1', 'Content-Length: 0']),
    );
  });

  it('encodes UTF-8 header values and copies binary bodies verbatim', () => {
    const body = new Uint8Array([0, 255, 13, 10, 128]);
    const r = createRequest('INFO', 'sip:b@example.com', [['Subject', 'नमस्ते']], body);
    const out = serializeSipMessage(r);
    const headText = text(out.subarray(0, out.length - body.length));
    expect(headText).toBe(msg(['INFO sip:b@example.com SIP/2.0', 'Subject: नमस्ते', 'Content-Length: 5']));
    expect([...out.subarray(out.length - body.length)]).toEqual([...body]);
  });

  describe('refuses injection with InvalidHeaderError', () => {
    const base = (): ReturnType<typeof createRequest> => createRequest('OPTIONS', 'sip:b@example.com');
    const cases: [string, () => ReturnType<typeof createRequest> | ReturnType<typeof createResponse>][] = [
      [
        'CRLF in a value',
        () => {
          const r = base();
          r.headers.append('Subject', 'x\r\nVia: SIP/2.0/UDP evil');
          return r;
        },
      ],
      [
        'bare LF in a value',
        () => {
          const r = base();
          r.headers.append('X-A', 'a\nb');
          return r;
        },
      ],
      [
        'bare CR in a value',
        () => {
          const r = base();
          r.headers.append('X-A', 'a\rb');
          return r;
        },
      ],
      [
        'NUL in a value',
        () => {
          const r = base();
          r.headers.append('X-A', 'a\0b');
          return r;
        },
      ],
      [
        'a name with a space',
        () => {
          const r = base();
          r.headers.append('X Evil', 'v');
          return r;
        },
      ],
      [
        'a name with a colon',
        () => {
          const r = base();
          r.headers.append('X-Evil:', 'v');
          return r;
        },
      ],
      [
        'an empty name',
        () => {
          const r = base();
          r.headers.append('', 'v');
          return r;
        },
      ],
      ['a Request-URI with a space', () => createRequest('OPTIONS', 'sip:b@example.com SIP/2.0\r\nX: y')],
      ['a method that is not a token', () => createRequest('OPT IONS', 'sip:b@example.com')],
      ['a reason phrase with CRLF', () => createResponse(200, 'OK\r\nVia: evil')],
      ['a status outside 100-699', () => createResponse(99, 'Low')],
    ];
    it.each(cases)('%s', (_name, make) => {
      expect(() => serializeSipMessage(make())).toThrow(InvalidHeaderError);
    });
  });
});
