/**
 * Call quality as data, end to end (real livekit-server, the simulator): RTCP reports go
 * out at RFC 3550's interval and come back with a round-trip time; with loss induced on
 * the far end's RTP, the bridge's `stats` events and `sip.quality.*` attributes report it.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { dispose } from '@livekit/rtc-node';
import type { RtpMediaBridge, RtpMediaBridgeStats } from '../../src/rtp/bridge.js';
import { isBridgeParticipant } from '../../src/entries/agent.js';
import { bridge, createRoom, runCleanups, startAgent, startSim, type Cleanups } from '../harness/e2e.js';
import { eventually } from '../harness/livekit.js';

const cleanups: Cleanups = [];
afterEach(async () => {
  await runCleanups(cleanups);
});
afterAll(async () => {
  await dispose();
});

/** The simulator call's RTP bridge (an internal the load benchmark reads too). */
function simMedia(call: unknown): RtpMediaBridge | undefined {
  return (call as { media: RtpMediaBridge | undefined }).media;
}

describe('call quality', () => {
  it('RTCP: our reports reach the far end and its reports give us a round-trip time', async () => {
    const sim = await startSim(cleanups);
    const roomName = await createRoom(cleanups, 'rtcp');
    const call = bridge(cleanups, roomName, sim.address.port, { statsIntervalMs: 1000 });
    await call.answered;
    const far = await eventually('far media', () => simMedia(sim.calls[0]));
    const t0 = Date.now();
    await eventually(
      'two reports at the far end',
      () => (far.stats().rtcpReceived >= 2 ? true : undefined),
      20_000,
    );
    const elapsed = Date.now() - t0;
    // Two reports need at least one full interval (≥ 2.5 s) after the first.
    expect(elapsed).toBeGreaterThanOrEqual(2000);
    await eventually('rtt', () => (call.stats().rtp?.rttMs !== undefined ? true : undefined), 20_000);
    expect(call.stats().rtp!.rttMs!).toBeGreaterThanOrEqual(0);
    expect(call.stats().rtp!.rtcpSent).toBeGreaterThanOrEqual(2);
  }, 40_000);

  it('10 % loss induced on the far end: stats events report it and the MOS drops; sip.quality.* attributes follow', async () => {
    const sim = await startSim(cleanups);
    const roomName = await createRoom(cleanups, 'loss');
    const agent = await startAgent(cleanups, roomName, 1000);
    const call = bridge(cleanups, roomName, sim.address.port, { statsIntervalMs: 1000 });
    const events: RtpMediaBridgeStats[] = [];
    call.on('stats', (s) => events.push(s));
    await call.answered;
    await eventually('a clean interval', () =>
      events.some((e) => e.intervalLossFraction === 0) ? true : undefined,
    );
    const clean = events.find((e) => e.intervalLossFraction === 0)!;
    // From now on the far end drops every tenth RTP packet it would send.
    const far = simMedia(sim.calls[0])!;
    const session = (
      far as unknown as { session: { send: (d: Uint8Array, n?: number, t?: number) => boolean } }
    ).session;
    const send = session.send.bind(session);
    let n = 0;
    session.send = (d, len, t) => (++n % 10 === 0 ? true : send(d, len, t));
    const lossy = await eventually(
      'a lossy interval',
      () => events.find((e) => e.intervalLossFraction > 0.05),
      10_000,
    );
    expect(lossy.intervalLossFraction).toBeGreaterThan(0.05);
    expect(lossy.intervalLossFraction).toBeLessThan(0.16);
    expect(lossy.mos).toBeLessThan(clean.mos);
    const phone = await eventually('phone', () =>
      [...agent.room.remoteParticipants.values()].find(isBridgeParticipant),
    );
    await eventually('loss attribute', () =>
      Number(phone.attributes['sip.quality.lossPercent'] ?? 0) > 5 ? true : undefined,
    );
    expect(Number(phone.attributes['sip.quality.mos'])).toBeLessThan(clean.mos);
  }, 40_000);
});
