/**
 * Call control inside the dialog against SIPp (an independent SIP implementation) on
 * loopback, SIP level only: cold transfer by REFER (accepted, refused, failed in a NOTIFY),
 * the far end holding and resuming the call by re-INVITE, and DTMF in SIP INFO. Each
 * scenario is our own (test/fixtures/sipp/uas-refer*.xml, uas-hold.xml,
 * uas-info-dtmf.xml); each run must end with SIPp exiting 0.
 */
import { describe, expect, it } from 'vitest';
import { startSipp } from '../harness/sipp.js';
import { TransferError } from '../../src/errors.js';
import type { MediaUpdate, ReferProgress, SipInfoDtmf } from '../../src/sip/call-types.js';
import { CALLEE, makeClient, offer, onCleanup, received, useCleanup } from './sip-client-helpers.js';

useCleanup();

async function sipp(scenario: string, transport: 'tcp' | 'udp', extraArgs: string[] = []) {
  const run = await startSipp({ scenario, transport, extraArgs, timeoutS: 15 });
  onCleanup(() => run.stop());
  return run;
}

/** Our client calls SIPp; resolves once answered, with the call's dialog session. */
async function answeredCall(port: number, transport: 'tcp' | 'udp') {
  const { client, records } = makeClient(port, transport);
  const call = client.invite({ to: CALLEE, sdp: offer() });
  await call.answered;
  const session = call.dialogSession!;
  expect(session).toBeDefined();
  return { client, call, session, records };
}

describe.each(['tcp', 'udp'] as const)('call control ↔ SIPp over %s', (transport) => {
  it('REFER accepted: 202, NOTIFY 100 then 200 (terminated); refer resolves, we BYE; SIPp exits 0', async () => {
    const peer = await sipp('uas-refer-accept.xml', transport);
    const { call, session } = await answeredCall(peer.port, transport);
    const progress: ReferProgress[] = [];
    session.on('referProgress', (p) => progress.push(p));
    expect(await session.refer('+919988776655')).toEqual({ status: 200, reason: 'OK' });
    expect(progress.map((p) => [p.status, p.subscriptionState])).toEqual([
      [100, 'active'],
      [200, 'terminated'],
    ]);
    expect(call.state).toBe('answered'); // refer never hangs up by itself
    await call.hangup();
    expect(await call.ended).toEqual({ reason: 'local-bye', status: 200 });
    expect(await peer.done()).toBe(0);
    const refer = (await received(peer)).find((m) => m.startsWith('REFER '))!;
    expect(refer).toContain('Refer-To: <sip:+919988776655@127.0.0.1>');
    expect(refer).toContain('Referred-By: <sip:08044319240@acme.sip.exotel.com>');
  });

  it('REFER refused 403: TransferError with 403 Forbidden, the call goes on until our BYE; SIPp exits 0', async () => {
    const peer = await sipp('uas-refer-reject.xml', transport);
    const { call, session } = await answeredCall(peer.port, transport);
    const err = await session.refer('sip:agent@127.0.0.1').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransferError);
    expect(err).toMatchObject({ status: 403, reason: 'Forbidden' });
    expect(call.state).toBe('answered');
    await call.hangup();
    expect(await peer.done()).toBe(0);
  });

  it('REFER accepted, then a 503 sipfrag: TransferError 503; the call goes on until our BYE; SIPp exits 0', async () => {
    const peer = await sipp('uas-refer-fail-notify.xml', transport);
    const { call, session } = await answeredCall(peer.port, transport);
    const err = await session.refer('+919988776655').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransferError);
    expect(err).toMatchObject({ status: 503, reason: 'Service Unavailable' });
    expect(call.state).toBe('answered');
    await call.hangup();
    expect(await peer.done()).toBe(0);
  });

  it('SIPp holds (a=inactive) and resumes (a=sendrecv): mediaUpdate says inactive then sendrecv; SIPp BYEs; exits 0', async () => {
    const peer = await sipp('uas-hold.xml', transport, ['-d', '300']);
    const { call } = await answeredCall(peer.port, transport);
    const updates: MediaUpdate[] = [];
    call.on('mediaUpdate', (u) => updates.push(u));
    expect(await call.ended).toEqual({ reason: 'remote-bye' });
    expect(updates.map((u) => [u.negotiated.direction, u.negotiated.hold])).toEqual([
      ['inactive', true],
      ['sendrecv', false],
    ]);
    expect(await peer.done()).toBe(0);
  });

  it('INFO dtmf-relay 1, 2, #: dtmf events in order, each INFO answered 200; SIPp BYEs; exits 0', async () => {
    const peer = await sipp('uas-info-dtmf.xml', transport);
    const { call, session } = await answeredCall(peer.port, transport);
    const digits: SipInfoDtmf[] = [];
    session.on('dtmf', (d) => digits.push(d));
    expect(await call.ended).toEqual({ reason: 'remote-bye' });
    expect(digits).toEqual([
      { digit: '1', durationMs: 160, via: 'info' },
      { digit: '2', durationMs: 160, via: 'info' },
      { digit: '#', durationMs: 160, via: 'info' },
    ]);
    expect(await peer.done()).toBe(0);
  });
});
