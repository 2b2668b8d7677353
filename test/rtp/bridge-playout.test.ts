import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';
import { RtpMediaBridge } from '../../src/rtp/bridge.js';
import { serializeRtpPacket } from '../../src/rtp/packet.js';
import { PacedScheduler } from '../../src/rtp/pacer.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  cleanup.push(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}

describe('RtpMediaBridge playout', () => {
  it('plays every period that is due when a scheduler wake-up ran late', async () => {
    const far = await udp();
    const clock = new FakeTimerClock(0);
    const scheduler = new PacedScheduler({ clock, autoRun: false });
    const bridge = new RtpMediaBridge({
      bindIp: '127.0.0.1',
      rtcp: false,
      clock,
      scheduler,
      jitterTargetMs: 40,
      noMediaTimeoutMs: 0,
      mediaTimeoutMs: 0,
      statsLogIntervalMs: 0,
    });
    cleanup.push(() => bridge.close());
    const local = await bridge.open();
    bridge.start({
      remoteAddress: '127.0.0.1',
      remotePort: far.address().port,
      codec: 'PCMA',
      payloadType: 8,
    });
    let frames = 0;
    bridge.on('audio', () => frames++);
    const send = async (seq: number) => {
      const pkt = serializeRtpPacket({
        payloadType: 8,
        sequenceNumber: seq,
        timestamp: seq * 160,
        ssrc: 7,
        payload: new Uint8Array(160).fill(0x55),
      });
      far.send(pkt, local.port, '127.0.0.1');
      await until(() => bridge.stats().packetsReceived === seq + 1);
    };
    // real time: one packet and one scheduler wake-up every 20 ms
    for (let seq = 0; seq < 5; seq++) {
      await send(seq);
      scheduler.poll();
      clock.advance(20);
    }
    const before = frames;
    expect(before).toBeGreaterThan(0);
    // the next three packets arrive, but the scheduler wakes up only once, 40 ms late
    for (let seq = 5; seq < 8; seq++) await send(seq);
    clock.advance(40);
    scheduler.poll();
    expect(frames - before).toBe(3);
  });
});
