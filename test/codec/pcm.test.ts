import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  Resampler,
  applyGainInt16,
  float32ToInt16,
  int16ToFloat32,
  mixInt16,
  rmsInt16,
  saturate16,
} from '../../src/codec/pcm.js';
import { generateTone, goertzelPower, toneDominates } from '../../src/rtp/goertzel.js';
import { ConfigError } from '../../src/errors.js';

/** Feeds `input` in chunks of the given sizes (cycled) and concatenates the output. */
function runChunked(r: Resampler, input: Int16Array, sizes: number[]): Int16Array {
  const parts: Int16Array[] = [];
  let off = 0;
  let k = 0;
  while (off < input.length) {
    const n = Math.min(sizes[k++ % sizes.length]!, input.length - off);
    parts.push(Int16Array.from(r.process(input.subarray(off, off + n))));
    off += n;
  }
  const out = new Int16Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const PROBES = [300, 440, 2000, 3000];

describe('Resampler', () => {
  for (const rate of [16000, 48000, 44100, 24000, 11025]) {
    it(`${rate} Hz → 8 kHz keeps a 1 kHz tone dominant, with exactly ceil(n·8000/${rate}) samples`, () => {
      const input = generateTone(1000, rate, rate, 10000); // 1 s
      const out = runChunked(new Resampler(rate, 8000), input, [rate / 50]);
      expect(out.length).toBe(Math.ceil((input.length * 8000) / rate));
      const tail = out.subarray(400); // past the filter's start-up
      expect(toneDominates(tail, 8000, 1000, PROBES, 1000)).toBe(true);
      // unity gain in the passband: amplitude 10000 → power ≈ 10000² / 4
      const p = goertzelPower(tail, 8000, 1000);
      expect(p).toBeGreaterThan(0.9 * 25e6);
      expect(p).toBeLessThan(1.1 * 25e6);
    });
  }

  it('removes a 6 kHz tone from 48 kHz input instead of aliasing it to 2 kHz', () => {
    const input = generateTone(6000, 48000, 48000, 10000);
    const out = new Resampler(48000, 8000).process(input).subarray(400);
    // a naive decimator would fold 6 kHz to 2 kHz at full power (25e6)
    expect(goertzelPower(out, 8000, 2000)).toBeLessThan(25e6 * 1e-4);
  });

  it('upsamples 4 kHz → 8 kHz keeping a 500 Hz tone', () => {
    const input = generateTone(500, 4000, 4000, 10000);
    const out = new Resampler(4000, 8000).process(input);
    expect(out.length).toBe(8000);
    expect(toneDominates(out.subarray(200), 8000, 500, [1000, 1500, 2500, 3500], 1000)).toBe(true);
  });

  it('gives the same samples whatever the chunk sizes (property)', () => {
    const input = generateTone(1000, 48000, 4800, 12000);
    const whole = Int16Array.from(new Resampler(48000, 8000).process(input));
    const input441 = generateTone(700, 44100, 4410, 12000);
    const whole441 = Int16Array.from(new Resampler(44100, 8000).process(input441));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 1500 }), { minLength: 1, maxLength: 10 }), (sizes) => {
        expect(Array.from(runChunked(new Resampler(48000, 8000), input, sizes))).toEqual(Array.from(whole));
        expect(Array.from(runChunked(new Resampler(44100, 8000), input441, sizes))).toEqual(
          Array.from(whole441),
        );
      }),
      { numRuns: 40 },
    );
  });

  it('keeps exact length accounting across many odd chunks (coprime rate)', () => {
    const r = new Resampler(44101, 8000);
    let inTotal = 0;
    let outTotal = 0;
    for (let i = 0; i < 200; i++) {
      const n = 1 + ((i * 7919) % 613);
      outTotal += r.process(new Int16Array(n)).length;
      inTotal += n;
      expect(outTotal).toBe(Math.ceil((inTotal * 8000) / 44101));
    }
  });

  it('processInto writes into a caller array and returns the count', () => {
    const r = new Resampler(16000, 8000);
    const out = new Int16Array(r.maxOutput(320));
    expect(r.processInto(generateTone(1000, 16000, 320, 1000), out)).toBe(160);
    expect(() => r.processInto(new Int16Array(320), new Int16Array(10))).toThrow(ConfigError);
  });

  it('passes samples through unchanged at equal rates', () => {
    const x = Int16Array.of(1, -2, 3, 32767, -32768);
    expect(Array.from(new Resampler(8000, 8000).process(x))).toEqual(Array.from(x));
  });

  it('reset() restarts the stream', () => {
    const r = new Resampler(48000, 8000);
    const tone = generateTone(1000, 48000, 960, 8000);
    const a = Int16Array.from(r.process(tone));
    r.process(tone);
    r.reset();
    expect(Array.from(r.process(tone))).toEqual(Array.from(a));
  });

  it('rejects unusable rates', () => {
    expect(() => new Resampler(0, 8000)).toThrow(ConfigError);
    expect(() => new Resampler(44100.5, 8000)).toThrow(ConfigError);
    expect(() => new Resampler(48000, 8000, { zeroCrossings: 1 })).toThrow(ConfigError);
  });
});

describe('PCM helpers', () => {
  it('saturate16 rounds and clamps', () => {
    expect(saturate16(1.5)).toBe(2);
    expect(saturate16(-1.4)).toBe(-1);
    expect(saturate16(40000)).toBe(32767);
    expect(saturate16(-40000)).toBe(-32768);
  });

  it('int16 ↔ float32 conversions', () => {
    const f = int16ToFloat32(Int16Array.of(-32768, 0, 16384));
    expect(Array.from(f)).toEqual([-1, 0, 0.5]);
    expect(Array.from(float32ToInt16(Float32Array.of(-1, 0.5, 1.5, -2)))).toEqual([
      -32768, 16384, 32767, -32768,
    ]);
    const out = new Int16Array(4);
    expect(float32ToInt16(Float32Array.of(0.25), out)).toBe(out);
    expect(out[0]).toBe(8192);
    expect(() => int16ToFloat32(new Int16Array(4), new Float32Array(2))).toThrow(ConfigError);
  });

  it('mixInt16 saturates instead of wrapping and pads the shorter input', () => {
    const mixed = mixInt16(Int16Array.of(30000, -30000, 100), Int16Array.of(30000, -30000));
    expect(Array.from(mixed)).toEqual([32767, -32768, 100]);
    const a = Int16Array.of(1, 2);
    expect(mixInt16(a, Int16Array.of(10, 20), a)).toBe(a);
    expect(Array.from(a)).toEqual([11, 22]);
  });

  it('applyGainInt16 and rmsInt16', () => {
    const x = Int16Array.of(1000, -1000, 20000);
    applyGainInt16(x, 2);
    expect(Array.from(x)).toEqual([2000, -2000, 32767]);
    expect(rmsInt16(Int16Array.of(3, -3, 3, -3))).toBe(3);
    expect(rmsInt16(new Int16Array(0))).toBe(0);
  });
});
