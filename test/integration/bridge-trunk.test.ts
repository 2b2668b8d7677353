/**
 * The trunk side of runBridge end to end (real livekit-server, the Exotel simulator on
 * loopback): a whole call over TLS with a CA made in the test, where the trunk's own
 * in-dialog BYE comes back over TLS; two concurrent calls with different caller IDs over
 * one SIP listener; and the trunk's health seen through CRLF keepalives and OPTIONS.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dispose } from '@livekit/rtc-node';
import { ExotelSipClient, type TrunkHealth } from '../../src/entries/sip.js';
import { waitForAudioReady, isBridgeParticipant } from '../../src/entries/agent.js';
import { sharedSipClientCount } from '../../src/sip-client-pool.js';
import { dominantFrequency } from '../../src/rtp/goertzel.js';
import { ExotelSimulator } from '../../src/testing/index.js';
import {
  bridge,
  createRoom,
  exotelFor,
  loudPart,
  phoneParticipantGone,
  runCleanups,
  startAgent,
  type Cleanups,
} from '../harness/e2e.js';
import { eventually } from '../harness/livekit.js';
import { makeTestPki, type TestPki } from '../harness/pki.js';

const PROBES = [300, 440, 700, 1000, 2000];
const cleanups: Cleanups = [];
let pki: TestPki;

beforeAll(() => {
  pki = makeTestPki();
});
afterEach(async () => {
  await runCleanups(cleanups);
});
afterAll(async () => {
  await dispose();
});

async function startSimulator(o: ConstructorParameters<typeof ExotelSimulator>[0]): Promise<ExotelSimulator> {
  const s = new ExotelSimulator({
    host: '127.0.0.1',
    fromDomain: 'test.sip.exotel.com',
    behaviour: { ringAfterMs: 50, answerAfterMs: 150, play: { toneHz: 440, amplitude: 8000 } },
    ...o,
  });
  await s.start();
  cleanups.push(() => s.close());
  return s;
}

describe('runBridge and the trunk', () => {
  it('a whole call over TLS: audio both ways, and the trunk hangs up with an in-dialog BYE over TLS', async () => {
    const sim = await startSimulator({
      tls: { key: pki.key, cert: pki.cert },
      callerIds: ['08044319240'],
      behaviour: {
        ringAfterMs: 50,
        answerAfterMs: 150,
        play: { toneHz: 440, amplitude: 8000 },
        hangupAfterMs: 4000,
      },
    });
    expect(sim.address.transport).toBe('tls');
    const roomName = await createRoom(cleanups, 'tls');
    const agent = await startAgent(cleanups, roomName, 1000);
    const call = bridge(cleanups, roomName, sim.address.port, {
      exotel: { ...exotelFor(sim.address.port), transport: 'tls', tls: { ca: pki.ca } },
    });
    await call.answered;
    const phone = await eventually('phone participant', () =>
      [...agent.room.remoteParticipants.values()].find(isBridgeParticipant),
    );
    await waitForAudioReady(phone, { room: agent.room, timeoutMs: 10_000 });
    const ended = await call.ended;
    expect(ended.reason).toBe('phone-hangup');
    // Everything the simulator received came over TLS: INVITE, ACK and the 200 to its BYE.
    expect(new Set(sim.requests.map((r) => r.transport))).toEqual(new Set(['tls']));
    expect(sim.requests.map((r) => r.method)).toEqual(['INVITE', 'ACK']);
    const heardByAgent = loudPart(agent.heard);
    expect(heardByAgent.length).toBeGreaterThan(8000);
    expect(dominantFrequency(heardByAgent, 8000, PROBES)).toBe(440);
    const heardByPhone = sim.calls[0]!.heard();
    expect(dominantFrequency(loudPart([heardByPhone]), 8000, PROBES)).toBe(1000);
    await eventually('participant gone', async () =>
      (await phoneParticipantGone(roomName)) ? true : undefined,
    );
  });

  it('TLS with a CA the trunk certificate does not chain to: the call fails with a transport error, nothing left', async () => {
    const other = makeTestPki();
    const sim = await startSimulator({ tls: { key: pki.key, cert: pki.cert } });
    const roomName = await createRoom(cleanups, 'tls-bad');
    const call = bridge(cleanups, roomName, sim.address.port, {
      exotel: { ...exotelFor(sim.address.port), transport: 'tls', tls: { ca: other.ca } },
    });
    await expect(call.answered).rejects.toMatchObject({ code: 'SIP_TRANSPORT' });
    expect(sim.requests).toHaveLength(0);
    await eventually('participant gone', async () =>
      (await phoneParticipantGone(roomName)) ? true : undefined,
    );
  });

  it('two concurrent calls with different caller IDs share one SIP listener, each with its own From user', async () => {
    const sim = await startSimulator({ callerIds: ['08011112222', '08033334444'] });
    const rooms = [await createRoom(cleanups, 'cid-a'), await createRoom(cleanups, 'cid-b')];
    const calls = [
      bridge(cleanups, rooms[0]!, sim.address.port, {
        callerId: '08011112222',
        phoneNumber: '+919876543210',
      }),
      bridge(cleanups, rooms[1]!, sim.address.port, {
        callerId: '08033334444',
        phoneNumber: '+919876543211',
      }),
    ];
    await Promise.all(calls.map((c) => c.answered));
    expect(sharedSipClientCount()).toBe(1);
    const invites = sim.requests.filter((r) => r.method === 'INVITE');
    expect(invites).toHaveLength(2);
    const users = invites.map((r) => /<sip:([^@]+)@/.exec(r.message.headers.get('From') ?? '')?.[1]).sort();
    expect(users).toEqual(['08011112222', '08033334444']);
    // One listener: both INVITEs came from the same source port on one connection.
    expect(new Set(invites.map((r) => `${r.source.address}:${r.source.port}`)).size).toBe(1);
    await Promise.all(calls.map((c) => c.hangup()));
    expect(sharedSipClientCount()).toBe(0);
  });
});

describe('trunkHealth over real sockets', () => {
  function client(
    port: number,
    extra: Partial<ConstructorParameters<typeof ExotelSipClient>[0]>,
  ): ExotelSipClient {
    const c = new ExotelSipClient({
      customerIp: '127.0.0.1',
      customerSipPort: 0,
      sipHost: '127.0.0.1',
      sipPort: port,
      transport: 'tcp',
      fromDomain: 'test.sip.exotel.com',
      callerId: '08044319240',
      ...extra,
    });
    cleanups.push(() => c.close());
    return c;
  }

  it('CRLF keepalive: pongs report the trunk up; a trunk that stops answering is reported down and its connection closed', async () => {
    const sim = await startSimulator({});
    const c = client(sim.address.port, { keepaliveIntervalMs: 200, keepalivePongTimeoutMs: 300 });
    const health: TrunkHealth[] = [];
    c.on('trunkHealth', (h) => health.push(h));
    // A call opens the trunk connection; keepalives run on it while it is idle.
    const call = c.invite({ to: '+919876543210' });
    await call.answered;
    await eventually('a pong', () => health.find((h) => h.state === 'up' && h.source === 'keepalive'));
    expect(health.find((h) => h.state === 'up')!.rttMs).toBeGreaterThanOrEqual(0);
    sim.setKeepaliveAnswers(false);
    const down = await eventually('down', () => health.find((h) => h.state === 'down'), 5000);
    expect(down.source).toBe('keepalive');
    expect(down.error?.code).toBe('SIP_TRANSPORT');
    expect(c.stats().connectionsClosedKeepalive).toBe(1);
  });

  it('OPTIONS probes: up while the trunk answers, down once it is gone', async () => {
    const sim = await startSimulator({});
    const c = client(sim.address.port, {
      optionsIntervalMs: 200,
      timers: { t1: 50 },
      keepaliveIntervalMs: 0,
    });
    const health: TrunkHealth[] = [];
    c.on('trunkHealth', (h) => health.push(h));
    await c.start();
    const up = await eventually('up', () => health.find((h) => h.state === 'up'));
    expect(up).toMatchObject({ source: 'options', status: 200 });
    await sim.close();
    const down = await eventually('down', () => health.find((h) => h.state === 'down'), 8000);
    expect(down.source === 'options' || down.source === 'connection').toBe(true);
  });
});
