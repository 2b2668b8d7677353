/**
 * Fault cases of `runBridge()` against SIPp, an independent SIP implementation, instead of
 * our own Exotel simulator (which shares the bridge's parser, serializer and SDP code):
 * the far end's TCP connection breaking mid-call, a far end that never sends RTP, UDP
 * rejections, and the host hanging up while the far end's 200 OK crosses our CANCEL.
 * Each SIPp scenario (test/fixtures/sipp) waits for the messages the bridge owes it (ACK,
 * BYE) and exits non-zero when one does not come, so a bridge that misbehaves fails the
 * test through SIPp's own verdict. Every case also checks the end reason the host sees,
 * that the phone left the room, and that nothing is left open (test/harness/leak-watch.ts).
 * The Kamailio-proxied inbound case is in bridge-peer-faults-kamailio.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { dispose } from '@livekit/rtc-node';
import { CallRejectedError, type BridgeCall, type BridgeEnded } from '../../src/index.js';
import { bridge, createRoom, exotelFor, phoneParticipantGone, type Cleanups } from '../harness/e2e.js';
import { eventually } from '../harness/livekit.js';
import { useLeakWatch } from '../harness/leak-watch.js';
import { freeDualPort } from '../harness/process.js';
import type { SippRun } from '../harness/sipp.js';
import { startSippSafely } from '../harness/sipp-ports.js';
import { startTcpRelay } from '../harness/tcp-relay.js';
import { received, receivedRequests } from './sip-client-helpers.js';

const cleanups: Cleanups = [];
useLeakWatch(cleanups);

afterAll(async () => {
  await dispose();
});

async function sipp(scenario: string, transport: 'tcp' | 'udp', rtpEcho = false): Promise<SippRun> {
  const run = await startSippSafely({ scenario, transport, rtpEcho, timeoutS: 20 });
  cleanups.push(() => run.stop());
  return run;
}

/** SIPp's exit code, with its error log as the failure message. */
async function sippVerdict(run: SippRun): Promise<void> {
  const code = await run.done();
  expect(code, `SIPp exited ${String(code)}:\n${await run.errors()}`).toBe(0);
}

/** The methods of the requests SIPp received, in order. */
async function methodsAtSipp(run: SippRun): Promise<string[]> {
  return (await receivedRequests(run)).map((l) => l.split(' ')[0] ?? '');
}

/** The call's end, and the phone participant gone from the room. */
async function ended(call: BridgeCall, roomName: string): Promise<BridgeEnded> {
  const end = await call.ended;
  await eventually('phone participant gone', () => phoneParticipantGone(roomName));
  return end;
}

describe('runBridge ↔ SIPp: the connection breaks mid-call (TCP)', () => {
  it('reset (RST) on the path, no BYE: ended "sip-error" (SIP_TRANSPORT); the BYE follows the route set on a new connection and SIPp answers it', async () => {
    // The relay stands for the network between us and the trunk: it resets the bridge's
    // connection while SIPp, behind it, keeps its call. SIPp's 200 OK records the relay
    // (Record-Route), as Exotel's records its trunk, so every request of the dialog goes there.
    const sippPort = await freeDualPort();
    const relay = await startTcpRelay({ host: '127.0.0.1', port: sippPort });
    cleanups.push(() => relay.close());
    const peer = await startSippSafely({
      scenario: 'uas-answer-route-bye.xml',
      transport: 'tcp',
      port: sippPort,
      rtpEcho: true,
      timeoutS: 20,
      extraArgs: ['-set', 'relay', String(relay.port)],
    });
    cleanups.push(() => peer.stop());
    const roomName = await createRoom(cleanups, 'peer-rst');
    const call = bridge(cleanups, roomName, relay.port);
    await call.answered;
    await eventually('RTP flowing (active)', () => call.status === 'active', 10_000);
    expect(relay.accepted()).toBe(1);
    expect(relay.resetClients()).toBe(1);
    const end = await ended(call, roomName);
    expect(end.reason, end.error?.message).toBe('sip-error');
    expect(end.error?.code).toBe('SIP_TRANSPORT');
    // Exit 0 only once the ACK and then the BYE came, each with the relay's Route.
    await sippVerdict(peer);
    expect(await methodsAtSipp(peer)).toEqual(['INVITE', 'ACK', 'BYE']);
    expect(relay.accepted()).toBe(2);
    const bye = (await received(peer)).find((m) => m.startsWith('BYE '));
    expect(bye).toMatch(new RegExp(`^Route: <sip:127\\.0\\.0\\.1:${relay.port};transport=tcp;lr>\\r?$`, 'm'));
  });

  it('the far end goes away (its process ends, the connection closes without BYE): ended "sip-error"; nothing left open', async () => {
    // uas-answer-vanish.xml: answers, takes the ACK, ends; SIPp exits and its socket closes.
    const peer = await sipp('uas-answer-vanish.xml', 'tcp', true);
    const roomName = await createRoom(cleanups, 'peer-fin');
    const call = bridge(cleanups, roomName, peer.port);
    // SIPp may be gone before the bridge joined the room (the first call of a process loads
    // rtc-node): then `answered` rejects, so only the end is awaited.
    await sippVerdict(peer);
    const end = await ended(call, roomName);
    expect(end.reason, end.error?.message).toBe('sip-error');
    expect(end.error?.code).toBe('SIP_TRANSPORT');
    expect(end.talkMs).toBeGreaterThan(0);
    expect(await methodsAtSipp(peer)).toEqual(['INVITE', 'ACK']);
  });
});

describe('runBridge ↔ SIPp: a far end that answers and never sends RTP', () => {
  it.each(['tcp', 'udp'] as const)(
    'over %s: ended "media-timeout" (RTP_TIMEOUT), never active; SIPp gets the BYE and answers it',
    async (transport) => {
      const peer = await sipp('uas-answer.xml', transport);
      const roomName = await createRoom(cleanups, 'peer-nortp');
      const statuses: string[] = [];
      const call = bridge(cleanups, roomName, peer.port, {
        exotel: exotelFor(peer.port, transport),
        timeouts: { noMediaMs: 1000 },
      });
      call.on('status', (s) => statuses.push(s));
      const end = await ended(call, roomName);
      expect(end.reason, end.error?.message).toBe('media-timeout');
      expect(end.error?.code).toBe('RTP_TIMEOUT');
      expect(statuses).not.toContain('active');
      await sippVerdict(peer);
      expect(await methodsAtSipp(peer)).toEqual(['INVITE', 'ACK', 'BYE']);
    },
  );
});

describe('runBridge ↔ SIPp over UDP: the far end rejects the INVITE', () => {
  it.each([
    [486, 'Busy Here'],
    [503, 'Service Unavailable'],
    [404, 'Not Found'],
  ])(
    '%i %s: answered rejects with CallRejectedError (status and reason), ended "rejected", the final response ACKed',
    async (status, reason) => {
      const peer = await sipp(`uas-reject-${status}.xml`, 'udp');
      const roomName = await createRoom(cleanups, `peer-${status}`);
      const call = bridge(cleanups, roomName, peer.port, { exotel: exotelFor(peer.port, 'udp') });
      const err = await call.answered.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CallRejectedError);
      expect(err).toMatchObject({ code: 'CALL_REJECTED', status, reason });
      const end = await ended(call, roomName);
      expect(end).toMatchObject({ reason: 'rejected', sipStatus: status, talkMs: 0 });
      expect(end.error).toMatchObject({ code: 'CALL_REJECTED', status, reason });
      // The scenario's last step is the ACK: exit 0 only if it came.
      await sippVerdict(peer);
      expect(await methodsAtSipp(peer)).toEqual(['INVITE', 'ACK']);
    },
  );
});

describe('runBridge ↔ SIPp: the host hangs up while the 200 OK crosses the CANCEL', () => {
  it.each(['tcp', 'udp'] as const)(
    'over %s: CANCEL, then the 2xx is ACKed and the dialog ended with BYE (RFC 3261 §9.1); ended "host-hangup"',
    async (transport) => {
      // uas-cancel-race.xml: 180; on the CANCEL, 200 to it and 200 (with SDP) to the INVITE;
      // then it requires the ACK and then the BYE.
      const peer = await sipp('uas-cancel-race.xml', transport);
      const roomName = await createRoom(cleanups, 'peer-race');
      const call = bridge(cleanups, roomName, peer.port, { exotel: exotelFor(peer.port, transport) });
      const hungUp = new Promise<BridgeEnded>((resolve) =>
        call.on('status', (s) => {
          if (s === 'ringing') resolve(call.hangup());
        }),
      );
      const end = await hungUp;
      expect(end.reason, end.error?.message).toBe('host-hangup');
      await eventually('phone participant gone', () => phoneParticipantGone(roomName));
      await sippVerdict(peer);
      expect(await methodsAtSipp(peer)).toEqual(['INVITE', 'CANCEL', 'ACK', 'BYE']);
      // The ACK and the BYE are in the dialog the 200 OK made: its To tag, CSeq rising.
      const msgs = (await received(peer)).filter((m) => /^(INVITE|ACK|BYE) /.test(m));
      const toTags = msgs.map((m) => /^To:.*;tag=([^;\s]+)/im.exec(m)?.[1]);
      expect(toTags[0]).toBeUndefined();
      expect(toTags[1]).toMatch(/SIPpTag01/);
      expect(toTags[2]).toBe(toTags[1]);
      const cseq = msgs.map((m) => /^CSeq: *(\d+) (\w+)/im.exec(m)?.slice(1).join(' '));
      const n = Number(cseq[0]?.split(' ')[0]);
      expect(cseq).toEqual([`${n} INVITE`, `${n} ACK`, `${n + 1} BYE`]);
    },
  );
});
