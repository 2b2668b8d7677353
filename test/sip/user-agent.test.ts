/**
 * Whole calls on a fake clock over an in-memory network, no socket opened: our client
 * places a call to a far-end user agent and takes one from it, with the exact message
 * sequence on the wire; CANCEL, a lost ACK, Timer B and the trunk's health.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SipUserAgent } from '../../src/sip/user-agent.js';
import { type TrunkHealth } from '../../src/sip/user-agent.js';
import type { InboundCall } from '../../src/sip/invite-server.js';
import { buildExotelInvite } from '../../src/sip/invite.js';
import { newBranch, newTag } from '../../src/sip/ids.js';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';
import { createSdpOffer } from '../../src/sdp/offer-answer.js';
import { silentLogger } from '../../src/logger.js';
import { AbortedError, SipTimeoutError } from '../../src/errors.js';
import { MemoryNetwork, PAIR, clientAndFarEnd, settle } from './memory-transport.js';
import { createResponse } from '../../src/sip/message.js';

const { us: US, far: FAR, t1: T1 } = PAIR;
const OFFER = createSdpOffer({ ip: '127.0.0.1', port: 40000 });
const FAR_SDP = createSdpOffer({ ip: '127.0.0.2', port: 41000 });
const EXOPHONE = '08044319240';

async function setup(opts: { optionsIntervalMs?: number } = {}) {
  const clock = new FakeTimerClock();
  const net = new MemoryNetwork('tcp');
  const pair = await clientAndFarEnd(net, clock, opts);
  cleanups.push(pair.close);
  return { clock, net, client: pair.client, far: pair.far };
}

/** The far end calls our Exophone, as Exotel's trunk would. */
function callIn(far: SipUserAgent, opts: { signal?: AbortSignal; recordRoute?: string } = {}) {
  const callId = far.newCallId();
  const { recordRoute, ...callOpts } = opts;
  return far.placeCall(
    () => {
      const invite = buildExotelInvite({
        to: `+91${EXOPHONE.slice(1)}`,
        callerId: '+919876543210',
        fromDomain: 'pstn.in1.exotel.com',
        sipHost: US.host,
        sipPort: US.port,
        transport: 'tcp',
        customerIp: FAR.host,
        customerSipPort: FAR.port,
        ids: { callId, fromTag: newTag(), branch: newBranch(), cseq: 1 },
        sdp: FAR_SDP,
      });
      if (recordRoute !== undefined) invite.headers.append('Record-Route', recordRoute);
      return invite;
    },
    { callId, localUser: '+919876543210', logger: silentLogger, sdp: FAR_SDP, ...callOpts },
  );
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('SIP user agent over an in-memory network on a fake clock', () => {
  it('outbound: INVITE → 100 → 180 → 200 → ACK, then our BYE → 200; nothing left afterwards', async () => {
    const { clock, net, client, far } = await setup();
    let inbound: InboundCall | undefined;
    far.onInvite = (call) => {
      inbound = call;
      call.ring();
      clock.setTimeout(() => void call.accept({ sdp: FAR_SDP }), 2000);
    };
    const call = client.invite({ to: '+919876543210', sdp: OFFER });
    await settle();
    expect(call.state).toBe('early');
    expect(net.labels()).toEqual(['INVITE', '100 INVITE', '180 INVITE']);
    clock.advance(2000);
    await settle();
    const answer = await call.answered;
    expect(answer.negotiated?.remotePort).toBe(41000);
    expect(inbound?.state).toBe('answered');
    await call.hangup();
    expect(await call.ended).toEqual({ reason: 'local-bye', status: 200 });
    expect(await inbound!.ended).toEqual({ reason: 'remote-bye' });
    expect(net.labels()).toEqual([
      'INVITE',
      '100 INVITE',
      '180 INVITE',
      '200 INVITE',
      'ACK',
      'BYE',
      '200 BYE',
    ]);
    // The INVITE went to the trunk with Exotel's From, and the far end saw our Contact.
    const invite = net.log[0]!.msg;
    expect(invite.headers.get('From')).toMatch(/^<sip:08044319240@acme\.sip\.exotel\.com>;tag=/);
    expect(invite.headers.get('Contact')).toBe('<sip:08044319240@127.0.0.1:5061;transport=tcp>');
    // Every transaction and timer ends on its own (Timer L of the far end's INVITE server is the last).
    clock.advance(64 * T1);
    expect(client.stats()).toMatchObject({ clientTransactions: 0, serverTransactions: 0 });
    expect(far.stats()).toMatchObject({ clientTransactions: 0, serverTransactions: 0 });
    expect(client.activeCalls).toHaveLength(0);
    expect(clock.pending).toBe(0);
  });

  it('inbound: the far end INVITEs, we send 100, 180, 200 with our SDP, the ACK confirms; the far end BYEs', async () => {
    const { clock, net, client, far } = await setup();
    const seen: InboundCall[] = [];
    client.ua.onInvite = (call) => {
      seen.push(call);
      call.ring();
      void call.accept({ sdp: OFFER });
    };
    const farCall = callIn(far);
    const answer = await farCall.answered;
    expect(answer.negotiated?.remotePort).toBe(40000);
    const inbound = seen[0]!;
    expect(inbound.fromUser).toBe('+919876543210');
    expect(inbound.toUser).toBe('+918044319240');
    expect(inbound.offer).toContain('m=audio 41000');
    await settle();
    expect(inbound.state).toBe('answered');
    await farCall.hangup();
    expect(await inbound.ended).toEqual({ reason: 'remote-bye' });
    expect(net.labels()).toEqual([
      'INVITE',
      '100 INVITE',
      '180 INVITE',
      '200 INVITE',
      'ACK',
      'BYE',
      '200 BYE',
    ]);
    const ok = net.log.find((r) => r.what === '200 INVITE')!.msg;
    expect(ok.headers.get('Contact')).toBe('<sip:+918044319240@127.0.0.1:5061;transport=tcp>');

    clock.advance(64 * T1);
    expect(client.stats()).toMatchObject({ clientTransactions: 0, serverTransactions: 0 });
    expect(client.ua.activeCalls).toHaveLength(0);
  });

  it('inbound: we hang up after the answer with BYE; our 183 carries early media', async () => {
    const { net, client, far } = await setup();
    const seen: InboundCall[] = [];
    client.ua.onInvite = (call) => {
      seen.push(call);
      call.ring(OFFER);
      void call.accept({ sdp: OFFER });
    };
    const farCall = callIn(far);
    const progress: number[] = [];
    farCall.on('progress', (p) => progress.push(p.status));
    await farCall.answered;
    await settle();
    await seen[0]!.hangup();
    expect(await farCall.ended).toEqual({ reason: 'remote-bye' });
    expect(progress).toEqual([100, 183]);
    expect(net.log.find((r) => r.what === '183 INVITE')!.msg.headers.get('Content-Type')).toBe(
      'application/sdp',
    );
  });

  it('inbound: CANCEL while ringing → 200 to the CANCEL, 487 to the INVITE, both ends see it end', async () => {
    const { net, client, far } = await setup();
    const seen: InboundCall[] = [];
    client.ua.onInvite = (call) => {
      seen.push(call);
      call.ring();
    };
    const ac = new AbortController();
    const farCall = callIn(far, { signal: ac.signal });
    await settle();
    expect(seen[0]?.state).toBe('early');
    ac.abort();
    expect(await seen[0]!.ended).toEqual({ reason: 'cancelled', status: 487 });
    expect((await farCall.ended).status).toBe(487);
    await expect(farCall.answered).rejects.toBeInstanceOf(AbortedError);
    expect(net.labels()).toEqual([
      'INVITE',
      '100 INVITE',
      '180 INVITE',
      'CANCEL',
      '200 CANCEL',
      '487 INVITE',
      'ACK',
    ]);
  });

  it('inbound: no ACK for our 200 within 64·T1 → accept() rejects and we hang up with BYE', async () => {
    const { clock, net, client, far } = await setup();
    net.drop = (r) => r.what === 'ACK';
    let accepted: Promise<void> | undefined;
    const seen: InboundCall[] = [];
    client.ua.onInvite = (call) => {
      seen.push(call);
      accepted = call.accept({ sdp: OFFER });
      accepted.catch(() => undefined);
    };
    const farCall = callIn(far);
    await farCall.answered;
    await settle();
    expect(seen[0]!.state).toBe('answering');
    clock.advance(64 * T1);
    await settle();
    await expect(accepted).rejects.toBeInstanceOf(SipTimeoutError);
    const ended = await seen[0]!.ended;
    expect(ended.reason).toBe('timeout');
    expect(net.labels()).toContain('BYE');
    expect(await farCall.ended).toEqual({ reason: 'remote-bye' });
  });

  it("inbound: the INVITE's Record-Route comes back in our 180 and 200 (RFC 3261 §12.1.1)", async () => {
    const { net, client, far } = await setup();
    client.ua.onInvite = (call) => {
      call.ring();
      void call.accept({ sdp: OFFER }).catch(() => undefined);
    };
    const rr = '<sip:127.0.0.9:5060;transport=tcp;lr>'; // a proxy the far end's ACK goes to (nobody there)
    callIn(far, { recordRoute: rr });
    await settle();
    for (const what of ['180 INVITE', '200 INVITE']) {
      expect(net.log.find((r) => r.what === what)?.msg.headers.getAll('Record-Route')).toEqual([rr]);
    }
    expect(net.log.find((r) => r.what === '100 INVITE')?.msg.headers.getAll('Record-Route')).toEqual([]);
  });

  it('inbound: without a handler an INVITE is refused 403, as before', async () => {
    const { net, far } = await setup();
    const farCall = callIn(far);
    expect((await farCall.ended).status).toBe(403);
    expect(net.labels()).toEqual(['INVITE', '403 INVITE', 'ACK']);
  });

  it('Timer B: an INVITE nobody answers ends after 64·T1 with timeout (408) and SipTimeoutError', async () => {
    const { clock, net, client } = await setup();
    net.drop = (r) => r.what === 'INVITE';
    const call = client.invite({ to: '+919876543210', sdp: OFFER });
    await settle();
    clock.advance(64 * T1 - 1);
    await settle();
    expect(call.state).toBe('calling');
    clock.advance(1);
    expect(await call.ended).toMatchObject({ reason: 'timeout', status: 408 });
    await expect(call.answered).rejects.toBeInstanceOf(SipTimeoutError);
    expect(client.stats().clientTransactions).toBe(0);
  });

  it("a late 2xx of a re-INVITE (after its transaction ended) is not answered with the INVITE's ACK", async () => {
    const { net, client, far } = await setup();
    far.onInvite = (call) => void call.accept({ sdp: FAR_SDP });
    const call = client.invite({ to: '+919876543210', sdp: OFFER });
    await call.answered;
    await settle();
    const ok = net.log.find((r) => r.what === '200 INVITE')!.msg;
    const late = createResponse(
      200,
      'OK',
      [...ok.headers].map((h) => [h.name, h.value] as const),
      ok.body,
    );
    late.headers.set('CSeq', '7 INVITE'); // a re-INVITE's CSeq and branch, not the INVITE's
    late.headers.set('Via', (ok.headers.get('Via') ?? '').replace(/branch=[^;]+/, 'branch=z9hG4bKreinvite7'));
    const before = net.labels().length;
    await far.transport.send(late, { protocol: 'tcp', host: US.host, port: US.port });
    await settle();
    expect(net.labels().slice(before)).toEqual(['200 INVITE']); // no ACK went back
    // The INVITE's own 2xx retransmitted late is still ACKed (RFC 3261 §13.2.2.4).
    await far.transport.send(ok, { protocol: 'tcp', host: US.host, port: US.port });
    await settle();
    expect(net.labels().slice(before)).toEqual(['200 INVITE', '200 INVITE', 'ACK']);
    await call.hangup();
  });

  it('two calls with different caller IDs go out on the one user agent, each with its own From user', async () => {
    const { net, client, far } = await setup();
    far.onInvite = (call) => void call.accept({ sdp: FAR_SDP });
    const a = client.invite({ to: '+919876543210', sdp: OFFER, callerId: '08011112222' });
    const b = client.invite({
      to: '+919876543211',
      sdp: OFFER,
      callerId: '08033334444',
      fromDomain: 'other.sip.exotel.com',
    });
    await Promise.all([a.answered, b.answered]);
    const froms = net.log.filter((r) => r.what === 'INVITE').map((r) => r.msg.headers.get('From') ?? '');
    expect(froms.map((f) => f.replace(/;tag=.*/, '')).sort()).toEqual([
      '<sip:08011112222@acme.sip.exotel.com>',
      '<sip:08033334444@other.sip.exotel.com>',
    ]);
    await Promise.all([a.hangup(), b.hangup()]);
  });

  it('trunkHealth: OPTIONS probes report up with their round-trip time, then down when unanswered', async () => {
    const { clock, net, client } = await setup({ optionsIntervalMs: 10_000 });
    const health: TrunkHealth[] = [];
    client.on('trunkHealth', (h) => health.push(h));
    await client.start();
    clock.advance(10_000);
    await settle();
    expect(health).toEqual([{ state: 'up', source: 'options', status: 200, rttMs: 0, changed: true }]);
    net.drop = (r) => r.what === 'OPTIONS';
    clock.advance(10_000);
    await settle();
    expect(health).toHaveLength(1);
    clock.advance(64 * T1); // Timer F
    await settle();
    expect(health[1]).toMatchObject({ state: 'down', source: 'options', changed: true });
    expect(health[1]!.error).toBeInstanceOf(SipTimeoutError);
  });
});
