import { describe, expect, it } from 'vitest';
import { estimateMos, G711_BPL_NO_PLC, IntervalLoss, mosFromR } from '../../src/rtp/quality.js';

describe('estimateMos (simplified E-model, ITU-T G.107)', () => {
  it('no loss, no delay: R = 93.2, MOS ≈ 4.41 (the G.711 ceiling)', () => {
    const q = estimateMos({ oneWayDelayMs: 0, lossFraction: 0 });
    expect(q.rFactor).toBeCloseTo(93.2, 10);
    expect(q.mos).toBeCloseTo(4.409, 3);
  });

  it('delay: Id = 0.024·d below 177.3 ms, plus 0.11·(d − 177.3) above', () => {
    expect(estimateMos({ oneWayDelayMs: 100, lossFraction: 0 }).rFactor).toBeCloseTo(93.2 - 2.4, 10);
    expect(estimateMos({ oneWayDelayMs: 277.3, lossFraction: 0 }).rFactor).toBeCloseTo(
      93.2 - 0.024 * 277.3 - 11,
      10,
    );
  });

  it('loss: Ie-eff = 95·Ppl/(Ppl + Bpl); bands for G.711 with and without concealment', () => {
    const at = (loss: number, bpl?: number): number =>
      estimateMos({ oneWayDelayMs: 60, lossFraction: loss, bpl }).mos;
    expect(at(0.01)).toBeGreaterThan(4.1);
    expect(at(0.05)).toBeGreaterThan(3.7);
    expect(at(0.05)).toBeLessThan(4.0);
    expect(at(0.2)).toBeLessThan(2.8);
    expect(at(0.05, G711_BPL_NO_PLC)).toBeLessThan(2.3); // silence insertion hurts far more
    expect(at(1)).toBeLessThan(1.5); // R = 93.2 − 1.44 − 95·100/125.1 ≈ 15.8
  });

  it('MOS from R is clamped to 1..4.5 and monotonic', () => {
    expect(mosFromR(-5)).toBe(1);
    expect(mosFromR(0)).toBe(1);
    expect(mosFromR(100)).toBe(4.5);
    let prev = 0;
    for (let r = 0; r <= 100; r += 0.5) {
      const m = mosFromR(r);
      expect(m).toBeGreaterThanOrEqual(prev);
      prev = m;
    }
  });

  it('nonsense inputs are clamped, never NaN', () => {
    expect(estimateMos({ oneWayDelayMs: Number.NaN, lossFraction: Number.NaN }).mos).toBeCloseTo(4.409, 3);
    expect(estimateMos({ oneWayDelayMs: -5, lossFraction: 7 }).mos).toBeGreaterThanOrEqual(1);
  });
});

describe('IntervalLoss (RFC 3550 A.3 over our own intervals)', () => {
  it('reports the loss of each interval, 0 when nothing was expected or duplicates outnumber losses', () => {
    const il = new IntervalLoss();
    expect(il.hasInterval).toBe(false);
    expect(il.last).toBe(0);
    expect(il.roll(100, 10)).toBeCloseTo(0.1, 10);
    expect(il.roll(150, 10)).toBe(0);
    expect(il.roll(150, 10)).toBe(0);
    expect(il.roll(250, 35)).toBeCloseTo(0.25, 10);
    expect(il.roll(300, 30)).toBe(0);
    expect(il.last).toBe(0);
    expect(il.hasInterval).toBe(true);
  });
});
