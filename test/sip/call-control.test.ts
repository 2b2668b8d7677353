/**
 * Call control inside an established dialog, whole calls on a fake clock over the
 * in-memory network: cold transfer (REFER, RFC 3515, with sipfrag NOTIFYs), hold and
 * resume by re-INVITE (RFC 3264 §8.4) with glare (RFC 3261 §14.1), DTMF in SIP INFO.
 *
 * The far end is one of our own user agents. It does not take REFER (answers 501), so
 * the far end of a transfer is scripted: the REFER is taken off the network before it
 * arrives and the test answers it from the far end's transport, then sends the NOTIFYs
 * with the far end's own `CallSession.request`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { InboundCall } from '../../src/sip/invite-server.js';
import type { CallSession } from '../../src/sip/session.js';
import type { MediaUpdate, ReferProgress, SipInfoDtmf } from '../../src/sip/call-types.js';
import type { SipRequest } from '../../src/sip/message.js';
import { buildResponse } from '../../src/sip/builders.js';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';
import { createSdpOffer } from '../../src/sdp/offer-answer.js';
import { parseSdp } from '../../src/sdp/parse.js';
import type { NegotiatedSdp } from '../../src/sdp/negotiate.js';
import {
  AbortedError,
  ClosedError,
  InvalidHeaderError,
  InvalidPhoneNumberError,
  ReinviteError,
  SipTimeoutError,
  TransferError,
} from '../../src/errors.js';
import { MemoryNetwork, PAIR, clientAndFarEnd, settle, type WireRecord } from './memory-transport.js';

const { us: US, far: FAR, t1: T1 } = PAIR;
const OFFER = createSdpOffer({ ip: '127.0.0.1', port: 40000 });
const FAR_SDP = createSdpOffer({ ip: '127.0.0.2', port: 41000 });
const TO_US = { protocol: 'tcp', host: US.host, port: US.port, flow: undefined } as const;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Our client calls the far end, which answers; both sessions are up. */
async function connected() {
  const clock = new FakeTimerClock();
  const net = new MemoryNetwork('tcp');
  const pair = await clientAndFarEnd(net, clock, { farAllow: 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO' });
  cleanups.push(pair.close);
  const { client, far, farTransport } = pair;
  let inbound: InboundCall | undefined;
  far.onInvite = (c) => {
    inbound = c;
    void c.accept({ sdp: FAR_SDP });
  };
  const call = client.invite({ to: '+919876543210', sdp: OFFER });
  await call.answered;
  await settle();
  const ours = call.dialogSession!;
  const theirs = inbound!.dialogSession!;
  expect(inbound!.state).toBe('answered');

  // REFERs (and whatever else `intercept` names) never reach the far end's user agent:
  // the test plays its part.
  const intercept = new Set(['REFER']);
  const refers: SipRequest[] = [];
  const intercepted: SipRequest[] = [];
  net.drop = (r: WireRecord) => {
    if (r.msg.kind !== 'request' || !intercept.has(r.what) || r.to !== `${FAR.host}:${FAR.port}`)
      return false;
    (r.what === 'REFER' ? refers : intercepted).push(r.msg);
    net.log.push(r);
    return true;
  };
  const farSend = (res: ReturnType<typeof buildResponse>) => void farTransport!.send(res, TO_US);
  /** The far end answers an intercepted request. */
  const farReply = async (req: SipRequest, status: number) => {
    farSend(buildResponse(req, status, { server: 'far-end' }));
    await settle();
  };
  /** The far end answers the REFER. */
  const answerRefer = async (status: number) => {
    await settle();
    const refer = refers.at(-1)!;
    farSend(buildResponse(refer, status, { server: 'far-end' }));
    await settle();
  };
  /** The far end NOTIFYs a sipfrag; resolves with our answer's status. */
  const notify = async (frag: string, state = 'active;expires=60', event = 'refer') => {
    const r = await theirs.request('NOTIFY', {
      body: `${frag}\r\n`,
      contentType: 'message/sipfrag;version=2.0',
      headers: [
        ['Event', event],
        ['Subscription-State', state],
      ],
    });
    await settle();
    return r.status;
  };
  return {
    clock,
    net,
    client,
    far,
    call,
    ours,
    theirs,
    inbound: inbound!,
    refers,
    answerRefer,
    notify,
    intercept,
    intercepted,
    farReply,
  };
}

function sdpOf(r: WireRecord): ReturnType<typeof parseSdp> {
  return parseSdp(new TextDecoder().decode(r.msg.body));
}

function outcome<T>(p: Promise<T>): Promise<{ ok: T } | { err: unknown }> {
  return p.then(
    (ok) => ({ ok }),
    (err: unknown) => ({ err }),
  );
}

describe('cold transfer: REFER and its NOTIFYs (RFC 3515, RFC 3420)', () => {
  it('202, NOTIFY 100 Trying, NOTIFY 200 OK terminated: resolves { status: 200 }, each NOTIFY answered 200, no BYE', async () => {
    const { net, ours, refers, answerRefer, notify, call } = await connected();
    const progress: ReferProgress[] = [];
    ours.on('referProgress', (p) => progress.push(p));
    const result = outcome(ours.refer('+919988776655'));
    await answerRefer(202);
    const refer = refers[0]!;
    expect(refer.headers.get('Refer-To')).toBe('<sip:+919988776655@127.0.0.2>');
    expect(refer.headers.get('Referred-By')).toBe('<sip:08044319240@acme.sip.exotel.com>');
    expect(refer.headers.get('Contact')).toBe('<sip:08044319240@127.0.0.1:5061;transport=tcp>');
    expect(refer.headers.get('CSeq')).toMatch(/^\d+ REFER$/);
    expect(await notify('SIP/2.0 100 Trying')).toBe(200);
    expect(await notify('SIP/2.0 200 OK', 'terminated;reason=noresource')).toBe(200);
    expect(await result).toEqual({ ok: { status: 200, reason: 'OK' } });
    expect(progress).toEqual([
      { status: 100, reason: 'Trying', subscriptionState: 'active' },
      { status: 200, reason: 'OK', subscriptionState: 'terminated' },
    ]);
    // The subscription is over: a late NOTIFY is for nothing.
    expect(await notify('SIP/2.0 200 OK', 'terminated')).toBe(481);
    expect(net.labels()).not.toContain('BYE');
    expect(call.state).toBe('answered');
  });

  it('a NOTIFY may come before the 202, and may carry Event: refer;id=<REFER CSeq>', async () => {
    const { ours, refers, answerRefer, notify } = await connected();
    const result = outcome(ours.refer('sip:agent@pbx.example.com;transport=tcp'));
    await settle();
    expect(refers[0]!.headers.get('Refer-To')).toBe('<sip:agent@pbx.example.com;transport=tcp>');
    expect(await notify('SIP/2.0 100 Trying')).toBe(200);
    await answerRefer(202);
    const seq = refers[0]!.headers.get('CSeq')!.split(' ')[0];
    expect(await notify('SIP/2.0 200 OK', 'terminated', `refer;id=${Number(seq) + 7}`)).toBe(481);
    expect(await notify('SIP/2.0 200 OK', 'terminated', `refer;id=${seq}`)).toBe(200);
    expect(await result).toEqual({ ok: { status: 200, reason: 'OK' } });
  });

  it('REFER refused with 403: TransferError with status 403 and the reason, the call goes on', async () => {
    const { ours, answerRefer, call } = await connected();
    const result = outcome(ours.refer('+919988776655'));
    await answerRefer(403);
    const r = await result;
    expect('err' in r && r.err).toBeInstanceOf(TransferError);
    const e = (r as { err: TransferError }).err;
    expect(e).toMatchObject({ code: 'TRANSFER_FAILED', status: 403, reason: 'Forbidden' });
    expect(call.state).toBe('answered');
  });

  it('202, then a 503 sipfrag: TransferError 503 Service Unavailable; progress saw 100 then 503', async () => {
    const { ours, answerRefer, notify } = await connected();
    const statuses: number[] = [];
    ours.on('referProgress', (p) => statuses.push(p.status));
    const result = outcome(ours.refer('+919988776655'));
    await answerRefer(202);
    await notify('SIP/2.0 100 Trying');
    expect(await notify('SIP/2.0 503 Service Unavailable', 'terminated;reason=noresource')).toBe(200);
    const e = ((await result) as { err: TransferError }).err;
    expect(e).toBeInstanceOf(TransferError);
    expect(e).toMatchObject({ status: 503, reason: 'Service Unavailable' });
    expect(statuses).toEqual([100, 503]);
  });

  it('Subscription-State: terminated without a final sipfrag: TransferError', async () => {
    const { ours, answerRefer, notify } = await connected();
    const result = outcome(ours.refer('+919988776655'));
    await answerRefer(202);
    await notify('SIP/2.0 100 Trying', 'terminated;reason=timeout');
    const e = ((await result) as { err: TransferError }).err;
    expect(e).toBeInstanceOf(TransferError);
    expect(e.status).toBeUndefined();
    expect(e.reason).toBe('timeout');
  });

  it('no final status within 30 s on the clock: TransferError caused by SipTimeoutError; later NOTIFYs get 481', async () => {
    const { clock, ours, answerRefer, notify } = await connected();
    const result = outcome(ours.refer('+919988776655'));
    await answerRefer(202);
    await notify('SIP/2.0 100 Trying');
    clock.advance(29_999);
    await settle();
    let settled = false;
    void result.then(() => (settled = true));
    await settle();
    expect(settled).toBe(false);
    clock.advance(1);
    const e = ((await result) as { err: TransferError }).err;
    expect(e).toBeInstanceOf(TransferError);
    expect(e.cause).toBeInstanceOf(SipTimeoutError);
    expect(await notify('SIP/2.0 200 OK', 'terminated')).toBe(481);
  });

  it('timeoutMs and signal: a shorter timeout, and abort rejects with AbortedError', async () => {
    const { clock, ours, answerRefer } = await connected();
    const r1 = outcome(ours.refer('+919988776655', { timeoutMs: 1000 }));
    await answerRefer(202);
    clock.advance(1000);
    expect(((await r1) as { err: unknown }).err).toBeInstanceOf(TransferError);
    const ac = new AbortController();
    const r2 = outcome(ours.refer('+919988776655', { signal: ac.signal }));
    await answerRefer(202);
    ac.abort();
    expect(((await r2) as { err: unknown }).err).toBeInstanceOf(AbortedError);
  });

  it('one transfer at a time; the call ending fails the pending one', async () => {
    const { ours, answerRefer, theirs } = await connected();
    const first = outcome(ours.refer('+919988776655'));
    await answerRefer(202);
    const second = await outcome(ours.refer('+919988776656'));
    expect(((second as { err: unknown }).err as TransferError).message).toMatch(/already in progress/);
    theirs.bye('local-bye');
    const e = ((await first) as { err: TransferError }).err;
    expect(e).toBeInstanceOf(TransferError);
    expect(e.message).toMatch(/call ended/);
    await expect(ours.refer('+919988776655')).rejects.toBeInstanceOf(ClosedError);
  });

  it.each([
    ['sip:+919988776655@trunk>\r\nX-Evil: 1', InvalidHeaderError],
    ['sip:+919988776655@trunk\nVia: x', InvalidHeaderError],
    ['sip:agent@pbx.example.com>;x=<sip:evil', InvalidHeaderError],
    ['<sip:agent@pbx.example.com>', InvalidPhoneNumberError],
    ['sip:agent@pbx.example.com?Replaces=abc', InvalidHeaderError],
    ['sip:agent@pbx.example.com;method=BYE', InvalidHeaderError],
    ['sip:"agent"@pbx.example.com', InvalidHeaderError],
    ['+9198<7766>55', InvalidPhoneNumberError],
    ['+91 98877 66554\r\n', InvalidHeaderError],
    ['', InvalidPhoneNumberError],
  ])('refuses the target %j before anything is sent', async (target, type) => {
    const { ours, refers } = await connected();
    await expect(ours.refer(target)).rejects.toBeInstanceOf(type);
    await settle();
    expect(refers).toHaveLength(0);
  });

  it('a tel: URI and a national number are accepted as they should be', async () => {
    const { clock, ours, refers, answerRefer } = await connected();
    void outcome(ours.refer('tel:+919988776655', { timeoutMs: 1 }));
    await answerRefer(202);
    clock.advance(1);
    void outcome(ours.refer('098877 66554', { timeoutMs: 1 }));
    await answerRefer(202);
    expect(refers.map((r) => r.headers.get('Refer-To'))).toEqual([
      '<tel:+919988776655>',
      '<sip:+919887766554@127.0.0.2>',
    ]);
  });

  it('a NOTIFY without our REFER is answered 481; a REFER from the far end 501', async () => {
    const { notify, theirs, net } = await connected();
    expect(await notify('SIP/2.0 200 OK')).toBe(481);
    net.drop = () => false;
    const r = await theirs.request('REFER', { headers: [['Refer-To', '<sip:+919988776655@127.0.0.1>']] });
    expect(r.status).toBe(501);
  });
});

describe('hold and resume from our side (RFC 3264 §8.4)', () => {
  it('hold: re-INVITE with a=sendonly and o= version +1, the far end answers a=recvonly, ACK; resume: a=sendrecv, +1 again', async () => {
    const { net, ours, theirs } = await connected();
    const farUpdates: MediaUpdate[] = [];
    theirs.on('mediaUpdate', (u) => farUpdates.push(u));
    const holds: [boolean, NegotiatedSdp | undefined][] = [];
    ours.on('localHold', (h, n) => holds.push([h, n]));
    const v0 = BigInt(parseSdp(OFFER).origin.sessionVersion);
    const before = net.log.length;
    await ours.hold();
    await settle();
    expect(ours.onHold).toBe(true);
    await ours.resume();
    await settle();
    expect(ours.onHold).toBe(false);
    const after = net.log.slice(before);
    expect(after.map((r) => r.what)).toEqual(['INVITE', '200 INVITE', 'ACK', 'INVITE', '200 INVITE', 'ACK']);
    const [hold, holdOk, , resume, resumeOk] = after;
    expect(sdpOf(hold!).media[0]!.direction).toBe('sendonly');
    expect(BigInt(sdpOf(hold!).origin.sessionVersion)).toBe(v0 + 1n);
    expect(sdpOf(holdOk!).media[0]!.direction).toBe('recvonly');
    expect(sdpOf(resume!).media[0]!.direction).toBe('sendrecv');
    expect(BigInt(sdpOf(resume!).origin.sessionVersion)).toBe(v0 + 2n);
    expect(sdpOf(resumeOk!).media[0]!.direction).toBe('sendrecv');
    // Nothing but the direction and the version changed.
    expect(new TextDecoder().decode(hold!.msg.body)).toBe(
      OFFER.replace('a=sendrecv', 'a=sendonly').replace(/^(o=\S+ \S+ )\d+/m, `$1${v0 + 1n}`),
    );
    expect(holds.map(([h, n]) => [h, n?.direction])).toEqual([
      [true, 'sendonly'],
      [false, 'sendrecv'],
    ]);
    expect(farUpdates.map((u) => u.negotiated.direction)).toEqual(['recvonly', 'sendrecv']);
    // The ACK is the re-INVITE's: same CSeq number.
    expect(after[2]!.msg.headers.get('CSeq')).toBe(hold!.msg.headers.get('CSeq')!.replace('INVITE', 'ACK'));
    // Idempotent: holding twice sends one re-INVITE.
    await ours.hold();
    await ours.hold();
    expect(net.labels().filter((l) => l === 'INVITE')).toHaveLength(4);
  });

  it("while we hold, our answers to the far end's re-INVITE keep a=sendonly; its version keeps growing", async () => {
    const { net, ours, theirs } = await connected();
    await ours.hold();
    const updates: MediaUpdate[] = [];
    ours.on('mediaUpdate', (u) => updates.push(u));
    await theirs.hold(); // the far end holds too: sendonly both ways → inactive
    await settle();
    const oks = net.log.filter((r) => r.what === '200 INVITE').slice(-2);
    expect(sdpOf(oks[0]!).origin.sessionVersion).not.toBe(sdpOf(oks[1]!).origin.sessionVersion);
    expect(sdpOf(oks[1]!).media[0]!.direction).toBe('inactive');
    expect(updates[0]!.negotiated.direction).toBe('inactive');
    const v = BigInt(sdpOf(oks[1]!).origin.sessionVersion);
    await ours.resume();
    const last = net.log.filter((r) => r.what === 'INVITE').at(-1)!;
    expect(BigInt(sdpOf(last).origin.sessionVersion)).toBe(v + 1n);
  });

  it('the far end holds us: our mediaUpdate says recvonly and our answer a=recvonly', async () => {
    const { net, ours, theirs } = await connected();
    const updates: MediaUpdate[] = [];
    ours.on('mediaUpdate', (u) => updates.push(u));
    await theirs.hold();
    await settle();
    expect(updates.map((u) => u.negotiated.direction)).toEqual(['recvonly']);
    expect(updates[0]!.negotiated.hold).toBe(true);
    const ok = net.log.filter((r) => r.what === '200 INVITE').at(-1)!;
    expect(sdpOf(ok).media[0]!.direction).toBe('recvonly');
  });

  it('glare: both ends re-INVITE at once, both get 491, each tries again once after 2.1–4 s on the clock', async () => {
    const { clock, net, ours, theirs } = await connected();
    const before = net.log.length;
    const a = outcome(ours.hold());
    const b = outcome(theirs.hold());
    await settle();
    expect(net.labels().slice(before).sort()).toEqual([
      '491 INVITE',
      '491 INVITE',
      'ACK',
      'ACK',
      'INVITE',
      'INVITE',
    ]);
    clock.advance(2099);
    await settle();
    expect(net.log.length - before).toBe(6);
    for (let t = 2100; t <= 4000; t += 10) {
      clock.advance(10);
      await settle();
    }
    expect(await a).toEqual({ ok: undefined });
    expect(await b).toEqual({ ok: undefined });
    expect(ours.onHold).toBe(true);
    expect(theirs.onHold).toBe(true);
    expect(
      net
        .labels()
        .slice(before)
        .filter((l) => l === 'INVITE'),
    ).toHaveLength(4);
  });

  it('a refused re-INVITE (488) rejects with ReinviteError and leaves our SDP and hold state as they were', async () => {
    const { ours, intercept, intercepted, farReply, call } = await connected();
    intercept.add('INVITE');
    const sdpBefore = ours.sdp;
    const p = outcome(ours.hold());
    await settle();
    await farReply(intercepted[0]!, 488);
    const e = ((await p) as { err: ReinviteError }).err;
    expect(e).toBeInstanceOf(ReinviteError);
    expect(e).toMatchObject({ code: 'REINVITE_FAILED', status: 488 });
    expect(ours.sdp).toBe(sdpBefore);
    expect(ours.onHold).toBe(false);
    expect(call.state).toBe('answered');
  });

  it('a 491 is tried again once; a second 491 rejects', async () => {
    const { clock, ours, intercept, intercepted, farReply } = await connected();
    intercept.add('INVITE');
    const p = outcome(ours.hold());
    await settle();
    await farReply(intercepted[0]!, 491);
    clock.advance(2099);
    await settle();
    expect(intercepted).toHaveLength(1);
    clock.advance(4000 - 2099);
    await settle();
    expect(intercepted).toHaveLength(2);
    await farReply(intercepted[1]!, 491);
    expect(((await p) as { err: ReinviteError }).err).toMatchObject({ status: 491 });
    clock.advance(10_000);
    await settle();
    expect(intercepted).toHaveLength(2);
  });

  it('481 to our re-INVITE: the dialog is gone, the session ends', async () => {
    const { ours, intercept, intercepted, farReply, call } = await connected();
    intercept.add('INVITE');
    const p = outcome(ours.hold());
    await settle();
    await farReply(intercepted[0]!, 481);
    expect(((await p) as { err: ReinviteError }).err).toMatchObject({ status: 481 });
    expect(await call.ended).toMatchObject({ reason: 'remote-bye', status: 481 });
    await expect(ours.hold()).rejects.toBeInstanceOf(ClosedError);
  });

  it('no answer to our re-INVITE (Timer B): SipTimeoutError and the call is hung up with BYE', async () => {
    const { clock, net, ours, intercept, call } = await connected();
    intercept.add('INVITE');
    const p = outcome(ours.hold());
    await settle();
    clock.advance(64 * T1);
    await settle();
    expect(((await p) as { err: unknown }).err).toBeInstanceOf(SipTimeoutError);
    expect(net.labels()).toContain('BYE');
    expect((await call.ended).reason).toBe('timeout');
  });
});

describe('DTMF in SIP INFO', () => {
  it('dtmf-relay INFOs for 1, 2, # become dtmf events in order, each answered 200; info events too', async () => {
    const { ours, theirs } = await connected();
    const digits: SipInfoDtmf[] = [];
    let infos = 0;
    ours.on('dtmf', (d) => digits.push(d));
    ours.on('info', () => infos++);
    for (const signal of ['1', '2', '#']) {
      const r = await theirs.request('INFO', {
        body: `Signal=${signal}\r\nDuration=160\r\n`,
        contentType: 'application/dtmf-relay',
      });
      expect(r.status).toBe(200);
    }
    const r = await theirs.request('INFO', { body: '5', contentType: 'application/dtmf' });
    expect(r.status).toBe(200);
    expect(digits).toEqual([
      { digit: '1', durationMs: 160, via: 'info' },
      { digit: '2', durationMs: 160, via: 'info' },
      { digit: '#', durationMs: 160, via: 'info' },
      { digit: '5', via: 'info' },
    ]);
    expect(infos).toBe(4);
  });

  it('a malformed dtmf-relay body: 200, the info event, no dtmf event', async () => {
    const { ours, theirs } = await connected();
    const digits: SipInfoDtmf[] = [];
    let infos = 0;
    ours.on('dtmf', (d) => digits.push(d));
    ours.on('info', () => infos++);
    for (const body of ['Signal=X\r\nDuration=160', 'Duration=160', 'garbage', 'Signal=1\r\nDuration=-5']) {
      const r = await theirs.request('INFO', { body, contentType: 'application/dtmf-relay' });
      expect(r.status).toBe(200);
    }
    expect(digits).toEqual([]);
    expect(infos).toBe(4);
  });
});

export type { CallSession };
