/**
 * Faults through the whole bridge (`runBridge()`, the real livekit-server, the Exotel
 * simulator), SIP side: request floods over TCP and UDP at the bridge's SIP port during a
 * call, Timer B over UDP end to end, in-dialog requests for dialogs that do not exist
 * (481 read off the wire), and slow-loris connections against the listener's limits.
 * Each case checks the call's end reason (or that it went on), what the agent hears, the
 * responses on the wire, and that the host process saw no unhandled rejection.
 */
import { createSocket } from 'node:dgram';
import { afterAll, describe, expect, it } from 'vitest';
import { dispose } from '@livekit/rtc-node';
import { createMemoryLogger } from '../../src/logger.js';
import { DEFAULT_SIP_MESSAGE_TIMEOUT_MS } from '../../src/sip/transport.js';
import {
  bridge,
  createRoom,
  exotelFor,
  phoneParticipantGone,
  startAgent,
  startSim,
  type Cleanups,
} from '../harness/e2e.js';
import { active, guardFaultTests, hearsTone, methods, warnLines } from '../harness/fault-guard.js';
import { eventually } from '../harness/livekit.js';
import { bridgePorts } from '../harness/rtp-far-end.js';
import { countBy, sipRequest, statuses, tcpPeer, udpPeer, type WirePeer } from '../harness/sip-wire.js';

const cleanups: Cleanups = [];
guardFaultTests(cleanups);

afterAll(async () => {
  await dispose();
});

/** A call over `transport` to the simulator with an agent in the room hearing the phone. */
async function liveCall(prefix: string, transport: 'tcp' | 'udp' = 'tcp') {
  const sim = await startSim(cleanups);
  const roomName = await createRoom(cleanups, prefix);
  const agent = await startAgent(cleanups, roomName, 1000);
  const logger = createMemoryLogger();
  const call = bridge(cleanups, roomName, sim.address.port, {
    exotel: exotelFor(sim.address.port, transport),
    logger,
  });
  await active(call);
  await hearsTone(agent.heard, 0, 440);
  return { sim, roomName, agent, call, sipPort: bridgePorts(sim).sip, warnings: () => warnLines(logger) };
}

async function peer(p: Promise<WirePeer>): Promise<WirePeer> {
  const w = await p;
  cleanups.push(() => w.close());
  return w;
}

/** Sends `n` requests made by `make`, in batches, waiting a little between batches. */
async function sendMany(w: WirePeer, n: number, make: (i: number) => string): Promise<void> {
  for (let i = 0; i < n; i += 50) {
    const batch: string[] = [];
    for (let k = i; k < Math.min(n, i + 50); k++) batch.push(make(k));
    await w.send(batch.join(''));
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The far end hangs up: the call must still be able to end normally. */
async function phoneHangsUp(
  sim: Awaited<ReturnType<typeof startSim>>,
  call: ReturnType<typeof bridge>,
  roomName: string,
) {
  await sim.calls[0]!.hangup();
  const ended = await call.ended;
  expect(ended.reason, ended.error?.message).toBe('phone-hangup');
  expect(sim.calls[0]!.endedBy).toBe('simulator');
  expect(methods(sim, 'BYE'), 'BYEs from the bridge').toBe(0);
  await eventually('phone participant gone', () => phoneParticipantGone(roomName));
}

describe('bridge faults: SIP floods during a call', () => {
  it('over TCP: OPTIONS, unknown INVITEs and BYEs from the trunk address, anything from a stranger, garbage: answered or refused, the call goes on', async () => {
    const { sim, roomName, agent, call, sipPort } = await liveCall('sip-flood-tcp');
    const trusted = await peer(tcpPeer(sipPort, '127.0.0.1'));
    const stranger = await peer(tcpPeer(sipPort, '127.0.0.2'));
    const garbage = await peer(tcpPeer(sipPort, '127.0.0.1'));
    const t = { transport: 'TCP' as const, from: trusted.local };
    const methodsCycle = ['OPTIONS', 'INVITE', 'BYE'];
    await sendMany(trusted, 1500, (i) => sipRequest(methodsCycle[i % 3]!, t));
    await sendMany(stranger, 500, (i) =>
      sipRequest(methodsCycle[i % 3]!, { transport: 'TCP', from: stranger.local }),
    );
    await garbage.send('NOT SIP AT ALL\r\n\r\n'.repeat(10));
    await eventually(
      'every request answered',
      () => statuses(trusted.received()).filter((s) => s >= 200).length >= 1500,
      15_000,
    );
    await eventually('the stranger refused', () => statuses(stranger.received()).length >= 500, 15_000);
    await eventually('the garbage connection closed', () => garbage.closed(), 5000);
    const fromTrunk = countBy(statuses(trusted.received()).filter((s) => s >= 200));
    // OPTIONS 200; an INVITE when nobody takes inbound calls 403; a BYE of no dialog 481
    expect(fromTrunk).toEqual({ 200: 500, 403: 500, 481: 500 });
    expect(countBy(statuses(stranger.received()))).toEqual({ 403: 500 });
    expect(call.status).toBe('active');
    await hearsTone(agent.heard, agent.heard.length, 440);
    await phoneHangsUp(sim, call, roomName);
  });

  it('over UDP: the same flood and 1000 garbage datagrams: answered or dropped, the call goes on', async () => {
    const { sim, roomName, agent, call, sipPort } = await liveCall('sip-flood-udp', 'udp');
    const trusted = await peer(udpPeer(sipPort, '127.0.0.1'));
    const stranger = await peer(udpPeer(sipPort, '127.0.0.2'));
    const t = { transport: 'UDP' as const, from: trusted.local };
    const one = async (w: WirePeer, n: number, make: (i: number) => string): Promise<void> => {
      for (let i = 0; i < n; i++) {
        await w.send(make(i));
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, 2));
      }
    };
    // paced (a pause every 10 datagrams): the bridge reads in this very process, and a
    // tighter loop overflows its socket's receive buffer (counted in /proc/net/snmp RcvbufErrors)
    await one(trusted, 500, () => sipRequest('OPTIONS', t));
    await one(trusted, 500, () => sipRequest('BYE', { ...t, toTag: 'nope' }));
    await one(trusted, 1000, (i) => `GARBAGE ${i}\r\n\r\n`);
    await one(stranger, 500, () => sipRequest('OPTIONS', { transport: 'UDP', from: stranger.local }));
    await eventually('answers', () => statuses(trusted.received()).length >= 1000, 15_000).catch(
      (e: unknown) => {
        throw new Error(
          `${String(e)}: ${JSON.stringify(countBy(statuses(trusted.received())))} ${JSON.stringify(countBy(statuses(stranger.received())))}`,
        );
      },
    );
    await eventually('refusals', () => statuses(stranger.received()).length >= 500, 15_000);
    expect(countBy(statuses(trusted.received()))).toEqual({ 200: 500, 481: 500 });
    expect(countBy(statuses(stranger.received()))).toEqual({ 403: 500 });
    expect(call.status).toBe('active');
    await hearsTone(agent.heard, agent.heard.length, 440);
    await phoneHangsUp(sim, call, roomName);
  });
  it("1100 unknown INVITEs from the trunk address fill the server-transaction table (1024, Timer H keeps them 32 s): the far end's BYE still ends the call", async () => {
    const { sim, roomName, call, sipPort, warnings } = await liveCall('tx-cap');
    const trusted = await peer(tcpPeer(sipPort, '127.0.0.1'));
    await sendMany(trusted, 1100, () => sipRequest('INVITE', { transport: 'TCP', from: trusted.local }));
    await eventually('the table full', () => statuses(trusted.received()).length >= 1024, 15_000);
    // the 76 beyond the table were dropped, unanswered
    expect(countBy(statuses(trusted.received()))).toEqual({ 403: 1024 });
    // logged at most once a second, not once per dropped request
    const dropLines = warnings().filter((w) => w.startsWith('[SIP] too many server transactions')).length;
    expect(dropLines).toBeGreaterThanOrEqual(1);
    expect(dropLines).toBeLessThan(76);
    expect(call.status).toBe('active');
    // before the fix this BYE was dropped too, and the call only ended at the media timeout
    await phoneHangsUp(sim, call, roomName);
  });
});

describe('bridge faults: dialogs that do not exist', () => {
  it('a BYE or INFO for an unknown dialog, and a BYE with our Call-ID but wrong tags: 481 on the wire, the call goes on', async () => {
    const { sim, roomName, agent, call, sipPort } = await liveCall('481');
    const { sipCallId } = await call.answered;
    const w = await peer(tcpPeer(sipPort, '127.0.0.1'));
    const t = { transport: 'TCP' as const, from: w.local };
    await w.send(sipRequest('BYE', { ...t, callId: 'no-such-dialog@elsewhere', toTag: 'x' }));
    await w.send(sipRequest('INFO', { ...t, callId: 'no-such-dialog-2@elsewhere', toTag: 'y' }));
    await w.send(
      sipRequest('BYE', { ...t, callId: sipCallId, fromTag: 'not-the-far-end', toTag: 'not-ours', cseq: 99 }),
    );
    await eventually('three answers', () => statuses(w.received()).length >= 3, 5000);
    expect(statuses(w.received())).toEqual([481, 481, 481]);
    expect(w.received()).toMatch(/^SIP\/2\.0 481 Call\/Transaction Does Not Exist\r\n/m);
    expect(call.status).toBe('active');
    await hearsTone(agent.heard, agent.heard.length, 440);
    await phoneHangsUp(sim, call, roomName);
  });
});

describe('bridge faults: Timer B over UDP', () => {
  it('a far end that never answers the INVITE over UDP: retransmitted (Timer A), then ended "sip-error" 408 (Timer B), no CANCEL', async () => {
    const silent = createSocket('udp4');
    const got: string[] = [];
    silent.on('message', (m) => void got.push(m.toString('latin1')));
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => silent.close(() => r())));
    const roomName = await createRoom(cleanups, 'timer-b-udp');
    // T1 = 50 ms: Timer B (64·T1) fires after 3.2 s instead of 32 s
    const call = bridge(cleanups, roomName, silent.address().port, {
      exotel: exotelFor(silent.address().port, 'udp'),
      sipTimers: { t1: 50 },
    });
    await expect(call.answered).rejects.toMatchObject({ code: 'SIP_TIMEOUT' });
    const ended = await call.ended;
    expect(ended.reason).toBe('sip-error');
    expect(ended.sipStatus).toBe(408);
    const invites = got.filter((m) => m.startsWith('INVITE '));
    // Timer A doubles from T1: INVITEs at 0, 50, 150, 350, 750, 1550, 3150 ms, then Timer B at 3200
    expect(invites.length).toBeGreaterThanOrEqual(2);
    expect(invites.length).toBeLessThanOrEqual(7);
    expect(new Set(invites).size, 'retransmissions are the same request').toBe(1);
    expect(got.some((m) => m.startsWith('CANCEL '))).toBe(false);
    await eventually('phone participant gone', () => phoneParticipantGone(roomName));
  });
});

describe('bridge faults: slow-loris on the SIP listener', () => {
  it('70 connections trickling one header: 6 over the limit of 64 refused at once, the rest cut off after the message timeout; the call goes on', async () => {
    const { sim, roomName, agent, call, sipPort } = await liveCall('loris');
    const peers: WirePeer[] = [];
    for (let i = 0; i < 70; i++) {
      const w = await peer(tcpPeer(sipPort, '127.0.0.1')).catch(() => undefined);
      if (w !== undefined) {
        peers.push(w);
        await w.send('OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n');
      }
    }
    const closed = (): number => 70 - peers.filter((w) => !w.closed()).length;
    await eventually('the connections over the limit closed', () => closed() >= 6, 5000);
    expect(closed()).toBe(6);
    // one header byte every 500 ms: a message that never ends is cut off after the message timeout
    let n = 0;
    const trickle = setInterval(() => {
      n += 1;
      for (const w of peers) if (!w.closed()) void w.send('X');
    }, 500);
    cleanups.push(() => clearInterval(trickle));
    await eventually(
      'every slow connection closed',
      () => closed() === 70,
      DEFAULT_SIP_MESSAGE_TIMEOUT_MS + 10_000,
    );
    clearInterval(trickle);
    expect(n).toBeGreaterThan(2);
    expect(call.status).toBe('active');
    await hearsTone(agent.heard, agent.heard.length, 440);
    await phoneHangsUp(sim, call, roomName);
  }, 60_000);
});
