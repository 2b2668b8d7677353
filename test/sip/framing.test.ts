import { describe, expect, it } from 'vitest';

import { SipMessageTooLargeError, SipParseError } from '../../src/errors.js';
import { SipStreamFramer } from '../../src/sip/framing.js';
import type { SipKeepAliveKind } from '../../src/sip/framing.js';
import type { SipMessage } from '../../src/sip/message.js';
import { parseSipMessage } from '../../src/sip/parser.js';
import { BYE, EXOTEL_INVITE, OK_200, TRYING_100, msg } from './sip-vectors.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
/** The comparable content of a message (start line, headers, body). */
const shape = (m: SipMessage): unknown => ({
  start: m.kind === 'request' ? `${m.method} ${m.uri}` : `${m.status} ${m.reason}`,
  headers: [...m.headers].map((h) => [h.name, h.value]),
  body: new TextDecoder().decode(m.body),
});

const VECTORS: [string, string][] = [
  ['INVITE with SDP', EXOTEL_INVITE],
  ['200 OK with SDP', OK_200],
  ['100 Trying', TRYING_100],
  ['BYE', BYE],
];

describe('SipStreamFramer: splits', () => {
  it.each(VECTORS)('%s: every split into two chunks gives the same message', (_name, vector) => {
    const bytes = enc(vector);
    const expected = shape(parseSipMessage(vector));
    for (let cut = 0; cut <= bytes.length; cut++) {
      const f = new SipStreamFramer();
      const got = [...f.push(bytes.subarray(0, cut)), ...f.push(bytes.subarray(cut))];
      expect(got.map(shape), `cut at ${cut}`).toEqual([expected]);
      expect(f.bufferedBytes).toBe(0);
    }
  });

  it.each(VECTORS)('%s: byte by byte', (_name, vector) => {
    const bytes = enc(vector);
    const f = new SipStreamFramer();
    const got: SipMessage[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const out = f.push(bytes.subarray(i, i + 1));
      if (i < bytes.length - 1) expect(out).toHaveLength(0);
      got.push(...out);
    }
    expect(got.map(shape)).toEqual([shape(parseSipMessage(vector))]);
  });

  it('returns several messages from one chunk, in order, with keep-alives between them', () => {
    const f = new SipStreamFramer();
    const all = enc(`${EXOTEL_INVITE}\r\n\r\n${TRYING_100}\r\n${OK_200}${BYE}`);
    const out = f.push(all);
    expect(out.map((m) => (m.kind === 'request' ? m.method : m.status))).toEqual(['INVITE', 100, 200, 'BYE']);
    expect(out.keepAlivePings).toBe(1);
    expect(out.keepAlivePongs).toBe(1);
    expect(out.messages).toBe(out);
    expect(f.bufferedBytes).toBe(0);
  });

  it('handles a message split across three chunks at arbitrary points with others around it', () => {
    const bytes = enc(`${TRYING_100}${OK_200}${BYE}`);
    const expected = [TRYING_100, OK_200, BYE].map((v) => shape(parseSipMessage(v)));
    for (let a = 1; a < bytes.length; a += 37) {
      for (let b = a; b < bytes.length; b += 53) {
        const f = new SipStreamFramer();
        const got = [
          ...f.push(bytes.subarray(0, a)),
          ...f.push(bytes.subarray(a, b)),
          ...f.push(bytes.subarray(b)),
        ];
        expect(got.map(shape)).toEqual(expected);
      }
    }
  });

  it('copies bodies, so reusing the chunk afterwards does not change them', () => {
    const expectedBody = new TextDecoder().decode(parseSipMessage(OK_200).body);
    const f = new SipStreamFramer();
    const chunk = enc(OK_200);
    const [m] = f.push(chunk);
    chunk.fill(0x41);
    expect(new TextDecoder().decode(m!.body)).toBe(expectedBody);
  });
});

describe('SipStreamFramer: keep-alives (RFC 5626 4.4.1)', () => {
  it('reports a double-CRLF ping and a single-CRLF pong, through the batch and the callback', () => {
    const seen: SipKeepAliveKind[] = [];
    const f = new SipStreamFramer({ onKeepAlive: (k) => seen.push(k) });
    const ping = f.push(enc('\r\n\r\n'));
    expect([ping.length, ping.keepAlivePings, ping.keepAlivePongs]).toEqual([0, 1, 0]);
    const pong = f.push(enc('\r\n'));
    expect([pong.keepAlivePings, pong.keepAlivePongs]).toEqual([0, 1]);
    const next = f.push(enc(TRYING_100));
    expect(next).toHaveLength(1);
    expect(seen).toEqual(['ping', 'pong']);
    expect([f.keepAlivePings, f.keepAlivePongs]).toEqual([1, 1]);
    expect(f.bufferedBytes).toBe(0);
  });

  it('still sees a ping whose two CRLFs arrive in separate chunks', () => {
    const f = new SipStreamFramer();
    f.push(enc('\r\n'));
    expect(f.push(enc('\r\n')).keepAlivePings).toBe(1);
  });

  /** Pushes `chunks` into a fresh framer; totals of what came out. */
  const feed = (chunks: Uint8Array[], afterPong?: (f: SipStreamFramer) => void) => {
    const seen: SipKeepAliveKind[] = [];
    const f = new SipStreamFramer({ onKeepAlive: (k) => seen.push(k) });
    let messages = 0;
    for (const c of chunks) {
      const out = f.push(c);
      messages += out.length;
      if (out.keepAlivePongs > 0) afterPong?.(f);
    }
    return { seen, messages, pings: f.keepAlivePings, pongs: f.keepAlivePongs, buffered: f.bufferedBytes };
  };
  const splits = (bytes: Uint8Array): [number, Uint8Array[]][] => {
    const out: [number, Uint8Array[]][] = [];
    for (let cut = 0; cut <= bytes.length; cut++)
      out.push([cut, [bytes.subarray(0, cut), bytes.subarray(cut)]]);
    return out;
  };

  it('sees a ping split at every offset exactly once (after its first CRLF, a pong is reported first)', () => {
    for (const [cut, chunks] of splits(enc('\r\n\r\n'))) {
      const r = feed(chunks);
      expect(r.pings, `cut at ${cut}`).toBe(1);
      // A lone CRLF at the end of a chunk is a pong until more arrives: no clock, no wait.
      expect(r.seen, `cut at ${cut}`).toEqual(cut === 2 || cut === 3 ? ['pong', 'ping'] : ['ping']);
      expect(r.buffered).toBe(0);
    }
    const bytewise = feed([...enc('\r\n\r\n')].map((b) => new Uint8Array([b])));
    expect(bytewise.seen).toEqual(['pong', 'ping']);
  });

  it('sees a pong split at every offset exactly once, and never a ping', () => {
    for (const [cut, chunks] of splits(enc('\r\n'))) {
      expect(feed(chunks).seen, `cut at ${cut}`).toEqual(['pong']);
    }
  });

  it('sees a ping, then a message, split at every offset', () => {
    for (const [cut, chunks] of splits(enc(`\r\n\r\n${BYE}`))) {
      const r = feed(chunks);
      expect([r.messages, r.pings], `cut at ${cut}`).toEqual([1, 1]);
      expect(r.buffered).toBe(0);
    }
  });

  it('sees a pong, then a message, split at every offset, without a ping', () => {
    for (const [cut, chunks] of splits(enc(`\r\n${BYE}`))) {
      const r = feed(chunks);
      expect([r.messages, r.pings, r.pongs], `cut at ${cut}`).toEqual([1, 0, 1]);
    }
  });

  it('two pongs in separate chunks: the second completes a ping, unless the pinging side took the first (pongTaken)', () => {
    const two = [enc('\r\n'), enc('\r\n')];
    expect(feed(two).seen).toEqual(['pong', 'ping']);
    expect(feed(two, (f) => f.pongTaken()).seen).toEqual(['pong', 'pong']);
    // pongTaken on a pong not at the end of a chunk changes nothing.
    const r = feed([enc(`\r\n${BYE}`), enc('\r\n\r\n')], (f) => f.pongTaken());
    expect(r.seen).toEqual(['pong', 'ping']);
  });

  it('counts a pong right before a message once', () => {
    const f = new SipStreamFramer();
    const out = f.push(enc(`\r\n${BYE}`));
    expect([out.length, out.keepAlivePings, out.keepAlivePongs]).toEqual([1, 0, 1]);
  });
});

describe('SipStreamFramer: limits and errors', () => {
  const small = { maxMessageBytes: 1024, maxHeaders: 20 };

  it('rejects a header section larger than maxMessageBytes without buffering past the limit', () => {
    const f = new SipStreamFramer(small);
    f.push(enc('OPTIONS sip:b@example.com SIP/2.0\r\n'));
    let err: unknown;
    for (let i = 0; i < 100 && err === undefined; i++) {
      try {
        f.push(enc(`X-Filler-${i}: ${'x'.repeat(100)}`));
        expect(f.bufferedBytes).toBeLessThanOrEqual(1024 + 120);
      } catch (e) {
        err = e;
      }
    }
    expect(err).toBeInstanceOf(SipMessageTooLargeError);
    expect((err as SipMessageTooLargeError).code).toBe('SIP_MESSAGE_TOO_LARGE');
    expect(f.bufferedBytes).toBe(0);
  });

  it('rejects a Content-Length of 10 MB as soon as the header section is complete', () => {
    const f = new SipStreamFramer();
    const head = msg([
      'MESSAGE sip:b@example.com SIP/2.0',
      'Via: SIP/2.0/TCP h;branch=z9hG4bK1',
      'From: <sip:a@example.com>;tag=1',
      'To: <sip:b@example.com>',
      'Call-ID: big',
      'CSeq: 1 MESSAGE',
      `Content-Length: ${10 * 1024 * 1024}`,
    ]);
    expect(() => f.push(enc(`${head}first body bytes`))).toThrow(SipMessageTooLargeError);
    expect(f.bufferedBytes).toBe(0);
  });

  it('accepts exactly maxHeaders header lines and rejects one more', () => {
    const withFillers = (n: number): string => {
      const lines = [
        'OPTIONS sip:b@example.com SIP/2.0',
        'Via: SIP/2.0/TCP h;branch=z9hG4bK1',
        'From: <sip:a@example.com>;tag=1',
        'To: <sip:b@example.com>',
        'Call-ID: many',
        'CSeq: 1 OPTIONS',
      ];
      for (let i = 0; i < n; i++) lines.push(`X-H${i}: v`);
      lines.push('Content-Length: 0');
      return msg(lines);
    };
    expect(new SipStreamFramer(small).push(enc(withFillers(14)))).toHaveLength(1);
    let err: unknown;
    try {
      new SipStreamFramer(small).push(enc(withFillers(15)));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SipMessageTooLargeError);
    expect((err as Error).message).toMatch(/more than 20 header lines/);
  });

  it('requires Content-Length on a stream (RFC 3261 18.3)', () => {
    const noLength = msg([
      'OPTIONS sip:b@example.com SIP/2.0',
      'Via: SIP/2.0/TCP h;branch=z9hG4bK1',
      'From: <sip:a@example.com>;tag=1',
      'To: <sip:b@example.com>',
      'Call-ID: nolen',
      'CSeq: 1 OPTIONS',
    ]);
    expect(() => new SipStreamFramer().push(enc(noLength))).toThrow(
      expect.objectContaining({ header: 'Content-Length', code: 'SIP_PARSE' }),
    );
  });

  it('is poisoned after an error: every later push throws the same class', () => {
    const f = new SipStreamFramer();
    expect(() => f.push(enc('NOT A SIP START LINE\r\nX: y\r\n\r\n'))).toThrow(SipParseError);
    expect(f.failed).toBe(true);
    expect(() => f.push(enc(TRYING_100))).toThrow(SipParseError);
    expect(() => f.push(new Uint8Array(0))).toThrow(SipParseError);
  });

  it('keeps bufferedBytes equal to the unconsumed tail', () => {
    const f = new SipStreamFramer();
    const bytes = enc(`${TRYING_100}${BYE}`);
    const cut = enc(TRYING_100).length + 10;
    expect(f.push(bytes.subarray(0, cut))).toHaveLength(1);
    expect(f.bufferedBytes).toBe(10);
    expect(f.push(bytes.subarray(cut))).toHaveLength(1);
    expect(f.bufferedBytes).toBe(0);
  });

  it('assembles a 45 kB header section fed in 16-byte chunks', () => {
    const lines = ['OPTIONS sip:b@example.com SIP/2.0'];
    for (let i = 0; i < 90; i++) lines.push(`X-Filler-${i}: ${'y'.repeat(500)}`);
    lines.push(
      'Via: SIP/2.0/TCP h;branch=z9hG4bK1',
      'From: <sip:a@example.com>;tag=1',
      'To: <sip:b@example.com>',
      'Call-ID: big-head',
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
    );
    const bytes = enc(msg(lines));
    const f = new SipStreamFramer();
    let got = 0;
    for (let i = 0; i < bytes.length; i += 16) got += f.push(bytes.subarray(i, i + 16)).length;
    expect(got).toBe(1);
    expect(bytes.length).toBeGreaterThan(45_000);
    expect(f.bufferedBytes).toBe(0);
  });
});
