import { describe, expect, it } from 'vitest';
import { NonInviteClientTransaction } from '../../src/sip/transaction-client.js';
import { T1, T2, T4, ctx, recorder, request, response } from './transaction-helpers.js';

function make(reliable: boolean, method = 'BYE') {
  const c = ctx(reliable);
  const rec = recorder();
  const tx = new NonInviteClientTransaction(c, request(method), rec.user);
  tx.start();
  return { c, rec, tx };
}

/** Times (relative to start) at which the request was sent, read off the fake clock. */
function sendTimes(reliable: boolean, until: number, provisionalAt?: number): number[] {
  const c = ctx(reliable);
  const rec = recorder();
  const times: number[] = [];
  const tx = new NonInviteClientTransaction(
    { ...c, send: () => times.push(c.clock.now()) },
    request('BYE'),
    rec.user,
  );
  tx.start();
  if (provisionalAt !== undefined) {
    c.clock.advance(provisionalAt);
    tx.receiveResponse(response(100, 'Trying', 'BYE'));
  }
  c.clock.advance(until - (provisionalAt ?? 0));
  return times;
}

describe('non-INVITE client transaction (RFC 3261 §17.1.2)', () => {
  it('"if an unreliable transport is in use, the client transaction MUST set timer E to fire in T1 seconds"; it doubles up to T2', () => {
    // T1=100, T2=800: sends at 0, 100, 300, 700, 1500, 2300, 3100 ...
    expect(sendTimes(false, 3100)).toEqual([0, 100, 300, 700, 1500, 2300, 3100]);
  });

  it('"if timer E fires while in the Proceeding state, the request MUST be passed to the transport layer ... and timer E MUST be reset with a value of T2"', () => {
    // provisional at 150: the E scheduled for 300 fires, then every T2.
    expect(sendTimes(false, 1900, 150)).toEqual([0, 100, 300, 300 + T2, 300 + 2 * T2]);
  });

  it('no retransmission on a reliable transport', () => {
    expect(sendTimes(true, 63 * T1)).toEqual([0]);
  });

  it('"if Timer F fires while the client transaction is still in the Trying state, the client transaction SHOULD inform the TU about the timeout"; F = 64·T1', () => {
    const { c, rec, tx } = make(true);
    c.clock.advance(64 * T1 - 1);
    expect(rec.events).toEqual([]);
    c.clock.advance(1);
    expect(rec.events).toEqual(['terminated', 'timeout']);
    expect(tx.state).toBe('terminated');
  });

  it('Timer F also fires in Proceeding', () => {
    const { c, rec, tx } = make(false);
    tx.receiveResponse(response(100, 'Trying', 'BYE'));
    c.clock.advance(64 * T1);
    expect(rec.events).toEqual(['response 100', 'terminated', 'timeout']);
  });

  it('"once the client transaction enters the Completed state, it MUST set Timer K to fire in T4 seconds for unreliable transports"; retransmitted finals are absorbed', () => {
    const { c, rec, tx } = make(false);
    tx.receiveResponse(response(200, 'OK', 'BYE'));
    tx.receiveResponse(response(200, 'OK', 'BYE'));
    expect(tx.state).toBe('completed');
    expect(rec.events).toEqual(['response 200']);
    c.clock.advance(T4 - 1);
    expect(tx.state).toBe('completed');
    c.clock.advance(1);
    expect(tx.state).toBe('terminated');
    expect(c.sent).toHaveLength(1);
  });

  it('"... and zero seconds for reliable transports"', () => {
    const { c, tx } = make(true);
    tx.receiveResponse(response(481, 'Call/Transaction Does Not Exist', 'BYE'));
    expect(tx.state).toBe('terminated');
    expect(c.clock.pending).toBe(0);
  });

  it('a transport failure informs the TU and terminates', () => {
    const { c, rec, tx } = make(false, 'OPTIONS');
    tx.transportError();
    expect(rec.events).toEqual(['terminated', 'transport-error']);
    expect(tx.state).toBe('terminated');
    expect(c.clock.pending).toBe(0);
    void T2;
  });
});
