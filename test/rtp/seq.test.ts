import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { uint16Add, uint16Diff, uint16Gt, uint32Add, uint32Diff, uint32Gt } from '../../src/rtp/seq.js';

describe('16-bit sequence arithmetic', () => {
  it('wraps at the boundaries', () => {
    expect(uint16Add(65535, 1)).toBe(0);
    expect(uint16Add(0, -1)).toBe(65535);
    expect(uint16Add(65000, 1000)).toBe(464);
    expect(uint16Diff(0, 65535)).toBe(1);
    expect(uint16Diff(65535, 0)).toBe(-1);
    expect(uint16Diff(5, 5)).toBe(0);
    expect(uint16Diff(32767, 0)).toBe(32767);
    expect(uint16Diff(32768, 0)).toBe(-32768);
    expect(uint16Gt(0, 65535)).toBe(true);
    expect(uint16Gt(65535, 0)).toBe(false);
    expect(uint16Gt(7, 7)).toBe(false);
  });

  it('diff inverts add for any distance in range (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: -32768, max: 32767 }), (a, d) => {
        expect(uint16Diff(uint16Add(a, d), a)).toBe(d);
        expect(uint16Gt(uint16Add(a, d), a)).toBe(d > 0);
      }),
    );
  });
});

describe('32-bit timestamp arithmetic', () => {
  it('wraps at the boundaries', () => {
    expect(uint32Add(0xffffffff, 1)).toBe(0);
    expect(uint32Add(0, -1)).toBe(0xffffffff);
    expect(uint32Add(0xffffff00, 0x200)).toBe(0x100);
    expect(uint32Diff(0, 0xffffffff)).toBe(1);
    expect(uint32Diff(0xffffffff, 0)).toBe(-1);
    expect(uint32Diff(160, 0xffffff60)).toBe(320);
    expect(uint32Gt(0, 0xffffffff)).toBe(true);
    expect(uint32Gt(0xffffffff, 0)).toBe(false);
    expect(uint32Gt(0x7fffffff, 0)).toBe(true);
    expect(uint32Gt(0x80000000, 0)).toBe(false);
  });

  it('diff inverts add for any distance in range (property)', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (a, d) => {
        const b = uint32Add(a, d);
        expect(b).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThanOrEqual(0xffffffff);
        expect(uint32Diff(b, a)).toBe(d);
      }),
    );
  });
});
