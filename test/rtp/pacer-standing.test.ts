import { describe, expect, it } from 'vitest';
import { RtpPacketizer } from '../../src/rtp/packetizer.js';

const frame = () => new Int16Array(160).fill(1000);

/** Writes `burstFrames` at once, then one frame per tick for `ticks` ticks. */
function run(pz: RtpPacketizer, burstFrames: number, ticks: number): number[] {
  const queued: number[] = [];
  for (let i = 0; i < burstFrames; i++) pz.write(frame());
  for (let t = 0; t < ticks; t++) {
    pz.write(frame());
    pz.next();
    queued.push(pz.queuedSamples);
  }
  return queued;
}

describe('RtpPacketizer standing queue', () => {
  it('drops a burst that never drains once it stood for a second, down to the bound', () => {
    const pz = new RtpPacketizer({ payloadType: 8, standingQueueMs: 40, maxQueueMs: 200 });
    const queued = run(pz, 8, 120); // 160 ms of burst, then real time
    expect(queued[10]).toBe(8 * 160); // stood for under a second: untouched
    expect(queued[60]).toBe(320); // trimmed to 40 ms after the first second
    expect(queued[119]).toBe(320);
    expect(pz.stats().trimmedSamples).toBe(8 * 160 - 320);
    expect(pz.stats().overflowSamples).toBe(0);
  });

  it('leaves jitter alone: a queue that empties within the second is never trimmed', () => {
    const pz = new RtpPacketizer({ payloadType: 8, standingQueueMs: 40 });
    for (let t = 0; t < 200; t++) {
      if (t % 50 === 0) for (let i = 0; i < 8; i++) pz.write(frame()); // bursts that then drain
      pz.next();
    }
    expect(pz.stats().trimmedSamples).toBe(0);
  });

  it('is off unless asked for', () => {
    const pz = new RtpPacketizer({ payloadType: 8 });
    const queued = run(pz, 8, 120);
    expect(queued[119]).toBe(8 * 160);
    expect(pz.stats().trimmedSamples).toBe(0);
  });
});
