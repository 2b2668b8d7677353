import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';
import { RtpMediaBridge } from '../../src/rtp/bridge.js';
import { LatencyHistograms, MediaLatencyProbe } from '../../src/rtp/latency-probe.js';
import { PacedScheduler } from '../../src/rtp/pacer.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe('MediaLatencyProbe inbound', () => {
  it('splits arrival → delivery into the jitter-buffer hold and the processing time', () => {
    const probe = new MediaLatencyProbe();
    probe.packetArrived(100, 1000);
    probe.packetArrived(101, 1020);
    probe.framePopped(100, 1040);
    probe.frameDelivered(1040.25);
    probe.framePopped(101, 1060);
    probe.frameDelivered(1060.5);
    const s = probe.histograms.summary();
    expect(s.inboundHold.count).toBe(2);
    expect(s.inboundHold.max).toBe(40);
    expect(s.inboundProcessing.max).toBe(0.5);
    expect(s.inboundTotal.max).toBe(40.5);
  });

  it('records nothing for a frame whose arrival it never saw (concealment, wrapped ring)', () => {
    const probe = new MediaLatencyProbe();
    probe.packetArrived(5, 0);
    probe.framePopped(6, 20);
    probe.frameDelivered(21);
    probe.packetArrived(7 + 256, 0); // same ring slot as 7, other packet
    probe.framePopped(7, 40);
    probe.frameDelivered(41);
    expect(probe.histograms.summary().inboundTotal.count).toBe(0);
  });
});

describe('MediaLatencyProbe outbound', () => {
  it('measures each write until the packet carrying its first sample is sent', () => {
    const probe = new MediaLatencyProbe();
    probe.audioWritten(0, 0.1, 160); // samples 0..159
    probe.audioWritten(5, 5.1, 160); // samples 160..319
    probe.packetSent(20, 20.2, 160); // sent 0..159
    probe.packetSent(40, 40.2, 0); // sent 160..319
    const s = probe.histograms.summary();
    expect(s.outboundQueue.count).toBe(2);
    expect(s.outboundQueue.max).toBe(35);
    expect(s.outboundTotal.max).toBeCloseTo(35.2, 6);
    expect(s.outboundProcessing.max).toBeCloseTo(0.3, 6);
  });

  it('shares one set of histograms between probes and resets it', () => {
    const shared = new LatencyHistograms();
    const a = new MediaLatencyProbe(shared);
    const b = new MediaLatencyProbe(shared);
    a.audioWritten(0, 0, 160);
    a.packetSent(1, 1, 0);
    b.audioWritten(0, 0, 160);
    b.packetSent(2, 2, 0);
    expect(shared.summary().outboundTotal.count).toBe(2);
    shared.reset();
    expect(shared.summary().outboundTotal.count).toBe(0);
  });
});

describe('RtpMediaBridge with a latency probe', () => {
  it('records the outbound queue and processing time on the scheduler clock', async () => {
    const sink = createSocket('udp4');
    await new Promise<void>((r) => sink.bind(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => sink.close(() => r())));
    const clock = new FakeTimerClock(0);
    const scheduler = new PacedScheduler({ clock, autoRun: false });
    const probe = new MediaLatencyProbe();
    const bridge = new RtpMediaBridge({
      bindIp: '127.0.0.1',
      rtcp: false,
      clock,
      scheduler,
      latencyProbe: probe,
      noMediaTimeoutMs: 0,
      mediaTimeoutMs: 0,
      statsLogIntervalMs: 0,
    });
    cleanup.push(() => bridge.close());
    await bridge.open();
    bridge.start({
      remoteAddress: '127.0.0.1',
      remotePort: sink.address().port,
      codec: 'PCMA',
      payloadType: 8,
    });
    scheduler.poll(); // first packet (silence)
    clock.advance(7);
    bridge.writeAudio(new Int16Array(160).fill(1000), 8000);
    for (let i = 0; i < 3; i++) {
      clock.advance(13);
      scheduler.poll();
    }
    const s = probe.histograms.summary();
    expect(s.outboundQueue.count).toBe(1);
    expect(s.outboundQueue.max).toBeGreaterThan(0);
    expect(s.outboundQueue.max).toBeLessThanOrEqual(20);
    expect(s.outboundProcessing.max).toBe(0); // the manual clock did not move inside the calls
  });
});
