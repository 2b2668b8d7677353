/** Shared fixtures for the transaction tests: a recording send and small message builders. */
import {
  createRequest,
  createResponse,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../../src/sip/message.js';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';
import type { TransactionContext } from '../../src/sip/transaction.js';

export const T1 = 100;
export const T2 = 800;
export const T4 = 1000;

export function ctx(
  reliable: boolean,
  branch = 'z9hG4bKtest1',
): TransactionContext & {
  clock: FakeTimerClock;
  sent: SipMessage[];
} {
  const clock = new FakeTimerClock();
  const sent: SipMessage[] = [];
  return { branch, reliable, clock, timers: { t1: T1, t2: T2, t4: T4 }, send: (m) => sent.push(m), sent };
}

export function request(method: string, branch = 'z9hG4bKtest1'): SipRequest {
  return createRequest(method, 'sip:+919876543210@pstn.in1.exotel.com:5070', [
    ['Via', `SIP/2.0/UDP 203.0.113.5:5061;branch=${branch};rport`],
    ['Route', '<sip:10.0.0.1:5070;lr>'],
    ['Max-Forwards', '70'],
    ['From', '<sip:08044319240@acme.sip.exotel.com>;tag=ours'],
    ['To', '<sip:+919876543210@pstn.in1.exotel.com>'],
    ['Call-ID', 'call-1@203.0.113.5'],
    ['CSeq', `7 ${method}`],
  ]);
}

export function response(
  status: number,
  reason: string,
  method = 'INVITE',
  branch = 'z9hG4bKtest1',
): SipResponse {
  return createResponse(status, reason, [
    ['Via', `SIP/2.0/UDP 203.0.113.5:5061;branch=${branch};rport=5061;received=203.0.113.5`],
    ['From', '<sip:08044319240@acme.sip.exotel.com>;tag=ours'],
    ['To', `<sip:+919876543210@pstn.in1.exotel.com>${status > 100 ? ';tag=theirs' : ''}`],
    ['Call-ID', 'call-1@203.0.113.5'],
    ['CSeq', `7 ${method}`],
  ]);
}

export function recorder() {
  const events: string[] = [];
  return {
    events,
    user: {
      onResponse: (r: SipResponse) => events.push(`response ${r.status}`),
      onTimeout: () => events.push('timeout'),
      onTransportError: () => events.push('transport-error'),
      onTerminated: () => events.push('terminated'),
    },
  };
}

export const methodsSent = (sent: SipMessage[]): string[] =>
  sent.map((m) => (m.kind === 'request' ? m.method : String(m.status)));
