/**
 * The LiveKit connection is lost mid-call (the server process dies): the bridge ends the
 * call with a BYE and cleans up, without the host process crashing.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { dispose } from '@livekit/rtc-node';
import { RoomServiceClient } from 'livekit-server-sdk';
import { runBridge } from '../../src/index.js';
import { ExotelSimulator } from '../../src/testing/index.js';
import { startLiveKitServer } from '../harness/livekit-server.js';
import { eventually } from '../harness/livekit.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
afterAll(async () => {
  await dispose();
});

describe('LiveKit outage', () => {
  it('the server dies mid-call: ended livekit-disconnected, BYE on the wire, RTP closed', async () => {
    const server = await startLiveKitServer(); // a private server this test may kill
    cleanups.push(() => server.stop());
    const sim = new ExotelSimulator({ host: '127.0.0.1' });
    await sim.start();
    cleanups.push(() => sim.close());
    const roomName = `outage-${Date.now()}`;
    await new RoomServiceClient(server.httpUrl, server.apiKey, server.apiSecret).createRoom({
      name: roomName,
    });
    const call = runBridge({
      roomName,
      phoneNumber: '+919876543210',
      livekit: { url: server.url, apiKey: server.apiKey, apiSecret: server.apiSecret },
      exotel: {
        sipHost: '127.0.0.1',
        sipPort: sim.address.port,
        customerIp: '127.0.0.1',
        customerSipPort: 0,
        callerId: '08044319240',
        fromDomain: 'test.sip.exotel.com',
      },
      env: {},
      timeouts: { livekitReconnectMs: 3000 },
    });
    cleanups.push(() => call.hangup());
    await call.answered;
    await eventually('active', () => call.status === 'active', 10_000);
    server.process.signalPeer('SIGKILL');
    const ended = await call.ended;
    expect(ended.reason).toBe('livekit-disconnected');
    expect(sim.requests.filter((r) => r.method === 'BYE')).toHaveLength(1);
    // Ended by the reconnect limit (3 s after the SDK reported the lost connection).
    expect(call.stats().timings.ended! - call.stats().timings.active!).toBeLessThan(8000);
  }, 90_000);
});
