import { describe, expect, it } from 'vitest';

import { InvalidHeaderError } from '../../src/errors.js';
import { BRANCH_MAGIC_COOKIE, newBranch, newCallId, newTag, type RandomSource } from '../../src/sip/ids.js';

/** Returns 0x00, 0x01, 0x02... so every id is predictable. */
function counting(): RandomSource {
  let next = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = next++ & 0xff;
    return out;
  };
}

describe('ids', () => {
  it('builds a Call-ID from 16 random bytes and the host', () => {
    expect(newCallId('203.0.113.10', counting())).toBe('000102030405060708090a0b0c0d0e0f@203.0.113.10');
    expect(newCallId(undefined, () => new Uint8Array(16).fill(0xff))).toBe(
      'ffffffffffffffffffffffffffffffff',
    );
  });

  it('accepts an IPv6 host with or without brackets (both are RFC 3261 words)', () => {
    expect(newCallId('2001:db8::1', counting())).toBe('000102030405060708090a0b0c0d0e0f@2001:db8::1');
    expect(newCallId('[2001:db8::1]', counting())).toMatch(/@\[2001:db8::1\]$/);
  });

  it('refuses a host that would break the Call-ID header', () => {
    expect(() => newCallId('evil\r\nVia: x', counting())).toThrow(InvalidHeaderError);
    expect(() => newCallId('a b', counting())).toThrow(InvalidHeaderError);
    expect(() => newCallId('a@b', counting())).toThrow(InvalidHeaderError);
  });

  it('builds tags from 8 bytes and branches from the magic cookie plus 12 bytes', () => {
    const r = counting();
    expect(newTag(r)).toBe('0001020304050607');
    expect(newBranch(r)).toBe(`${BRANCH_MAGIC_COOKIE}08090a0b0c0d0e0f10111213`);
  });

  it('uses crypto randomness by default: distinct values of the right shape', () => {
    const tags = new Set(Array.from({ length: 50 }, () => newTag()));
    expect(tags.size).toBe(50);
    for (let i = 0; i < 20; i++) {
      expect(newBranch()).toMatch(/^z9hG4bK[0-9a-f]{24}$/);
      expect(newCallId('h')).toMatch(/^[0-9a-f]{32}@h$/);
    }
  });

  it('refuses a random source that returns too few bytes', () => {
    expect(() => newTag(() => new Uint8Array(3))).toThrow(InvalidHeaderError);
  });
});
