/**
 * The fault matrix: every way a bridged call can go wrong, end to end against the real
 * livekit-server and a real SIP far end (the Exotel simulator, SIPp, or a bare TCP peer).
 * Each case checks that the call ends with the right reason, that a BYE or CANCEL goes
 * out exactly where one is due, that the host process saw no unhandled error, and that
 * nothing is left: the library's resource counts all 0, and the process's file descriptors
 * and threads back to one baseline taken for the whole file after a warm-up call
 * (test/harness/resources.ts; unref'd timers and native sockets and threads count too).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dispose } from '@livekit/rtc-node';
import { RoomServiceClient } from 'livekit-server-sdk';
import {
  ConfigError,
  InvalidHeaderError,
  InvalidPhoneNumberError,
  runBridge,
  type BridgeCall,
  type BridgeEndReason,
  type Logger,
  type RunBridgeOptions,
} from '../../src/index.js';
import { sharedSipClientCount } from '../../src/sip-client-pool.js';
import { G711Codec } from '../../src/codec/g711.js';
import { generateTone, dominantFrequency } from '../../src/rtp/goertzel.js';
import type { ExotelSimulator } from '../../src/testing/index.js';
import {
  bridge,
  createRoom,
  exotelFor,
  livekitOpts,
  loudPart,
  phoneParticipantGone,
  runCleanups,
  startAgent,
  startSim,
  type Cleanups,
} from '../harness/e2e.js';
import { eventually, mintToken, roomService } from '../harness/livekit.js';
import { startLiveKitServer } from '../harness/livekit-server.js';
import { startSipp } from '../harness/sipp.js';
import {
  expectNothingLeft,
  fetchWithoutKeepAlive,
  processResources,
  type ProcessResources,
} from '../harness/resources.js';

const cleanups: Cleanups = [];
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => void unhandled.push(e);
let baseline: ProcessResources;
let caseStart: ProcessResources;
/** How long the after-each check waits for everything to go away (a case may need longer). */
let settleMs = 15_000;

// One baseline for the file, after a warm-up call: rtc-node's runtime, libwebrtc's threads
// and libuv's pool start once per process and stay. No HTTP keep-alive (the RoomService
// client and the bridge's room check), so every socket is closed when its request is done.
beforeAll(async () => {
  await fetchWithoutKeepAlive();
  const sim = await startSim(cleanups);
  const roomName = await createRoom(cleanups, 'warmup');
  const call = bridge(cleanups, roomName, sim.address.port);
  await answered(call);
  await call.hangup();
  await eventually('phone participant gone', () => phoneParticipantGone(roomName));
  await runCleanups(cleanups);
  await new Promise((r) => setTimeout(r, 1000));
  baseline = processResources();
}, 60_000);

beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
  caseStart = processResources();
  settleMs = 15_000;
});

afterEach(async () => {
  await runCleanups(cleanups);
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled, 'unhandled rejections in the host process').toEqual([]);
  // Everything the bridge opened is closed again: nothing counted, no fd or thread extra.
  await expectNothingLeft(baseline, caseStart, settleMs);
  expect(sharedSipClientCount()).toBe(0);
}, 120_000);

afterAll(async () => {
  await dispose();
});

function methods(sim: ExotelSimulator, method: string): number {
  return sim.requests.filter((r) => r.method === method).length;
}

async function answered(call: BridgeCall): Promise<void> {
  await call.answered;
  await eventually('active', () => call.status === 'active', 10_000);
}

/** The ended reason, that no BYE/CANCEL went out beyond `due`, and that the phone left the room. */
async function expectEnd(
  call: BridgeCall,
  roomName: string,
  reason: BridgeEndReason,
  sim: ExotelSimulator | undefined,
  due: { BYE?: number; CANCEL?: number } = {},
): Promise<void> {
  const ended = await call.ended;
  expect(ended.reason, ended.error?.message).toBe(reason);
  if (sim !== undefined) {
    expect(methods(sim, 'BYE'), 'BYEs from the bridge').toBe(due.BYE ?? 0);
    expect(methods(sim, 'CANCEL'), 'CANCELs from the bridge').toBe(due.CANCEL ?? 0);
  }
  await eventually('phone participant gone', () => phoneParticipantGone(roomName));
}

describe('fault matrix: the far end', () => {
  it.each([
    [486, 'Busy Here'],
    [603, 'Decline'],
    [404, 'Not Found'],
    [503, 'Service Unavailable'],
    [403, 'Forbidden'],
  ])(
    'answers %i %s: ended "rejected" with the status, the final response ACKed, no BYE',
    async (status, reason) => {
      const sim = await startSim(cleanups, { reject: { status, reason } });
      const roomName = await createRoom(cleanups, 'rej');
      const call = bridge(cleanups, roomName, sim.address.port);
      await expect(call.answered).rejects.toMatchObject({ code: 'CALL_REJECTED', status });
      await expectEnd(call, roomName, 'rejected', sim);
      expect((await call.ended).sipStatus).toBe(status);
      await eventually('ACK of the final response', () => methods(sim, 'ACK') === 1);
    },
  );

  it('is a dead peer (connection refused): ended "sip-error" at once, nothing left open', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const roomName = await createRoom(cleanups, 'dead');
    const call = bridge(cleanups, roomName, port);
    await expect(call.answered).rejects.toMatchObject({ code: 'SIP_TRANSPORT' });
    await expectEnd(call, roomName, 'sip-error', undefined);
  });

  it('accepts the TCP connection but never responds: Timer B ends it ("sip-error", 408), no CANCEL is due', async () => {
    const got: Buffer[] = [];
    const conns = new Set<Socket>();
    const silent: Server = createServer((s) => {
      conns.add(s);
      s.on('data', (d) => got.push(d));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          for (const s of conns) s.destroy();
          silent.close(() => r());
        }),
    );
    const roomName = await createRoom(cleanups, 'silent');
    // T1 = 50 ms: Timer B (64·T1) fires after 3.2 s instead of 32 s.
    const call = bridge(cleanups, roomName, (silent.address() as { port: number }).port, {
      sipTimers: { t1: 50 },
      timeouts: { ringingMs: 1000 },
    });
    await expect(call.answered).rejects.toMatchObject({ code: 'SIP_TIMEOUT' });
    await expectEnd(call, roomName, 'sip-error', undefined);
    expect((await call.ended).sipStatus).toBe(408);
    const wire = Buffer.concat(got).toString('latin1');
    // No provisional response ever came, so no CANCEL may be sent (RFC 3261 9.1).
    expect(wire.match(/^INVITE /gm)).toHaveLength(1);
    expect(wire).not.toMatch(/^CANCEL /m);
  });

  it('rings until the ringing timeout: ended "no-answer" with one CANCEL', async () => {
    const sim = await startSim(cleanups, { noAnswer: true });
    const roomName = await createRoom(cleanups, 'ring');
    const call = bridge(cleanups, roomName, sim.address.port, { timeouts: { ringingMs: 800 } });
    await expectEnd(call, roomName, 'no-answer', sim, { CANCEL: 1 });
  });

  it('answers while our CANCEL is on the wire: the 2xx is ACKed and the dialog ended with BYE', async () => {
    const sipp = await startSipp({ scenario: 'uas-cancel-race.xml', transport: 'tcp' });
    cleanups.push(() => sipp.stop());
    const roomName = await createRoom(cleanups, 'race');
    const call = bridge(cleanups, roomName, sipp.port, { timeouts: { ringingMs: 600 } });
    await expectEnd(call, roomName, 'no-answer', undefined);
    // SIPp exits 0 only after receiving the ACK of its 200 and then a BYE.
    expect(await sipp.done(), (await sipp.errors()) || 'sipp failed').toBe(0);
    const reqs = (await sipp.messages()).match(/^(INVITE|CANCEL|ACK|BYE) sip:/gm) ?? [];
    expect(reqs.map((l) => l.split(' ')[0])).toEqual(['INVITE', 'CANCEL', 'ACK', 'BYE']);
  });

  it('hangs up (BYE from the far end): ended "phone-hangup", no BYE from us', async () => {
    const sim = await startSim(cleanups, { hangupAfterMs: 700 });
    const roomName = await createRoom(cleanups, 'bye');
    const call = bridge(cleanups, roomName, sim.address.port);
    await answered(call);
    await expectEnd(call, roomName, 'phone-hangup', sim);
    expect(sim.calls[0]!.endedBy).toBe('simulator');
  });

  it('resets its TCP connection mid-call: ended "sip-error"; the BYE is attempted on a new connection', async () => {
    const sim = await startSim(cleanups);
    const roomName = await createRoom(cleanups, 'rst');
    const call = bridge(cleanups, roomName, sim.address.port);
    await answered(call);
    sim.resetConnections();
    await expectEnd(call, roomName, 'sip-error', sim, { BYE: 1 });
  });

  it('stops sending RTP: ended "media-timeout" with a BYE', async () => {
    const sim = await startSim(cleanups, { dropRtpAfterMs: 400 });
    const roomName = await createRoom(cleanups, 'rtp');
    const call = bridge(cleanups, roomName, sim.address.port, { timeouts: { mediaMs: 700 } });
    await answered(call);
    await expectEnd(call, roomName, 'media-timeout', sim, { BYE: 1 });
  });

  it('a stranger sends RTP to the bridge port: dropped and counted, the agent hears only the phone', async () => {
    const sim = await startSim(cleanups);
    const roomName = await createRoom(cleanups, 'stranger');
    const agent = await startAgent(cleanups, roomName, 1000);
    const call = bridge(cleanups, roomName, sim.address.port);
    await answered(call);
    const sdp = Buffer.from(sim.requests.find((r) => r.method === 'INVITE')!.message.body).toString();
    const port = Number(/m=audio (\d+) /.exec(sdp)?.[1]);
    const stranger = createSocket('udp4');
    cleanups.push(() => new Promise<void>((r) => stranger.close(() => r())));
    await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', () => r()));
    const codec = new G711Codec('PCMA');
    const tone = generateTone(2000, 8000, 8000, 12000);
    for (let i = 0; i < 50; i++) {
      const pkt = Buffer.alloc(172);
      pkt[0] = 0x80;
      pkt[1] = 8;
      pkt.writeUInt16BE(i, 2);
      pkt.writeUInt32BE(i * 160, 4);
      pkt.writeUInt32BE(0xbad, 8);
      pkt.set(codec.encode(tone.subarray(i * 160, (i + 1) * 160)), 12);
      await new Promise<void>((r) => stranger.send(pkt, port, '127.0.0.1', () => r()));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(call.stats().rtp!.strangers).toBe(50);
    expect(call.status).toBe('active');
    await eventually('agent heard the phone', () => loudPart(agent.heard).length >= 8000, 10_000);
    expect(dominantFrequency(loudPart(agent.heard), 8000, [440, 1000, 2000])).toBe(440);
    await call.hangup();
    await expectEnd(call, roomName, 'host-hangup', sim, { BYE: 1 });
  });
});

describe('fault matrix: the room', () => {
  it('the agent leaves: ended "agent-left" after the grace period, with a BYE', async () => {
    const sim = await startSim(cleanups);
    const roomName = await createRoom(cleanups, 'agentleft');
    const agent = await startAgent(cleanups, roomName, 1000);
    const call = bridge(cleanups, roomName, sim.address.port, { timeouts: { agentGoneMs: 500 } });
    await answered(call);
    await agent.stopSpeaking();
    await agent.room.disconnect();
    await expectEnd(call, roomName, 'agent-left', sim, { BYE: 1 });
  });

  it('the participant is removed: ended "participant-removed", with a BYE', async () => {
    const sim = await startSim(cleanups);
    const roomName = await createRoom(cleanups, 'removed');
    const call = bridge(cleanups, roomName, sim.address.port);
    await answered(call);
    await roomService().removeParticipant(roomName, call.identity);
    await expectEnd(call, roomName, 'participant-removed', sim, { BYE: 1 });
  });

  it('the room is deleted: ended "room-deleted", with a BYE', async () => {
    const sim = await startSim(cleanups);
    const roomName = await createRoom(cleanups, 'deleted');
    const call = bridge(cleanups, roomName, sim.address.port);
    await answered(call);
    await roomService().deleteRoom(roomName);
    await expectEnd(call, roomName, 'room-deleted', sim, { BYE: 1 });
  });

  it('the LiveKit server is killed mid-call and restarted: BYE, then the next call works', async () => {
    const server = await startLiveKitServer();
    cleanups.push(() => server.stop());
    const sim = await startSim(cleanups);
    const opts = (roomName: string): RunBridgeOptions => ({
      roomName,
      phoneNumber: '+919876543210',
      livekit: { url: server.url, apiKey: server.apiKey, apiSecret: server.apiSecret },
      exotel: exotelFor(sim.address.port),
      env: {},
      timeouts: { livekitReconnectMs: 2000 },
    });
    const rooms = () => new RoomServiceClient(server.httpUrl, server.apiKey, server.apiSecret);
    await rooms().createRoom({ name: 'outage-1' });
    const call = runBridge(opts('outage-1'));
    cleanups.push(() => call.hangup());
    await answered(call);
    server.process.signalPeer('SIGKILL');
    const ended = await call.ended;
    expect(ended.reason).toBe('livekit-disconnected');
    expect(methods(sim, 'BYE')).toBe(1);
    await server.stop();

    const again = await startLiveKitServer({ ports: server.ports });
    cleanups.push(() => again.stop());
    await rooms().createRoom({ name: 'outage-2' });
    const next = runBridge(opts('outage-2'));
    cleanups.push(() => next.hangup());
    await answered(next);
    expect((await next.hangup()).reason).toBe('host-hangup');
    expect(methods(sim, 'BYE')).toBe(2);
  }, 90_000);
});

describe('fault matrix: the host', () => {
  it('aborts while connecting to LiveKit: ended "aborted", nothing dialled', async () => {
    const sim = await startSim(cleanups);
    const roomName = await createRoom(cleanups, 'abort0');
    const ac = new AbortController();
    const call = bridge(cleanups, roomName, sim.address.port, { signal: ac.signal });
    ac.abort();
    await expect(call.answered).rejects.toMatchObject({ code: 'ABORTED' });
    await expectEnd(call, roomName, 'aborted', sim);
    expect(sim.requests).toHaveLength(0);
  });

  it('LiveKit refuses the join (bad token) while the call is being dialled: ended "livekit-disconnected"; an INVITE that left is CANCELled, never left ringing', async () => {
    // rtc-node's native HTTP client keeps the connection of a refused join pooled until it
    // has been idle ~90 s (measured: gone after 86-91 s; two refused joins leave one): wait it out.
    settleMs = 100_000;
    // The phone rings until the refusal came (an answer first would make it a BYE instead).
    const sim = await startSim(cleanups, { noAnswer: true });
    const roomName = await createRoom(cleanups, 'badtoken');
    const call = bridge(cleanups, roomName, sim.address.port, {
      // a token signed with the wrong secret; without a key/secret the room check is skipped
      livekit: {
        url: livekitOpts().url,
        token: await mintToken({ identity: 'x', room: roomName, secret: 'wrong' }),
      },
    });
    await expect(call.answered).rejects.toMatchObject({ code: 'LIVEKIT_CONNECT' });
    // Outbound calls dial while LiveKit connects: the INVITE leaves before the bridge joins,
    // and the refusal CANCELs it.
    await call.ended;
    expect(methods(sim, 'INVITE')).toBe(1);
    await expectEnd(call, roomName, 'livekit-disconnected', sim, { CANCEL: 1 });
  });

  it('aborts while the participant connects (after the INVITE left): ended "aborted", the INVITE CANCELled, the participant never stays in the room', async () => {
    const sim = await startSim(cleanups, { noAnswer: true });
    const roomName = await createRoom(cleanups, 'abort-connect');
    const ac = new AbortController();
    // Abort the moment the bridge starts connecting (the room check has passed and the INVITE
    // has left): the native connect is under way and completes after the abort.
    const onLine = (msg: unknown): void => {
      if (typeof msg === 'string' && msg.startsWith('[BRIDGE] Connecting to LiveKit room')) ac.abort();
    };
    const logger: Logger = {
      debug: () => undefined,
      info: (a: unknown, b?: unknown) => onLine(typeof a === 'string' ? a : b),
      warn: () => undefined,
      error: () => undefined,
      child: () => logger,
    };
    const call = bridge(cleanups, roomName, sim.address.port, { signal: ac.signal, logger });
    await expect(call.answered).rejects.toMatchObject({ code: 'ABORTED' });
    expect(call.stats().timings.livekitConnected).toBeUndefined();
    await call.ended; // the INVITE is counted once it arrived
    expect(methods(sim, 'INVITE')).toBe(1);
    await expectEnd(call, roomName, 'aborted', sim, { CANCEL: 1 });
    // the native connect completed after the abort: the participant must have left again
    await new Promise((r) => setTimeout(r, 1000));
    expect(await phoneParticipantGone(roomName)).toBe(true);
  });

  it('aborts while it rings: ended "aborted" with one CANCEL', async () => {
    const sim = await startSim(cleanups, { noAnswer: true });
    const roomName = await createRoom(cleanups, 'abort1');
    const ac = new AbortController();
    const call = bridge(cleanups, roomName, sim.address.port, { signal: ac.signal });
    await eventually('ringing', () => call.status === 'ringing', 10_000);
    ac.abort();
    await expectEnd(call, roomName, 'aborted', sim, { CANCEL: 1 });
  });

  it('aborts after the answer: ended "aborted" with one BYE', async () => {
    const sim = await startSim(cleanups);
    const roomName = await createRoom(cleanups, 'abort2');
    const ac = new AbortController();
    const call = bridge(cleanups, roomName, sim.address.port, { signal: ac.signal });
    await answered(call);
    ac.abort();
    await expectEnd(call, roomName, 'aborted', sim, { BYE: 1 });
  });

  it('invalid configuration: a typed ConfigError at once, nothing opened', async () => {
    const sim = await startSim(cleanups);
    const roomName = await createRoom(cleanups, 'cfg');
    const bad: Partial<RunBridgeOptions>[] = [
      { livekit: { url: '', apiKey: 'k', apiSecret: 's' } },
      { livekit: { url: 'ftp://not-livekit', apiKey: 'k', apiSecret: 's' } },
      { exotel: { ...exotelFor(sim.address.port), callerId: '' } },
      { exotel: { ...exotelFor(sim.address.port), sipPort: 70000 } },
      { exotel: { ...exotelFor(sim.address.port), rtpPortRange: [20000, 10000] } },
    ];
    for (const extra of bad) {
      expect(() =>
        runBridge({
          roomName,
          phoneNumber: '+919876543210',
          livekit: livekitOpts(),
          env: {},
          ...extra,
          exotel: extra.exotel ?? exotelFor(sim.address.port),
        }),
      ).toThrow(ConfigError);
    }
    expect(sim.requests).toHaveLength(0);
    expect(await phoneParticipantGone(roomName)).toBe(true);
  });

  it('a phone number or header carrying CR/LF or SIP syntax: a typed error at once, nothing sent', async () => {
    const sim = await startSim(cleanups);
    const roomName = await createRoom(cleanups, 'inject');
    const numbers = [
      '+919876543210\r\nVia: SIP/2.0/TCP evil',
      '+91987654321\n0',
      'sip:+919876543210@evil.example.com',
      '<+919876543210>',
      '+919876543210;transport=udp',
      '+919876543210@evil',
      '"+919876543210"',
      '+91 98765 4321O',
    ];
    for (const phoneNumber of numbers) {
      expect(() => bridge(cleanups, roomName, sim.address.port, { phoneNumber }), phoneNumber).toThrow(
        InvalidPhoneNumberError,
      );
    }
    const hostileHeaders: Record<string, string>[] = [
      { 'X-Ok': 'a\r\nVia: SIP/2.0/TCP evil' },
      { 'X-Ok': 'a\nb' },
      { Via: 'SIP/2.0/TCP evil' },
      { 'X-Bad Name': 'v' },
      { 'X-Long': 'x'.repeat(5000) },
    ];
    for (const sipHeaders of hostileHeaders) {
      expect(() => bridge(cleanups, roomName, sim.address.port, { sipHeaders })).toThrow(InvalidHeaderError);
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(sim.requests).toHaveLength(0);
    expect(await phoneParticipantGone(roomName)).toBe(true);
  });
});
