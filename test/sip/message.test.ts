import { describe, expect, it } from 'vitest';
import { SipHeaders, canonicalHeaderName, createRequest } from '../../src/sip/message.js';

describe('canonicalHeaderName', () => {
  it.each([
    ['v', 'Via'],
    ['I', 'Call-ID'],
    ['call-id', 'Call-ID'],
    ['CSEQ', 'CSeq'],
    ['www-authenticate', 'WWW-Authenticate'],
    ['record-route', 'Record-Route'],
    ['x-exotel-callsid', 'X-Exotel-CallSid'],
    ['x-custom-header', 'X-Custom-Header'],
    ['content-length', 'Content-Length'],
    ['l', 'Content-Length'],
  ])('%s → %s', (input, out) => expect(canonicalHeaderName(input)).toBe(out));
});

describe('SipHeaders', () => {
  it('keeps order, looks up case-insensitively and by compact form', () => {
    const h = new SipHeaders([
      ['Via', 'SIP/2.0/TCP a;branch=z9hG4bK1'],
      ['v', 'SIP/2.0/TCP b;branch=z9hG4bK2'],
      ['call-id', 'abc'],
    ]);
    expect(h.get('VIA')).toBe('SIP/2.0/TCP a;branch=z9hG4bK1');
    expect(h.getAll('v')).toEqual(['SIP/2.0/TCP a;branch=z9hG4bK1', 'SIP/2.0/TCP b;branch=z9hG4bK2']);
    expect(h.get('i')).toBe('abc');
    expect([...h].map((x) => x.name)).toEqual(['Via', 'Via', 'Call-ID']);
  });

  it('set replaces every line of a name at the first position; prepend and delete work', () => {
    const h = new SipHeaders([
      ['A', '1'],
      ['B', '2'],
      ['a', '3'],
    ]);
    h.set('a', 'x');
    expect([...h].map((x) => `${x.name}=${x.value}`)).toEqual(['A=x', 'B=2']);
    h.prepend('Via', 'top');
    expect([...h][0]).toEqual({ name: 'Via', value: 'top' });
    h.delete('b');
    expect(h.size).toBe(2);
    expect(h.has('B')).toBe(false);
  });

  it('createRequest encodes a string body as UTF-8 bytes', () => {
    const r = createRequest('OPTIONS', 'sip:a@b', [], 'é');
    expect([...r.body]).toEqual([0xc3, 0xa9]);
  });
});
