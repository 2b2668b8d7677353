import { describe, expect, it } from 'vitest';
import { Dialog, hopOf, parseRouteEntries } from '../../src/sip/dialog.js';
import { createRequest, createResponse } from '../../src/sip/message.js';
import { parseUri } from '../../src/sip/uri.js';
import { SipParseError } from '../../src/errors.js';

const invite = () =>
  createRequest('INVITE', 'sip:+919876543210@pstn.in1.exotel.com:5070', [
    ['Via', 'SIP/2.0/TCP 203.0.113.5:5061;branch=z9hG4bKinv1;rport'],
    ['Max-Forwards', '70'],
    ['From', '<sip:08044319240@acme.sip.exotel.com>;tag=ourtag'],
    ['To', '<sip:+919876543210@pstn.in1.exotel.com>'],
    ['Call-ID', 'abc@203.0.113.5'],
    ['CSeq', '2 INVITE'],
    ['Contact', '<sip:08044319240@203.0.113.5:5061;transport=tcp>'],
  ]);

const ok = (extra: [string, string][]) =>
  createResponse(200, 'OK', [
    ['Via', 'SIP/2.0/TCP 203.0.113.5:5061;branch=z9hG4bKinv1;rport=40000;received=198.51.100.9'],
    ...extra,
    ['From', '<sip:08044319240@acme.sip.exotel.com>;tag=ourtag'],
    ['To', '<sip:+919876543210@pstn.in1.exotel.com>;tag=exo-77'],
    ['Call-ID', 'abc@203.0.113.5'],
    ['CSeq', '2 INVITE'],
  ]);

describe('Dialog (RFC 3261 §12) as the UAC', () => {
  it('takes Call-ID, both tags, the local CSeq and the Contact as remote target from the 2xx', () => {
    const d = Dialog.fromUacResponse(invite(), ok([['Contact', '<sip:gw@10.1.2.3:5070;transport=tcp>']]));
    expect(d.callId).toBe('abc@203.0.113.5');
    expect(d.localTag).toBe('ourtag');
    expect(d.remoteTag).toBe('exo-77');
    expect(d.localSeq).toBe(2);
    expect(d.remoteTarget).toBe('sip:gw@10.1.2.3:5070;transport=tcp');
    expect(d.routeSet).toEqual([]);
  });

  it('"the route set MUST be set to the list of URIs in the Record-Route header field from the response, taken in reverse order"', () => {
    const d = Dialog.fromUacResponse(
      invite(),
      ok([
        ['Record-Route', '<sip:p3.exotel.com;lr>, <sip:p2.exotel.com;lr>'],
        ['Record-Route', '<sip:p1.exotel.com:5070;transport=tcp;lr>'],
        ['Contact', '<sip:gw@10.1.2.3:5070>'],
      ]),
    );
    expect(d.routeSet.map((r) => r.text)).toEqual([
      '<sip:p1.exotel.com:5070;transport=tcp;lr>',
      '<sip:p2.exotel.com;lr>',
      '<sip:p3.exotel.com;lr>',
    ]);
  });

  it('builds the ACK of the 2xx with the INVITE CSeq number, and BYE with the next one; loose routing keeps the remote target as Request-URI', () => {
    const d = Dialog.fromUacResponse(
      invite(),
      ok([
        ['Record-Route', '<sip:127.0.0.1:5070;transport=tcp;lr>'],
        ['Contact', '<sip:uas@127.0.0.1:1;transport=tls>'],
      ]),
    );
    const ack = d.createRequest('ACK', { ackOf: 2 });
    expect(ack.uri).toBe('sip:uas@127.0.0.1:1;transport=tls');
    expect(ack.headers.getAll('Route')).toEqual(['<sip:127.0.0.1:5070;transport=tcp;lr>']);
    expect(ack.headers.get('CSeq')).toBe('2 ACK');
    expect(ack.headers.get('From')).toBe('<sip:08044319240@acme.sip.exotel.com>;tag=ourtag');
    expect(ack.headers.get('To')).toBe('<sip:+919876543210@pstn.in1.exotel.com>;tag=exo-77');
    expect(ack.headers.get('Call-ID')).toBe('abc@203.0.113.5');
    expect(ack.headers.has('Via')).toBe(false); // the sender adds it with a fresh branch
    const bye = d.createRequest('BYE');
    expect(bye.headers.get('CSeq')).toBe('3 BYE');
    expect(d.createRequest('BYE').headers.get('CSeq')).toBe('4 BYE');
    // LiveKit SIP #730: the next hop is the Record-Route (the live TCP peer), not the tls Contact.
    expect(d.nextHop('tcp')).toEqual({ protocol: 'tcp', host: '127.0.0.1', port: 5070 });
  });

  it('strict routing (first route without lr): Request-URI is that route, the remote target becomes the last Route', () => {
    const d = Dialog.fromUacResponse(
      invite(),
      ok([
        ['Record-Route', '<sip:p2.example.com;lr>, <sip:p1.example.com:5080>'],
        ['Contact', '<sip:gw@10.1.2.3:5070>'],
      ]),
    );
    const bye = d.createRequest('BYE');
    expect(bye.uri).toBe('sip:p1.example.com:5080');
    expect(bye.headers.getAll('Route')).toEqual(['<sip:p2.example.com;lr>', '<sip:gw@10.1.2.3:5070>']);
    expect(d.nextHop('tcp')).toEqual({ protocol: 'tcp', host: 'p1.example.com', port: 5080 });
  });

  it('without a route set, requests go to the remote target', () => {
    const d = Dialog.fromUacResponse(invite(), ok([['Contact', '<sips:gw@10.1.2.3>']]));
    expect(d.createRequest('BYE').uri).toBe('sips:gw@10.1.2.3');
    expect(d.nextHop('tcp')).toEqual({ protocol: 'tls', host: '10.1.2.3', port: 5061 });
  });

  it('matches requests from the far end by Call-ID and swapped tags, and refuses CSeq numbers that go backwards', () => {
    const d = Dialog.fromUacResponse(invite(), ok([['Contact', '<sip:gw@10.1.2.3:5070>']]));
    const bye = (cseq: number, toTag = 'ourtag') =>
      createRequest('BYE', 'sip:08044319240@203.0.113.5:5061', [
        ['From', '<sip:+919876543210@pstn.in1.exotel.com>;tag=exo-77'],
        ['To', `<sip:08044319240@acme.sip.exotel.com>;tag=${toTag}`],
        ['Call-ID', 'abc@203.0.113.5'],
        ['CSeq', `${cseq} BYE`],
      ]);
    expect(d.matchesRequest(bye(5))).toBe(true);
    expect(d.matchesRequest(bye(5, 'other'))).toBe(false);
    expect(d.acceptRemoteCSeq(bye(5))).toBe(true);
    expect(d.remoteSeq).toBe(5);
    expect(d.acceptRemoteCSeq(bye(4))).toBe(false);
    expect(d.acceptRemoteCSeq(bye(6))).toBe(true);
  });

  it('a target refresh replaces the remote target', () => {
    const d = Dialog.fromUacResponse(invite(), ok([['Contact', '<sip:gw@10.1.2.3:5070>']]));
    const reinvite = createRequest('INVITE', 'sip:x@y', [
      ['Contact', '<sip:gw@10.9.9.9:5070;transport=tcp>'],
    ]);
    d.refreshTarget(reinvite);
    expect(d.remoteTarget).toBe('sip:gw@10.9.9.9:5070;transport=tcp');
  });

  it('a 2xx without a To tag cannot make a dialog', () => {
    const res = createResponse(200, 'OK', [
      ['From', '<sip:a@b>;tag=ourtag'],
      ['To', '<sip:c@d>'],
      ['Call-ID', 'abc@203.0.113.5'],
      ['CSeq', '2 INVITE'],
    ]);
    expect(() => Dialog.fromUacResponse(invite(), res)).toThrow(SipParseError);
  });

  it('hopOf honours transport, sips and maddr; default ports 5060 / 5061', () => {
    expect(hopOf(parseUri('sip:a.b'), 'udp')).toEqual({ protocol: 'udp', host: 'a.b', port: 5060 });
    expect(hopOf(parseUri('sip:a.b;transport=TLS'), 'udp')).toEqual({
      protocol: 'tls',
      host: 'a.b',
      port: 5061,
    });
    expect(hopOf(parseUri('sip:a.b:9;maddr=10.0.0.7;transport=tcp'), 'udp')).toEqual({
      protocol: 'tcp',
      host: '10.0.0.7',
      port: 9,
    });
    expect(parseRouteEntries(['<sip:x;lr>,<sip:y>']).map((r) => r.addr.uri.host)).toEqual(['x', 'y']);
  });
});
