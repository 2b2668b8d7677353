/**
 * Linear PCM helpers: 16-bit ↔ float conversion, saturating mixing and gain, and a
 * stateful sample-rate converter for bringing any input rate (16 kHz, 24 kHz, 44.1 kHz,
 * 48 kHz...) to the 8 kHz of G.711.
 *
 * Pure and synchronous; the conversion functions write into caller-provided arrays when
 * given one, so a steady stream allocates nothing.
 */
import { ConfigError } from '../errors.js';

/** Clamps a number to the signed 16-bit range, rounding to the nearest integer. */
export function saturate16(x: number): number {
  const v = Math.round(x);
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

function target<T extends Int16Array | Float32Array>(
  n: number,
  out: T | undefined,
  make: (n: number) => T,
): T {
  if (out === undefined) return make(n);
  if (out.length < n) throw new ConfigError([`output array has ${out.length} elements, needs ${n}`]);
  return out;
}

/**
 * Converts 16-bit samples to floats in [−1, 1) (divides by 32768). Writes into `out`
 * (returned; only the first `samples.length` entries are written) or a new array.
 * Throws ConfigError when `out` is too short.
 */
export function int16ToFloat32(samples: Int16Array, out?: Float32Array): Float32Array {
  const dst = target(samples.length, out, (n) => new Float32Array(n));
  for (let i = 0; i < samples.length; i++) dst[i] = samples[i]! / 32768;
  return dst;
}

/**
 * Converts floats in [−1, 1] to 16-bit samples (× 32768, rounded, saturated). Writes into
 * `out` (returned) or a new array. Throws ConfigError when `out` is too short.
 */
export function float32ToInt16(samples: Float32Array, out?: Int16Array): Int16Array {
  const dst = target(samples.length, out, (n) => new Int16Array(n));
  for (let i = 0; i < samples.length; i++) dst[i] = saturate16(samples[i]! * 32768);
  return dst;
}

/**
 * Mixes two 16-bit signals sample by sample with saturation (no wrap-around). The result
 * has the length of the longer input; the shorter one is treated as silence past its end.
 * Writes into `out` (returned; may be `a` or `b` itself) or a new array.
 */
export function mixInt16(a: Int16Array, b: Int16Array, out?: Int16Array): Int16Array {
  const n = Math.max(a.length, b.length);
  const dst = target(n, out, (k) => new Int16Array(k));
  for (let i = 0; i < n; i++) {
    const s = (i < a.length ? a[i]! : 0) + (i < b.length ? b[i]! : 0);
    dst[i] = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
  }
  return dst;
}

/** Multiplies samples by `gain` with rounding and saturation, in place or into `out`. */
export function applyGainInt16(samples: Int16Array, gain: number, out: Int16Array = samples): Int16Array {
  const dst = target(samples.length, out, (n) => new Int16Array(n));
  for (let i = 0; i < samples.length; i++) dst[i] = saturate16(samples[i]! * gain);
  return dst;
}

/** Root-mean-square level of 16-bit samples (0 for an empty array). */
export function rmsInt16(samples: Int16Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / samples.length);
}

// ---------------------------------------------------------------------------------------
// Resampler

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Phases above this are quantized (1/512 of an input sample: error well below −60 dB). */
const MAX_EXACT_PHASES = 512;

/** Options of {@link Resampler}. */
export interface ResamplerOptions {
  /**
   * Zero crossings of the (output-rate) sinc kernel on each side (default 10): the filter
   * length, trading CPU for a sharper anti-aliasing cutoff.
   */
  zeroCrossings?: number;
  /** Cutoff as a fraction of the lower Nyquist frequency (default 0.9: 3.6 kHz at 8 kHz). */
  cutoff?: number;
}

/**
 * A stateful band-limited sample-rate converter for integer rates: a windowed-sinc
 * (Blackman) polyphase FIR, low-passed below the lower of the two Nyquist frequencies so
 * that downsampling (48 kHz → 8 kHz) does not alias. State carries across calls, so a
 * stream can be fed in chunks of any size and the output equals that of one call on the
 * whole input; after `n` input samples exactly `ceil(n × outRate / inRate)` output samples
 * have been produced. The filter delays the signal by about `zeroCrossings / cutoff`
 * output samples (≈ 1.4 ms at 8 kHz).
 *
 * When both rates are equal, samples are copied unchanged.
 */
export class Resampler {
  /** Input rate in Hz. */
  readonly inRate: number;
  /** Output rate in Hz. */
  readonly outRate: number;
  private readonly up: number; // L: output rate / gcd
  private readonly down: number; // M: input rate / gcd
  private readonly half: number; // K: taps each side
  private readonly phases: number; // rows of the coefficient table
  private readonly exact: boolean;
  private readonly coeffs: Float32Array; // phases × 2K
  private buf: Float32Array;
  private len: number;
  private center: number; // buffer index of the tap window's reference sample
  private phase = 0; // 0..L-1: output position = center + phase / L
  private out: Int16Array = new Int16Array(0);

  /** Throws ConfigError unless both rates are integers in 1000..384000. */
  constructor(inRate: number, outRate: number, opts: ResamplerOptions = {}) {
    const issues: string[] = [];
    for (const [name, r] of [
      ['inRate', inRate],
      ['outRate', outRate],
    ] as const) {
      if (!Number.isInteger(r) || r < 1000 || r > 384000)
        issues.push(`${name} must be an integer in 1000..384000, got ${r}`);
    }
    const zc = opts.zeroCrossings ?? 10;
    const cutoff = opts.cutoff ?? 0.9;
    if (!(zc >= 2 && zc <= 64)) issues.push(`zeroCrossings must be in 2..64, got ${zc}`);
    if (!(cutoff > 0.1 && cutoff <= 1)) issues.push(`cutoff must be in (0.1, 1], got ${cutoff}`);
    if (issues.length > 0) throw new ConfigError(issues);
    this.inRate = inRate;
    this.outRate = outRate;
    const g = gcd(inRate, outRate);
    this.up = outRate / g;
    this.down = inRate / g;
    // cutoff relative to the input Nyquist frequency
    const fc = cutoff * Math.min(1, outRate / inRate);
    this.half = inRate === outRate ? 1 : Math.ceil(zc / fc);
    this.exact = this.up <= MAX_EXACT_PHASES;
    this.phases = this.exact ? this.up : MAX_EXACT_PHASES + 1;
    this.coeffs = this.buildCoefficients(fc);
    const history = 2 * this.half - 1;
    this.buf = new Float32Array(history + 4096);
    this.len = history; // primed with silence so output starts at once
    this.center = this.half - 1;
  }

  private buildCoefficients(fc: number): Float32Array {
    const K = this.half;
    const taps = 2 * K;
    const rows = this.phases;
    const c = new Float32Array(rows * taps);
    const denom = this.exact ? this.up : MAX_EXACT_PHASES;
    for (let p = 0; p < rows; p++) {
      const frac = p / denom;
      let sum = 0;
      for (let t = 0; t < taps; t++) {
        const x = t - (K - 1) - frac; // distance of tap from the output position, in input samples
        const y = fc * x;
        const sinc = y === 0 ? 1 : Math.sin(Math.PI * y) / (Math.PI * y);
        const u = x / K; // −1..1
        const w =
          Math.abs(u) >= 1 ? 0 : 0.42 + 0.5 * Math.cos(Math.PI * u) + 0.08 * Math.cos(2 * Math.PI * u);
        const v = sinc * w;
        c[p * taps + t] = v;
        sum += v;
      }
      // unity gain at DC for every phase
      for (let t = 0; t < taps; t++) c[p * taps + t] = c[p * taps + t]! / sum;
    }
    return c;
  }

  /**
   * Converts the next chunk. Returns a view of an internal buffer that is overwritten by
   * the next call: consume or copy it before then. Allocates only when a chunk is larger
   * than any before.
   */
  process(input: Int16Array): Int16Array {
    const max = this.maxOutput(input.length);
    if (this.out.length < max) this.out = new Int16Array(Math.max(max, 2 * this.out.length));
    const n = this.processInto(input, this.out);
    return this.out.subarray(0, n);
  }

  /** Upper bound of the output length for an input chunk of `n` samples. */
  maxOutput(n: number): number {
    return Math.ceil(((n + 1) * this.up) / this.down) + 1;
  }

  /**
   * Converts the next chunk into `out` and returns the number of samples written.
   * Throws ConfigError when `out` is shorter than {@link maxOutput}`(input.length)`.
   */
  processInto(input: Int16Array, out: Int16Array): number {
    if (out.length < this.maxOutput(input.length)) {
      throw new ConfigError([
        `Resampler: out has ${out.length} samples, needs ${this.maxOutput(input.length)}`,
      ]);
    }
    if (this.inRate === this.outRate) {
      out.set(input);
      return input.length;
    }
    this.append(input);
    const K = this.half;
    const taps = 2 * K;
    const L = this.up;
    const M = this.down;
    const buf = this.buf;
    const coeffs = this.coeffs;
    const exact = this.exact;
    let center = this.center;
    let phase = this.phase;
    let n = 0;
    while (center + K < this.len) {
      const row = (exact ? phase : Math.round((phase * MAX_EXACT_PHASES) / L)) * taps;
      const start = center - K + 1;
      // four partial sums break the add dependency chain (taps is even)
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      let t = 0;
      for (; t + 3 < taps; t += 4) {
        a0 += buf[start + t]! * coeffs[row + t]!;
        a1 += buf[start + t + 1]! * coeffs[row + t + 1]!;
        a2 += buf[start + t + 2]! * coeffs[row + t + 2]!;
        a3 += buf[start + t + 3]! * coeffs[row + t + 3]!;
      }
      for (; t < taps; t++) a0 += buf[start + t]! * coeffs[row + t]!;
      const v = Math.round(a0 + a1 + (a2 + a3));
      out[n++] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      phase += M;
      if (phase >= L) {
        center += Math.floor(phase / L);
        phase %= L;
      }
    }
    this.phase = phase;
    // keep only the history the next window needs
    const keep = center - K + 1;
    if (keep > 0) {
      buf.copyWithin(0, keep, this.len);
      this.len -= keep;
      center -= keep;
    }
    this.center = center;
    return n;
  }

  /** Forgets the stream (history and phase), as if newly constructed. */
  reset(): void {
    const history = 2 * this.half - 1;
    this.buf.fill(0, 0, history);
    this.len = history;
    this.center = this.half - 1;
    this.phase = 0;
  }

  private append(input: Int16Array): void {
    const need = this.len + input.length;
    if (need > this.buf.length) {
      const bigger = new Float32Array(Math.max(need, 2 * this.buf.length));
      bigger.set(this.buf.subarray(0, this.len));
      this.buf = bigger;
    }
    const buf = this.buf;
    let j = this.len;
    for (let i = 0; i < input.length; i++) buf[j++] = input[i]!;
    this.len = need;
  }
}
