/**
 * Faults through the whole bridge (`runBridge()`, the real livekit-server, the Exotel
 * simulator), media and room side: hostile RTP from the latched far end and from
 * strangers, a far end that never sends RTP, a LiveKit outage shorter and longer than
 * `livekitReconnectMs`, and an agent that drops and rejoins. Each case checks the end
 * reason (or that there was none), what an agent in the room hears, the counters in
 * `call.stats().rtp`, and that the host process saw no unhandled rejection.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { dispose } from '@livekit/rtc-node';
import { RoomServiceClient } from 'livekit-server-sdk';
import { runBridge, type BridgeCall, type RunBridgeOptions } from '../../src/index.js';
import { createMemoryLogger } from '../../src/logger.js';
import { goertzelPower, toneDominates } from '../../src/rtp/goertzel.js';
import type { RtpStats } from '../../src/rtp/stats.js';
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
import { startLiveKitServer, type LiveKitServerHandle } from '../harness/livekit-server.js';
import { startAgentOn } from '../harness/lk-agent.js';
import { startTcpGate } from '../harness/tcp-gate.js';
import {
  flood,
  malformedPackets,
  portsInInvite,
  rtpPacket,
  startRtpFarEnd,
  stranger,
} from '../harness/rtp-far-end.js';
import { startSipp, type SippRun } from '../harness/sipp.js';

const cleanups: Cleanups = [];
guardFaultTests(cleanups);

afterAll(async () => {
  await dispose();
});

function rtp(call: BridgeCall): RtpStats {
  const s = call.stats().rtp;
  if (s === undefined) throw new Error('no RTP stats');
  return s;
}

/**
 * A call to SIPp (which answers and sends no RTP) whose far-end media comes from our own
 * socket: the bridge latches to it, so it can then send anything from the latched source.
 */
async function callWithOwnFarEnd(prefix: string) {
  const sipp = await startSipp({ scenario: 'uas-answer.xml', transport: 'tcp', timeoutS: 40 });
  cleanups.push(() => sipp.stop());
  const roomName = await createRoom(cleanups, prefix);
  const agent = await startAgent(cleanups, roomName, 1000);
  const call = bridge(cleanups, roomName, sipp.port);
  await call.answered;
  const ports = await eventually("the INVITE in SIPp's trace", async () =>
    portsInInvite(await sipp.messages()),
  );
  const farEnd = await startRtpFarEnd(ports.rtp, 440);
  cleanups.push(() => farEnd.close());
  await active(call);
  await hearsTone(agent.heard, 0, 440);
  return { sipp, roomName, agent, call, ports, farEnd };
}

/** Hangs up; SIPp (uas-answer.xml) exits 0 only once our BYE came and was answered. */
async function hangUpTo(call: BridgeCall, sipp: SippRun): Promise<void> {
  expect((await call.hangup()).reason).toBe('host-hangup');
  expect(await sipp.done(), (await sipp.errors()) || 'sipp failed').toBe(0);
}

describe('bridge faults: hostile RTP', () => {
  it('malformed, wrong-PT and a 20k garbage flood from the latched far end: dropped and counted, audio goes on both ways', async () => {
    const { sipp, agent, call, ports, farEnd } = await callWithOwnFarEnd('rtp-bad');
    const before = rtp(call);
    const kinds = malformedPackets();
    // 20 of each kind, then 20 with a payload type nobody negotiated (96), all from the latched source
    await flood(farEnd.sock, ports.rtp, 20 * kinds.length, (i) => kinds[i % kinds.length]!.bytes);
    await flood(farEnd.sock, ports.rtp, 20, (i) =>
      rtpPacket({ payloadType: 96, seq: i, ts: i * 160, ssrc: 0x0440_0440 }),
    );
    await eventually(
      'all counted',
      () =>
        rtp(call).malformed - before.malformed >= 20 * kinds.length &&
        rtp(call).unknownPayloadType - before.unknownPayloadType >= 20,
      5000,
    );
    expect(rtp(call).malformed - before.malformed).toBe(20 * kinds.length);
    expect(rtp(call).unknownPayloadType - before.unknownPayloadType).toBe(20);
    expect(rtp(call).ssrcChanges).toBe(before.ssrcChanges);

    const sentToUs = farEnd.received();
    const garbage = kinds.find((k) => k.kind === 'text garbage')!.bytes;
    const flooded = await flood(farEnd.sock, ports.rtp, 20_000, () => garbage);
    expect(flooded).toBe(20_000);
    expect(call.status).toBe('active');
    // after the flood the room still hears the phone, and the phone still gets the room's RTP
    await hearsTone(agent.heard, agent.heard.length, 440);
    await eventually('RTP to the far end goes on', () => farEnd.received() > sentToUs + 50, 5000);
    const dropped = rtp(call).malformed - before.malformed - 20 * kinds.length;
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBeLessThanOrEqual(20_000);
    expect(rtp(call).strangers).toBe(0);
    console.log(
      `[bridge-faults] garbage flood from the latched source: 20000 sent, ${dropped} counted malformed`,
    );
    await hangUpTo(call, sipp);
  });

  it('a 20k RTP flood from strangers (another port, another address): dropped and counted, the room hears only the phone', async () => {
    const { sipp, agent, call, ports } = await callWithOwnFarEnd('rtp-flood');
    const samePort = await stranger('127.0.0.1');
    const otherIp = await stranger('127.0.0.2');
    cleanups.push(
      () => samePort.close(),
      () => otherIp.close(),
    );
    const before = rtp(call);
    // well-formed PCMA packets (a loud 0x00-payload buzz would win the tone check if let in)
    const make = (i: number) =>
      rtpPacket({ seq: i, ts: i * 160, ssrc: 0xbad, payload: new Uint8Array(160).fill(0x2a) });
    const [a, b] = await Promise.all([
      flood(samePort.sock, ports.rtp, 10_000, make),
      flood(otherIp.sock, ports.rtp, 10_000, make),
    ]);
    expect(a + b).toBe(20_000);
    expect(call.status).toBe('active');
    await hearsTone(agent.heard, agent.heard.length, 440);
    const counted = rtp(call).strangers - before.strangers;
    expect(counted).toBeGreaterThan(0);
    expect(counted).toBeLessThanOrEqual(20_000);
    expect(rtp(call).ssrcChanges).toBe(0);
    console.log(`[bridge-faults] stranger flood: 20000 sent, ${counted} counted strangers`);
    await hangUpTo(call, sipp);
  });

  it('a far end that answers but never sends RTP: ended "media-timeout" (RTP_TIMEOUT) with a BYE', async () => {
    // SIPp's uas-answer.xml answers with SDP and sends no RTP; it exits 0 once our BYE came
    const sipp = await startSipp({ scenario: 'uas-answer.xml', transport: 'tcp' });
    cleanups.push(() => sipp.stop());
    const roomName = await createRoom(cleanups, 'no-rtp');
    const call = bridge(cleanups, roomName, sipp.port, { timeouts: { noMediaMs: 800 } });
    await call.answered;
    const ended = await call.ended;
    expect(ended.reason, ended.error?.message).toBe('media-timeout');
    expect(ended.error?.code).toBe('RTP_TIMEOUT');
    expect(call.stats().rtp?.packetsReceived ?? 0).toBe(0);
    expect(await sipp.done(), (await sipp.errors()) || 'sipp failed').toBe(0);
    expect((await sipp.messages()).match(/^BYE sip:/gm)).toHaveLength(1);
    await eventually('phone participant gone', () => phoneParticipantGone(roomName));
  });
});

describe('bridge faults: the room', () => {
  it('an agent drops and another rejoins within agentGoneMs: the call survives and the new agent hears the phone', async () => {
    const sim = await startSim(cleanups);
    const roomName = await createRoom(cleanups, 'rejoin');
    const first = await startAgent(cleanups, roomName, 1000, 'agent-1');
    const call = bridge(cleanups, roomName, sim.address.port, { timeouts: { agentGoneMs: 2500 } });
    await active(call);
    await hearsTone(first.heard, 0, 440);
    await first.stopSpeaking();
    await first.room.disconnect();
    const second = await startAgent(cleanups, roomName, 2000, 'agent-2');
    await hearsTone(second.heard, 0, 440);
    // well past the grace period: still on
    await new Promise((r) => setTimeout(r, 3000));
    expect(call.status).toBe('active');
    expect(methods(sim, 'BYE')).toBe(0);
    // and the phone hears the new agent
    const heardByPhone = sim.calls[0]!.heard();
    const tail = heardByPhone.subarray(Math.max(0, heardByPhone.length - 8000));
    expect(tail.length).toBe(8000);
    expect(toneDominates(tail, 8000, 2000, [440, 1000])).toBe(true);
    expect((await call.hangup()).reason).toBe('host-hangup');
  });
});

describe('bridge faults: LiveKit outage (a dedicated server, restarted at the same ports)', () => {
  async function outageCall(server: LiveKitServerHandle, reconnectMs: number, bridgeUrl = server.url) {
    const sim = await startSim(cleanups);
    const lk = { url: server.url, apiKey: server.apiKey, apiSecret: server.apiSecret };
    const roomName = `outage-${Date.now().toString(36)}`;
    await new RoomServiceClient(server.httpUrl, server.apiKey, server.apiSecret).createRoom({
      name: roomName,
    });
    const agent = await startAgentOn(cleanups, lk, roomName, 1000);
    const logger = createMemoryLogger();
    const opts: RunBridgeOptions = {
      roomName,
      phoneNumber: '+919876543210',
      livekit: { ...lk, url: bridgeUrl },
      exotel: exotelFor(sim.address.port),
      env: {},
      logger,
      timeouts: { livekitReconnectMs: reconnectMs },
    };
    const call = runBridge(opts);
    cleanups.push(() => call.hangup());
    await active(call);
    await hearsTone(agent.heard, 0, 440);
    return { sim, agent, call, roomName, warnings: () => warnLines(logger) };
  }

  it('shorter than livekitReconnectMs (SIGKILL, restarted at the same ports): the call survives, audio resumes both ways', async () => {
    const server = await startLiveKitServer();
    let current = server;
    cleanups.push(() => current.stop());
    // The bridge reaches the server through a gate: shut during the outage, opened only once
    // the agent is back in the restarted room with its track, so the bridge finds the
    // agent's track in the room state of its rejoin rather than as a TrackPublished event.
    const gate = await startTcpGate(server.ports.port);
    cleanups.push(() => gate.close());
    const { sim, agent, call, roomName, warnings } = await outageCall(
      server,
      20_000,
      `ws://127.0.0.1:${gate.port}`,
    );
    const statuses: string[] = [];
    call.on('status', (st) => statuses.push(st));
    gate.setOpen(false);
    server.process.signalPeer('SIGKILL');
    await server.stop();
    current = await startLiveKitServer({ ports: server.ports });
    const rooms = new RoomServiceClient(current.httpUrl, current.apiKey, current.apiSecret);
    await eventually(
      'the agent back in the restarted room with its track',
      async () =>
        (await rooms.listParticipants(roomName).catch(() => [])).some(
          (p) => p.identity === 'agent' && p.tracks.length > 0,
        ),
      20_000,
    );
    gate.setOpen(true);
    const mark = agent.heard.length;
    const outcome = await Promise.race([
      call.ended.then((e) => `ended ${e.reason}`),
      hearsTone(agent.heard, mark, 440).then(() => 'audio resumed'),
    ]).catch((e: unknown) => `error ${String(e)}`);
    console.log(
      `[bridge-faults] short outage: ${outcome}; agent events ${agent.events.join(',')}; call statuses [${statuses.join(',')}]; bridge reconnects refused while shut: ${gate.refused()}`,
    );
    expect(outcome).toBe('audio resumed');
    // the bridge saw the loss (and was waiting for it to resume), the agent resubscribed
    expect(warnings()).toContain('[BRIDGE] LiveKit connection lost; waiting for it to resume');
    expect(agent.events.filter((e) => e === 'subscribed').length).toBeGreaterThanOrEqual(2);
    expect(call.status).toBe('active');
    expect(statuses).toEqual([]);
    // the restarted server knows the phone participant again, and the phone hears the agent
    const ps = await rooms.listParticipants(roomName);
    expect(ps.some((p) => p.identity === call.identity)).toBe(true);
    const phoneHeardAt = sim.calls[0]!.heard().length;
    const lastSecond = (): Int16Array => {
      const heard = sim.calls[0]!.heard();
      return heard.subarray(Math.max(phoneHeardAt, heard.length - 8000));
    };
    await eventually(
      'the phone hears the agent again (its last second is 1000 Hz)',
      () => lastSecond().length === 8000 && toneDominates(lastSecond(), 8000, 1000, [440, 2000]),
      20_000,
    ).catch(async (err: unknown) => {
      const powers = [440, 1000, 2000].map((f) => Math.round(goertzelPower(lastSecond(), 8000, f)));
      const onServer = (await rooms.listParticipants(roomName)).map(
        (p) => `${p.identity}:${p.tracks.map((t) => `${t.name}${t.muted ? '(muted)' : ''}`).join('+')}`,
      );
      const local = [...agent.room.localParticipant!.trackPublications.values()].map((t) => t.name);
      throw new Error(
        `${String(err)}; livekit ${JSON.stringify(call.stats().livekit)}; agent events ${agent.events.join(',')}; power at 440/1000/2000 Hz ${powers.join('/')}; on the server ${onServer.join(' ')}; agent's local publications ${local.join(',')}`,
      );
    });
    expect(methods(sim, 'BYE')).toBe(0);
    expect((await call.hangup()).reason).toBe('host-hangup');
  }, 60_000);

  it('longer than livekitReconnectMs: ended "livekit-disconnected" with a BYE, before the server is back', async () => {
    const server = await startLiveKitServer();
    cleanups.push(() => server.stop());
    const { sim, call } = await outageCall(server, 1500);
    server.process.signalPeer('SIGKILL');
    const ended = await call.ended;
    expect(ended.reason, ended.error?.message).toBe('livekit-disconnected');
    expect(methods(sim, 'BYE')).toBe(1);
  }, 60_000);
});
