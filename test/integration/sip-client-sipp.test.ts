/**
 * ExotelSipClient against SIPp (a real, independent SIP implementation) on loopback,
 * over TCP and UDP: every call outcome the issue lists.
 */
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { startSipp } from '../harness/sipp.js';
import { eventually } from '../harness/livekit.js';
import { CallRejectedError, SipTimeoutError } from '../../src/errors.js';
import type { MediaUpdate } from '../../src/sip/client.js';
import {
  CALLEE,
  killSipp,
  makeClient,
  messages,
  offer,
  onCleanup,
  received,
  receivedRequests,
  useCleanup,
} from './sip-client-helpers.js';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

/** The parameters of a Digest credentials header. */
function digestParams(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of value.matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]+))/g)) out[m[1]!] = m[2] ?? m[3] ?? '';
  return out;
}

useCleanup();

async function sipp(scenario: string, transport: 'tcp' | 'udp', extraArgs: string[] = []) {
  const run = await startSipp({ scenario, transport, extraArgs, timeoutS: 15 });
  onCleanup(() => run.stop());
  return run;
}

describe.each(['tcp', 'udp'] as const)('ExotelSipClient ↔ SIPp over %s', (transport) => {
  it('SIPp answers (100, 180, 200 with PCMA/PCMU); the call is ACKed; our BYE ends it; SIPp exits 0', async () => {
    const peer = await sipp('uas-answer.xml', transport);
    const { client, records } = makeClient(peer.port, transport);
    const call = client.invite({ to: CALLEE, sdp: offer() });
    const progress: number[] = [];
    call.on('progress', (p) => progress.push(p.status));
    const answer = await call.answered;
    expect(progress).toEqual([100, 180]);
    expect(call.state).toBe('answered');
    expect(answer.status).toBe(200);
    expect(answer.negotiated).toMatchObject({
      codec: 'PCMA',
      payloadType: 8,
      remoteAddress: '127.0.0.1',
      remotePort: peer.mediaPort,
    });
    expect(answer.negotiated?.telephoneEventPayloadType).toBe(101);
    await call.hangup();
    expect(await call.ended).toEqual({ reason: 'local-bye', status: 200 });
    expect(await peer.done()).toBe(0);
    const log = messages(records);
    expect(log).toContain(`[SIP] Sending INVITE to 127.0.0.1:${peer.port}`);
    expect(log).toContain('[SIP] Received 180 Ringing');
    expect(log).toContain(`[SIP] Call answered. Remote RTP endpoint: 127.0.0.1:${peer.mediaPort}`);
    expect(log).toContain('[SIP] Sending ACK');
    const reqs = await receivedRequests(peer);
    expect(reqs.map((l) => l.split(' ')[0])).toEqual(['INVITE', 'ACK', 'BYE']);
  });

  it('SIPp hangs up itself: ended with remote-bye, our 200 satisfies SIPp', async () => {
    const peer = await sipp('uas-remote-bye.xml', transport);
    const { client } = makeClient(peer.port, transport);
    const call = client.invite({ to: CALLEE, sdp: offer() });
    await call.answered;
    expect(await call.ended).toEqual({ reason: 'remote-bye' });
    expect(call.state).toBe('ended');
    expect(await peer.done()).toBe(0);
  });

  it.each([
    [486, 'Busy Here'],
    [603, 'Decline'],
    [404, 'Not Found'],
    [503, 'Service Unavailable'],
  ])(
    '%i %s rejects answered with CallRejectedError; the final response is ACKed; SIPp exits 0',
    async (status, reason) => {
      const peer = await sipp(`uas-reject-${status}.xml`, transport);
      const { client } = makeClient(peer.port, transport);
      const call = client.invite({ to: CALLEE, sdp: offer() });
      const err = await call.answered.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CallRejectedError);
      expect((err as CallRejectedError).status).toBe(status);
      expect((err as CallRejectedError).reason).toBe(reason);
      expect(await call.ended).toMatchObject({ reason: 'rejected', status });
      expect(await peer.done()).toBe(0);
      const reqs = await receivedRequests(peer);
      expect(reqs.map((l) => l.split(' ')[0])).toEqual(['INVITE', 'ACK']);
    },
  );
});

describe.each(['tcp', 'udp'] as const)(
  'ExotelSipClient ↔ SIPp over %s: limits, auth, early media',
  (transport) => {
    it('no answer: the ringing timeout sends CANCEL, the 487 is ACKed, ended with timeout', async () => {
      const peer = await sipp('uas-no-answer.xml', transport);
      const { client } = makeClient(peer.port, transport);
      const call = client.invite({ to: CALLEE, sdp: offer(), ringingTimeoutMs: 1000 });
      const started = Date.now();
      const err = await call.answered.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SipTimeoutError);
      expect(await call.ended).toMatchObject({ reason: 'timeout', status: 487 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(await peer.done()).toBe(0);
      expect((await receivedRequests(peer)).map((l) => l.split(' ')[0])).toEqual(['INVITE', 'CANCEL', 'ACK']);
    });

    it('401: the INVITE is re-sent once with an Authorization that SIPp verifies (new CSeq, same Call-ID)', async () => {
      const peer = await sipp('uas-auth-401.xml', transport, [
        '-key',
        'user',
        'exo-user',
        '-key',
        'password',
        's3cret',
      ]);
      const { client } = makeClient(peer.port, transport, {
        auth: { username: 'exo-user', password: 's3cret' },
      });
      const call = client.invite({ to: CALLEE, sdp: offer() });
      await call.answered;
      await call.hangup();
      expect(await peer.done()).toBe(0);
      const invites = (await received(peer)).filter((m) => m.startsWith('INVITE '));
      expect(invites).toHaveLength(2);
      const callIds = invites.map((m) => /^Call-ID: (.*)$/m.exec(m)?.[1]);
      expect(callIds[0]).toBe(callIds[1]);
      expect(invites.map((m) => /^CSeq: (.*)$/m.exec(m)?.[1])).toEqual(['1 INVITE', '2 INVITE']);
      expect(invites[1]).toMatch(/^Authorization: Digest /m);
    });

    it('407: the INVITE is re-sent with a Proxy-Authorization whose Digest response is right', async () => {
      const peer = await sipp('uas-auth-407.xml', transport);
      const { client } = makeClient(peer.port, transport, {
        auth: { username: 'exo-user', password: 's3cret' },
      });
      const call = client.invite({ to: CALLEE, sdp: offer() });
      await call.answered;
      await call.hangup();
      expect(await peer.done()).toBe(0);
      const invites = (await received(peer)).filter((m) => m.startsWith('INVITE '));
      const header = /^Proxy-Authorization: (.*)$/m.exec(invites[1] ?? '')?.[1] ?? '';
      const p = digestParams(header);
      expect(p).toMatchObject({
        username: 'exo-user',
        realm: 'exotel.test',
        nonce: '5f2b8a7e1c9d4e3fa0b1c2d3e4f5a6b7',
        qop: 'auth',
        opaque: '0pq',
      });
      const requestUri = /^INVITE (\S+) SIP\/2\.0/.exec(invites[1] ?? '')?.[1];
      expect(p.uri).toBe(requestUri);
      const ha1 = md5(`exo-user:exotel.test:s3cret`);
      const ha2 = md5(`INVITE:${p.uri}`);
      expect(p.response).toBe(md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`));
    });

    it('wrong credentials: the authenticated INVITE is sent once; SIPp verifyauth refuses it with 403', async () => {
      const peer = await sipp('uas-auth-401.xml', transport, [
        '-key',
        'user',
        'exo-user',
        '-key',
        'password',
        'right',
      ]);
      onCleanup(() => rm(peer.dir, { recursive: true, force: true })); // SIPp fails this call on purpose
      const { client } = makeClient(peer.port, transport, {
        auth: { username: 'exo-user', password: 'wrong' },
      });
      const call = client.invite({ to: CALLEE, sdp: offer() });
      const err = await call.answered.then(
        () => undefined,
        (e: unknown) => e,
      );
      // SIPp answers wrong credentials with 403 (and fails its own call on purpose).
      expect(err).toBeInstanceOf(CallRejectedError);
      expect((err as CallRejectedError).status).toBe(403);
      expect((await receivedRequests(peer)).filter((l) => l.startsWith('INVITE'))).toHaveLength(2);
    });

    it('183 with SDP before 200: progress carries the early-media SDP', async () => {
      const peer = await sipp('uas-183-early.xml', transport);
      const { client } = makeClient(peer.port, transport);
      const call = client.invite({ to: CALLEE, sdp: offer() });
      const progress: { status: number; sdp?: string }[] = [];
      call.on('progress', (p) => progress.push(p));
      const answer = await call.answered;
      const early = progress.find((p) => p.status === 183);
      expect(early?.sdp).toMatch(new RegExp(`^m=audio ${peer.mediaPort} RTP/AVP 8 101`, 'm'));
      expect(answer.negotiated?.codec).toBe('PCMA');
      await call.hangup();
      expect(await peer.done()).toBe(0);
    });

    it('a re-INVITE putting the call on hold gets 200 with a recvonly answer; mediaUpdate carries the new endpoint', async () => {
      const peer = await sipp('uas-answer-hold.xml', transport);
      const { client } = makeClient(peer.port, transport);
      const call = client.invite({ to: CALLEE, sdp: offer() });
      const update = new Promise<MediaUpdate>((r) => call.once('mediaUpdate', r));
      await call.answered;
      const u = await update;
      expect(u.negotiated).toMatchObject({ direction: 'recvonly', remotePort: 40002, hold: true });
      expect(u.answer).toMatch(/^a=recvonly$/m);
      expect(u.answer).toMatch(/^m=audio 40000 /m);
      // Hang up only once SIPp has our 200 (its scenario ACKs it before it expects the BYE;
      // under load a BYE sent at once could be read first).
      await eventually('SIPp received the 200 to its re-INVITE', async () =>
        (await received(peer)).some((m) => m.startsWith('SIP/2.0 200')),
      );
      await call.hangup();
      expect(await peer.done(), await peer.errors()).toBe(0);
    });
  },
);

describe('ExotelSipClient ↔ SIPp over UDP: retransmissions', () => {
  it('the 200 OK is retransmitted (its ACKs "lost"): every copy is ACKed', async () => {
    const peer = await sipp('uas-udp-200-retrans.xml', 'udp', ['-nr']);
    const { client, records } = makeClient(peer.port, 'udp');
    const call = client.invite({ to: CALLEE, sdp: offer() });
    await call.answered;
    // SIPp takes the BYE only after its third 200 was ACKed.
    const acks = () => messages(records).filter((m) => m === '[SIP] Sending ACK').length;
    for (let i = 0; i < 200 && acks() < 3; i++) await new Promise((r) => setTimeout(r, 10));
    expect(acks()).toBe(3);
    await call.hangup();
    expect(await call.ended).toMatchObject({ reason: 'local-bye', status: 200 });
    expect(await peer.done()).toBe(0);
    const acked = (await received(peer)).filter((m) => m.startsWith('ACK '));
    expect(acked).toHaveLength(3);
    // The ACK of a 2xx is its own transaction: a branch other than the INVITE's.
    const inviteBranch = /branch=([^;\s]+)/.exec(
      (await received(peer)).find((m) => m.startsWith('INVITE ')) ?? '',
    )?.[1];
    const ackBranch = /branch=([^;\s]+)/.exec(acked[0] ?? '')?.[1];
    expect(ackBranch).toBeDefined();
    expect(ackBranch).not.toBe(inviteBranch);
  });

  it('a lost INVITE is retransmitted by Timer A (same branch, same CSeq) and the call goes through', async () => {
    const peer = await sipp('uas-udp-drop-invite.xml', 'udp', ['-nr']);
    const { client } = makeClient(peer.port, 'udp', { timers: { t1: 100 } });
    const call = client.invite({ to: CALLEE, sdp: offer() });
    await call.answered;
    await call.hangup();
    expect(await peer.done()).toBe(0);
    const invites = (await received(peer)).filter((m) => m.startsWith('INVITE '));
    expect(invites).toHaveLength(2);
    expect(invites[1]).toBe(invites[0]);
  });
});

describe('ExotelSipClient ↔ SIPp over TCP: the connection', () => {
  it('LiveKit SIP #730: Record-Route to the live connection + Contact transport=tls on a closed port: ACK and BYE follow the route set on the same connection', async () => {
    const peer = await sipp('uas-record-route.xml', 'tcp');
    const { client, records } = makeClient(peer.port, 'tcp');
    const call = client.invite({ to: CALLEE, sdp: offer() });
    await call.answered;
    await call.hangup();
    expect(await call.ended).toMatchObject({ reason: 'local-bye', status: 200 });
    expect(await peer.done()).toBe(0);
    expect(messages(records).filter((m) => m === '[SIP] opening connection')).toHaveLength(1);
    const reqs = await receivedRequests(peer);
    expect(reqs).toEqual([
      expect.stringMatching(/^INVITE sip:\+919876543210@127\.0\.0\.1:\d+ SIP\/2\.0$/),
      'ACK sip:uas@127.0.0.1:1;transport=tls SIP/2.0',
      'BYE sip:uas@127.0.0.1:1;transport=tls SIP/2.0',
    ]);
  });

  it('the TCP connection is reset mid-call: ended with transport-error, nothing left open', async () => {
    const peer = await sipp('uas-answer.xml', 'tcp');
    onCleanup(() => rm(peer.dir, { recursive: true, force: true })); // SIPp is killed: keep no logs
    const { client } = makeClient(peer.port, 'tcp');
    const call = client.invite({ to: CALLEE, sdp: offer() });
    await call.answered;
    killSipp(peer);
    const ended = await call.ended;
    // the connection's loss ends it (no SIP or media timer): the reason says which
    expect(ended.reason).toBe('transport-error');
    expect(call.state).toBe('ended');
    await client.close();
    expect(client.activeCalls).toHaveLength(0);
  });
});
