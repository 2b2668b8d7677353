import { describe, expect, it } from 'vitest';
import { InviteServerTransaction, NonInviteServerTransaction } from '../../src/sip/transaction-server.js';
import { createResponse } from '../../src/sip/message.js';
import { T1, T2, T4, ctx, request } from './transaction-helpers.js';

function events() {
  const ev: string[] = [];
  return {
    ev,
    user: {
      onNoAck: () => ev.push('no-ack'),
      onTransportError: () => ev.push('transport-error'),
      onTerminated: () => ev.push('terminated'),
    },
  };
}

const res = (status: number, reason: string) => createResponse(status, reason, [['CSeq', '7 INVITE']]);
const statuses = (sent: unknown[]) => sent.map((m) => (m as { status: number }).status);

describe('INVITE server transaction (RFC 3261 §17.2.1)', () => {
  it('"if a request retransmission is received while in the Proceeding state, the most recent provisional response ... MUST be passed to the transport layer"', () => {
    const c = ctx(false);
    const tx = new InviteServerTransaction(c, request('INVITE'));
    tx.receiveRequest(request('INVITE')); // nothing sent yet: nothing to repeat
    tx.respond(res(180, 'Ringing'));
    tx.receiveRequest(request('INVITE'));
    expect(statuses(c.sent)).toEqual([180, 180]);
    expect(tx.state).toBe('proceeding');
  });

  it('"for unreliable transports ... timer G is set to fire in T1 seconds" and doubles up to T2; Timer H = 64·T1 reports the missing ACK', () => {
    const c = ctx(false);
    const e = events();
    const times: number[] = [];
    const tx = new InviteServerTransaction(
      { ...c, send: () => times.push(c.clock.now()) },
      request('INVITE'),
      e.user,
    );
    tx.respond(res(486, 'Busy Here'));
    expect(tx.state).toBe('completed');
    c.clock.advance(64 * T1 - 1);
    expect(times.slice(0, 6)).toEqual([0, T1, 3 * T1, 7 * T1, 7 * T1 + T2, 7 * T1 + 2 * T2]);
    expect(e.ev).toEqual([]);
    c.clock.advance(1);
    expect(e.ev).toEqual(['terminated', 'no-ack']);
  });

  it('"if an ACK is received while the server transaction is in the Completed state, the server transaction MUST transition to the Confirmed state"; Timer I = T4 then absorbs ACKs', () => {
    const c = ctx(false);
    const tx = new InviteServerTransaction(c, request('INVITE'));
    tx.respond(res(488, 'Not Acceptable Here'));
    tx.receiveRequest(request('INVITE')); // retransmitted INVITE: final re-sent
    expect(statuses(c.sent)).toEqual([488, 488]);
    tx.receiveRequest(request('ACK'));
    expect(tx.state).toBe('confirmed');
    c.clock.advance(10 * T1);
    expect(c.sent).toHaveLength(2); // Timer G stopped
    c.clock.advance(T4 - 10 * T1);
    expect(tx.state).toBe('terminated');
    expect(c.clock.pending).toBe(0);
  });

  it('reliable transport: no Timer G, and Timer I is zero', () => {
    const c = ctx(true);
    const tx = new InviteServerTransaction(c, request('INVITE'));
    tx.respond(res(603, 'Decline'));
    c.clock.advance(10 * T1);
    expect(c.sent).toHaveLength(1);
    tx.receiveRequest(request('ACK'));
    expect(tx.state).toBe('terminated');
  });

  it('a 2xx moves it to accepted; the 2xx is re-sent from T1 doubling to T2 until the ACK arrives (§13.3.1.4), on any transport; INVITE retransmissions are absorbed', () => {
    const c = ctx(true);
    const times: number[] = [];
    const tx = new InviteServerTransaction(
      { ...c, send: () => times.push(c.clock.now()) },
      request('INVITE'),
    );
    tx.respond(res(200, 'OK'));
    expect(tx.state).toBe('accepted');
    tx.receiveRequest(request('INVITE'));
    c.clock.advance(7 * T1);
    expect(times).toEqual([0, T1, 3 * T1, 7 * T1]);
    tx.ackReceived();
    c.clock.advance(T2 * 3);
    expect(times).toHaveLength(4);
    c.clock.advance(64 * T1);
    expect(tx.state).toBe('terminated');
  });

  it('a 2xx never ACKed within 64·T1 is reported to the TU (which should send BYE)', () => {
    const c = ctx(false);
    const e = events();
    const tx = new InviteServerTransaction(c, request('INVITE'), e.user);
    tx.respond(res(200, 'OK'));
    c.clock.advance(64 * T1);
    expect(e.ev).toEqual(['terminated', 'no-ack']);
  });
});

describe('non-INVITE server transaction (RFC 3261 §17.2.2)', () => {
  it('"once in the Trying state, any further request retransmissions are discarded"', () => {
    const c = ctx(false);
    const tx = new NonInviteServerTransaction(c, request('BYE'));
    tx.receiveRequest(request('BYE'));
    expect(c.sent).toHaveLength(0);
    expect(tx.state).toBe('trying');
  });

  it('"while in the Completed state, the server transaction MUST pass the final response to the transport layer for retransmission whenever a retransmission of the request is received"; Timer J = 64·T1 on UDP', () => {
    const c = ctx(false);
    const tx = new NonInviteServerTransaction(c, request('BYE'));
    tx.respond(res(200, 'OK'));
    tx.receiveRequest(request('BYE'));
    tx.receiveRequest(request('BYE'));
    expect(statuses(c.sent)).toEqual([200, 200, 200]);
    c.clock.advance(64 * T1 - 1);
    expect(tx.state).toBe('completed');
    c.clock.advance(1);
    expect(tx.state).toBe('terminated');
  });

  it('"the server transaction ... MUST set Timer J to fire in ... zero seconds for reliable transports"', () => {
    const c = ctx(true);
    const tx = new NonInviteServerTransaction(c, request('OPTIONS'));
    tx.respond(res(200, 'OK'));
    expect(tx.state).toBe('terminated');
    expect(c.clock.pending).toBe(0);
  });

  it('in Proceeding a retransmission gets the last provisional response again', () => {
    const c = ctx(false);
    const tx = new NonInviteServerTransaction(c, request('BYE'));
    tx.respond(res(100, 'Trying'));
    tx.receiveRequest(request('BYE'));
    expect(statuses(c.sent)).toEqual([100, 100]);
    expect(tx.state).toBe('proceeding');
  });
});
