import { describe, expect, it } from 'vitest';
import { RingbackTone, INDIA_RINGBACK } from '../../src/rtp/ringback.js';
import { dominantFrequency } from '../../src/rtp/goertzel.js';

describe('RingbackTone', () => {
  it("follows India's cadence: 0.4 s on, 0.2 s off, 0.4 s on, 2 s off, repeating", () => {
    const tone = new RingbackTone(INDIA_RINGBACK);
    const loud: boolean[] = [];
    for (let i = 0; i < 300; i++) loud.push(tone.next().some((v) => Math.abs(v) > 100));
    const expected = (i: number): boolean => {
      const ms = (i * 20) % 3000;
      return ms < 400 || (ms >= 600 && ms < 1000);
    };
    expect(loud).toEqual(loud.map((_, i) => expected(i)));
  });

  it('is a 400 Hz tone while on, and reuses one buffer', () => {
    const tone = new RingbackTone();
    const a = tone.next();
    const frames: Int16Array[] = [a.slice()];
    for (let i = 0; i < 15; i++) frames.push(tone.next().slice());
    expect(tone.next()).toBe(a);
    const all = new Int16Array(frames.reduce((n, f) => n + f.length, 0));
    let o = 0;
    for (const f of frames) {
      all.set(f, o);
      o += f.length;
    }
    expect(dominantFrequency(all, 8000, [300, 400, 440, 700, 1000])).toBe(400);
  });
});
