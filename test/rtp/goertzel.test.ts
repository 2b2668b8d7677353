import { describe, expect, it } from 'vitest';
import {
  DTMF_FREQUENCIES,
  dominantFrequency,
  generateDtmfTone,
  generateTone,
  goertzelPower,
  toneDominates,
} from '../../src/rtp/goertzel.js';
import { ConfigError } from '../../src/errors.js';

describe('Goertzel detector', () => {
  it('a 440 Hz tone dominates 300, 1000 and 2000 Hz', () => {
    const tone = generateTone(440, 8000, 1600, 8000);
    const p440 = goertzelPower(tone, 8000, 440);
    // amplitude 8000 → about 8000² / 4
    expect(p440).toBeGreaterThan(0.9 * 16e6);
    expect(p440).toBeLessThan(1.1 * 16e6);
    for (const f of [300, 1000, 2000]) expect(p440).toBeGreaterThan(1000 * goertzelPower(tone, 8000, f));
    expect(toneDominates(tone, 8000, 440, [300, 1000, 2000])).toBe(true);
    expect(toneDominates(tone, 8000, 1000, [440])).toBe(false);
    expect(dominantFrequency(tone, 8000, [300, 440, 1000, 2000])).toBe(440);
  });

  it('silence has (near) zero power and dominates nothing', () => {
    const silence = new Int16Array(800);
    expect(goertzelPower(silence, 8000, 440)).toBe(0);
    expect(toneDominates(silence, 8000, 440, [1000])).toBe(false);
    expect(goertzelPower(new Int16Array(0), 8000, 440)).toBe(0);
  });

  it('works on floats and at 48 kHz', () => {
    const f32 = Float32Array.from(generateTone(1000, 48000, 4800, 16384), (x) => x / 32768);
    expect(toneDominates(f32, 48000, 1000, [500, 2000, 3000], 100)).toBe(true);
  });

  it('generateTone continues a tone across chunks when phase is the sample index', () => {
    const whole = generateTone(1000, 8000, 320, 8000);
    const a = generateTone(1000, 8000, 160, 8000, 0);
    const b = generateTone(1000, 8000, 160, 8000, 160);
    expect(Array.from(a)).toEqual(Array.from(whole.subarray(0, 160)));
    expect(Array.from(b)).toEqual(Array.from(whole.subarray(160)));
    expect(whole[2]).toBe(8000); // sin(2π·1000·2/8000) = 1
  });

  it('generateTone saturates and validates', () => {
    const loud = generateTone(1000, 8000, 8, 100000);
    expect(loud[2]).toBe(32767);
    expect(loud[6]).toBe(-32768);
    expect(() => generateTone(1000, 0, 8)).toThrow(ConfigError);
    expect(() => generateTone(1000, 8000, 1.5)).toThrow(ConfigError);
  });

  it('a DTMF key carries its row and column tones', () => {
    const five = generateDtmfTone('5', 8000, 800);
    const [low, high] = DTMF_FREQUENCIES['5']!;
    expect([low, high]).toEqual([770, 1336]);
    const rows = [697, 770, 852, 941];
    const cols = [1209, 1336, 1477, 1633];
    expect(dominantFrequency(five, 8000, rows)).toBe(770);
    expect(dominantFrequency(five, 8000, cols)).toBe(1336);
    expect(() => generateDtmfTone('x', 8000, 10)).toThrow(ConfigError);
  });
});
