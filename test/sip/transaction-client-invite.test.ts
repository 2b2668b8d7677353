import { describe, expect, it } from 'vitest';
import { InviteClientTransaction, TIMER_D_UNRELIABLE_MS } from '../../src/sip/transaction-client-invite.js';
import { SipTransportError } from '../../src/errors.js';
import type { SipRequest } from '../../src/sip/message.js';
import { T1, ctx, methodsSent, recorder, request, response } from './transaction-helpers.js';

function make(reliable: boolean) {
  const c = ctx(reliable);
  const rec = recorder();
  const tx = new InviteClientTransaction(c, request('INVITE'), rec.user);
  tx.start();
  return { c, rec, tx };
}

describe('INVITE client transaction (RFC 3261 §17.1.1)', () => {
  it('"the client transaction MUST start timer A with a value of T1" on an unreliable transport, doubling each time', () => {
    const { c, tx } = make(false);
    expect(methodsSent(c.sent)).toEqual(['INVITE']);
    expect(tx.state).toBe('calling');
    c.clock.advance(T1 - 1);
    expect(c.sent).toHaveLength(1);
    c.clock.advance(1); // t = T1
    expect(c.sent).toHaveLength(2);
    c.clock.advance(2 * T1); // t = 3·T1
    expect(c.sent).toHaveLength(3);
    c.clock.advance(4 * T1 - 1);
    expect(c.sent).toHaveLength(3);
    c.clock.advance(1); // t = 7·T1
    expect(c.sent).toHaveLength(4);
    expect(c.sent[3]).toBe(c.sent[0]); // the very same request, same branch
  });

  it('"for any transport, the client transaction MUST start timer B with a value of 64*T1"; when it fires the TU is told of a timeout', () => {
    const { c, rec, tx } = make(false);
    c.clock.advance(64 * T1 - 1);
    expect(rec.events).toEqual([]);
    c.clock.advance(1);
    expect(rec.events).toEqual(['terminated', 'timeout']);
    expect(tx.state).toBe('terminated');
    // Timer A fired at T1, 3, 7, 15, 31, 63 ·T1: 1 original + 6 retransmissions.
    expect(c.sent).toHaveLength(7);
    expect(c.clock.pending).toBe(0);
  });

  it('"if an unreliable transport is not being used, the client transaction MUST NOT start timer A"', () => {
    const { c, rec } = make(true);
    c.clock.advance(64 * T1 - 1);
    expect(c.sent).toHaveLength(1);
    c.clock.advance(1);
    expect(rec.events).toEqual(['terminated', 'timeout']);
  });

  it('a provisional response moves it to proceeding, stops retransmission and reaches the TU; Timer B no longer applies', () => {
    const { c, rec, tx } = make(false);
    tx.receiveResponse(response(100, 'Trying'));
    tx.receiveResponse(response(180, 'Ringing'));
    expect(tx.state).toBe('proceeding');
    expect(rec.events).toEqual(['response 100', 'response 180']);
    c.clock.advance(200 * T1);
    expect(c.sent).toHaveLength(1);
    expect(tx.state).toBe('proceeding');
  });

  it('"when in either the Calling or Proceeding states, reception of a response with status code from 300-699 MUST cause the client transaction to transition to Completed" and generate an ACK', () => {
    const { c, rec, tx } = make(false);
    tx.receiveResponse(response(180, 'Ringing'));
    tx.receiveResponse(response(486, 'Busy Here'));
    expect(tx.state).toBe('completed');
    expect(rec.events).toEqual(['response 180', 'response 486']);
    const ack = c.sent[1] as SipRequest;
    expect(ack.method).toBe('ACK');
    // §17.1.1.3: same Request-URI, top Via (branch), Call-ID, From, CSeq number; To from the response; Route kept.
    expect(ack.uri).toBe('sip:+919876543210@pstn.in1.exotel.com:5070');
    expect(ack.headers.getAll('Via')).toEqual(['SIP/2.0/UDP 203.0.113.5:5061;branch=z9hG4bKtest1;rport']);
    expect(ack.headers.get('To')).toBe('<sip:+919876543210@pstn.in1.exotel.com>;tag=theirs');
    expect(ack.headers.get('From')).toBe('<sip:08044319240@acme.sip.exotel.com>;tag=ours');
    expect(ack.headers.get('Call-ID')).toBe('call-1@203.0.113.5');
    expect(ack.headers.get('CSeq')).toBe('7 ACK');
    expect(ack.headers.get('Route')).toBe('<sip:10.0.0.1:5070;lr>');
  });

  it('"any retransmissions of the final response that are received while in the Completed state MUST cause the ACK to be re-passed to the transport layer" but not to the TU', () => {
    const { c, rec, tx } = make(false);
    tx.receiveResponse(response(603, 'Decline'));
    tx.receiveResponse(response(603, 'Decline'));
    tx.receiveResponse(response(603, 'Decline'));
    expect(methodsSent(c.sent)).toEqual(['INVITE', 'ACK', 'ACK', 'ACK']);
    expect(rec.events).toEqual(['response 603']);
  });

  it('"timer D ... at least 32 seconds for unreliable transports"; then the transaction terminates', () => {
    const { c, rec, tx } = make(false);
    tx.receiveResponse(response(404, 'Not Found'));
    c.clock.advance(TIMER_D_UNRELIABLE_MS - 1);
    expect(tx.state).toBe('completed');
    c.clock.advance(1);
    expect(tx.state).toBe('terminated');
    expect(rec.events).toEqual(['response 404', 'terminated']);
  });

  it('"timer D ... zero seconds for reliable transports"', () => {
    const { c, tx } = make(true);
    tx.receiveResponse(response(503, 'Service Unavailable'));
    expect(tx.state).toBe('terminated');
    expect(methodsSent(c.sent)).toEqual(['INVITE', 'ACK']);
    expect(c.clock.pending).toBe(0);
  });

  it('a 2xx moves it to accepted (RFC 6026); 2xx retransmissions still reach the TU, the transaction sends no ACK itself; Timer M = 64·T1 ends it', () => {
    const { c, rec, tx } = make(false);
    tx.receiveResponse(response(200, 'OK'));
    expect(tx.state).toBe('accepted');
    tx.receiveResponse(response(200, 'OK'));
    expect(rec.events).toEqual(['response 200', 'response 200']);
    expect(methodsSent(c.sent)).toEqual(['INVITE']);
    c.clock.advance(64 * T1 - 1);
    expect(tx.state).toBe('accepted');
    c.clock.advance(1);
    expect(tx.state).toBe('terminated');
  });

  it('"if ... the transport layer indicates a failure ... the client transaction SHOULD inform the TU ... and go to Terminated"', () => {
    const { c, rec, tx } = make(false);
    tx.transportError(new SipTransportError('ECONNRESET'));
    expect(tx.state).toBe('terminated');
    expect(rec.events).toEqual(['terminated', 'transport-error']);
    expect(c.clock.pending).toBe(0);
  });
});
