/**
 * Outbound calls dial while LiveKit connects. Made deterministic with a LiveKit "server" that
 * accepts TCP and never answers: the INVITE still reaches the simulator, and when LiveKit's
 * connect times out while the phone rings, the call is CANCELled and ends with the typed error.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { runBridge } from '../../src/index.js';
import { exotelFor, runCleanups, startSim, type Cleanups } from '../harness/e2e.js';
import { eventually } from '../harness/livekit.js';

const cleanups: Cleanups = [];
afterEach(async () => {
  await runCleanups(cleanups);
});

/** A TCP listener that takes connections and says nothing (a LiveKit that never answers). */
async function silentServer(): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return (server.address() as { port: number }).port;
}

describe('outbound calls dial while LiveKit connects', () => {
  it('the INVITE leaves before LiveKit answers; LiveKit failing while it rings CANCELs the call', async () => {
    const sim = await startSim(cleanups, { ringAfterMs: 50, answerAfterMs: 60_000 });
    const lkPort = await silentServer();
    const call = runBridge({
      roomName: 'never-joined',
      phoneNumber: '+919876543210',
      livekit: { url: `ws://127.0.0.1:${lkPort}`, token: 'not-checked-by-a-silent-server' },
      exotel: exotelFor(sim.address.port),
      env: {},
      requireExistingRoom: false,
      timeouts: { connectMs: 3000 },
    });
    cleanups.push(() => call.hangup());
    const statuses: string[] = [];
    call.on('status', (s) => statuses.push(s));
    // the INVITE is out and ringing while the LiveKit connect is still pending
    await eventually('INVITE at the far end', () => sim.requests.some((r) => r.method === 'INVITE'));
    expect(call.stats().timings.livekitConnected).toBeUndefined();
    await eventually('ringing', () => statuses.includes('ringing'));
    const ended = await call.ended;
    expect(ended.reason).toBe('livekit-disconnected');
    expect(ended.error?.code).toBe('LIVEKIT_CONNECT');
    const methods = sim.requests.map((r) => r.method);
    expect(methods.filter((m) => m === 'INVITE')).toHaveLength(1);
    expect(methods).toContain('CANCEL');
    expect(methods.indexOf('CANCEL')).toBeGreaterThan(methods.indexOf('INVITE'));
    expect(call.stats().timings.inviteSent).toBeDefined();
  });
});
