/**
 * Wrap-around arithmetic for RTP sequence numbers (16 bits) and timestamps / SSRCs
 * (32 bits). Every sequence and timestamp computation in the media code goes through
 * these, so that 65535 + 1 = 0 and "is b after a" work across the wrap (serial-number
 * arithmetic in the sense of RFC 1982).
 */

/** `(a + b) mod 2^16`, for sequence numbers. `b` may be negative. */
export function uint16Add(a: number, b: number): number {
  return (a + b) & 0xffff;
}

/**
 * The signed shortest distance `a − b` between two 16-bit values, in −32768..32767:
 * `uint16Diff(0, 65535) === 1`, `uint16Diff(65535, 0) === −1`.
 */
export function uint16Diff(a: number, b: number): number {
  return (((a - b) & 0xffff) << 16) >> 16;
}

/** True when `a` comes after `b` in 16-bit serial-number order (distance 1..32767). */
export function uint16Gt(a: number, b: number): boolean {
  return uint16Diff(a, b) > 0;
}

/** `(a + b) mod 2^32`, for timestamps. `b` may be negative. */
export function uint32Add(a: number, b: number): number {
  return (a + b) >>> 0;
}

/**
 * The signed shortest distance `a − b` between two 32-bit values, in −2^31..2^31−1:
 * `uint32Diff(0, 0xFFFFFFFF) === 1`.
 */
export function uint32Diff(a: number, b: number): number {
  return (a - b) | 0;
}

/** True when `a` comes after `b` in 32-bit serial-number order (distance 1..2^31−1). */
export function uint32Gt(a: number, b: number): boolean {
  return uint32Diff(a, b) > 0;
}
