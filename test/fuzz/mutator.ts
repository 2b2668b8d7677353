/**
 * The seeded mutator behind the byte-level fuzz targets: bit flips, interesting bytes (CR,
 * LF, NUL, ':', ';', '<'...), truncation, deleted and duplicated ranges, splices of two
 * seeds, numbers replaced by huge or negative ones, occasional random bytes, and now and
 * then one range repeated up to {@link MAX_INPUT_BYTES} (so a parser that is quadratic in
 * its input shows up as a time-budget failure instead of passing on small inputs).
 */

/** The largest input the mutator makes (the SIP framer's default message limit). */
export const MAX_INPUT_BYTES = 64 * 1024;

/** xorshift32: fast, seeded, reproducible. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  below(n: number): number {
    return this.next() % n;
  }
}

const INTERESTING = [
  0x00, 0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x3b, 0x3c, 0x3e, 0x22, 0x5c, 0x2c, 0x3d, 0xff, 0x80, 0x7f,
];

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** One range of `b` repeated in place until the input is close to MAX_INPUT_BYTES. */
function grow(rng: Rng, b: Uint8Array): Uint8Array {
  if (b.length === 0) return b;
  const at = rng.below(b.length);
  const l = 1 + rng.below(Math.min(32, b.length - at));
  const times = Math.floor((MAX_INPUT_BYTES - b.length) / l);
  const unit = b.subarray(at, at + l);
  const out = new Uint8Array(b.length + times * l);
  out.set(b.subarray(0, at + l), 0);
  for (let i = 0; i < times; i++) out.set(unit, at + l + i * l);
  out.set(b.subarray(at + l), at + l + times * l);
  return out;
}

/** One mutated input from the seeds (1–4 stacked mutations; sometimes random bytes). */
export function mutate(rng: Rng, seeds: readonly Uint8Array[]): Uint8Array {
  if (rng.below(32) === 0) {
    const out = new Uint8Array(rng.below(300));
    for (let i = 0; i < out.length; i++) out[i] = rng.below(256);
    return out;
  }
  let b: Uint8Array = Uint8Array.from(seeds[rng.below(seeds.length)]!);
  const n = 1 + rng.below(4);
  for (let k = 0; k < n; k++) {
    const len = b.length;
    switch (rng.below(8)) {
      case 0: // flip a bit
        if (len > 0) b[rng.below(len)]! ^= 1 << rng.below(8);
        break;
      case 1: // set an interesting byte
        if (len > 0) b[rng.below(len)] = INTERESTING[rng.below(INTERESTING.length)]!;
        break;
      case 2: // truncate
        b = b.subarray(0, rng.below(len + 1));
        break;
      case 3: {
        // delete a range
        const at = rng.below(len + 1);
        const cut = rng.below(Math.min(64, len - at) + 1);
        b = concat(b.subarray(0, at), b.subarray(at + cut));
        break;
      }
      case 4: {
        // duplicate a range
        const at = rng.below(len + 1);
        const l = rng.below(Math.min(128, len - at) + 1);
        b = concat(b.subarray(0, at + l), b.subarray(at, at + l), b.subarray(at + l));
        break;
      }
      case 5: {
        // insert interesting bytes
        const at = rng.below(len + 1);
        const ins = new Uint8Array(1 + rng.below(4)).map(() => INTERESTING[rng.below(INTERESTING.length)]!);
        b = concat(b.subarray(0, at), ins, b.subarray(at));
        break;
      }
      case 6: {
        // splice with another seed
        const other = seeds[rng.below(seeds.length)]!;
        b = concat(b.subarray(0, rng.below(len + 1)), other.subarray(rng.below(other.length + 1)));
        break;
      }
      default: {
        // replace a number-looking digit run with a huge or negative one
        const s = dec(b);
        const all = [...s.matchAll(/\d+/g)];
        if (all.length > 0) {
          const hit = all[rng.below(all.length)]!;
          const repl = ['99999999999999999999', '-1', '0', '4294967296', '65536'][rng.below(5)]!;
          b = Uint8Array.from(
            Buffer.from(s.slice(0, hit.index) + repl + s.slice(hit.index + hit[0].length), 'latin1'),
          );
        }
      }
    }
  }
  // One input in 128 becomes a long one: a range repeated up to MAX_INPUT_BYTES.
  if (rng.below(128) === 0) b = grow(rng, b);
  return b.length > MAX_INPUT_BYTES ? b.subarray(0, MAX_INPUT_BYTES) : b;
}
