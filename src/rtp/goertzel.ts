/**
 * Single-frequency detection (the Goertzel algorithm) and tone generation, for tests,
 * the demo and applications that want to check "is there a 1 kHz tone in this audio"
 * without an FFT. Pure functions; nothing here keeps state.
 */
import { ConfigError } from '../errors.js';

/** Any readable array of samples (Int16Array, Float32Array, number[]). */
export type SampleArray = ArrayLike<number>;

/**
 * Power of `samples` at `freq` Hz, normalized by the window length: a sinusoid of
 * amplitude A exactly at `freq` gives about A²/4, silence gives 0. `freq` need not fall on
 * a DFT bin (the generalized Goertzel recurrence is used). Returns 0 for an empty array.
 */
export function goertzelPower(samples: SampleArray, sampleRate: number, freq: number): number {
  const n = samples.length;
  if (n === 0) return 0;
  const w = (2 * Math.PI * freq) / sampleRate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s0 = samples[i]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return Math.max(0, power) / (n * n);
}

/**
 * True when the power at `freq` exceeds `ratio` times the power at every probe frequency
 * (and is not zero). A typical check: `toneDominates(pcm, 8000, 1000, [300, 440, 2000])`.
 */
export function toneDominates(
  samples: SampleArray,
  sampleRate: number,
  freq: number,
  probes: readonly number[],
  ratio = 10,
): boolean {
  const p = goertzelPower(samples, sampleRate, freq);
  if (p <= 0) return false;
  for (const f of probes) if (p <= ratio * goertzelPower(samples, sampleRate, f)) return false;
  return true;
}

/** The candidate frequency with the most power (the first one on ties). */
export function dominantFrequency(
  samples: SampleArray,
  sampleRate: number,
  candidates: readonly number[],
): number {
  if (candidates.length === 0) throw new ConfigError(['dominantFrequency needs at least one candidate']);
  let best = candidates[0]!;
  let bestPower = -1;
  for (const f of candidates) {
    const p = goertzelPower(samples, sampleRate, f);
    if (p > bestPower) {
      bestPower = p;
      best = f;
    }
  }
  return best;
}

/**
 * `n` samples of a sine tone, rounded and saturated to 16 bits. `phase` is the index of the
 * first sample within the tone, so consecutive chunks continue without a click:
 * `generateTone(f, 8000, 160, a, 0)`, then `(…, 160)`, `(…, 320)`...
 */
export function generateTone(
  freq: number,
  sampleRate: number,
  n: number,
  amplitude = 8000,
  phase = 0,
): Int16Array {
  if (!(sampleRate > 0) || !Number.isInteger(n) || n < 0) {
    throw new ConfigError([
      `generateTone: need sampleRate > 0 and an integer n ≥ 0 (got ${sampleRate}, ${n})`,
    ]);
  }
  const out = new Int16Array(n);
  const w = (2 * Math.PI * freq) / sampleRate;
  for (let i = 0; i < n; i++) {
    const v = Math.round(amplitude * Math.sin(w * (phase + i)));
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
}

/** Row and column frequencies of each DTMF key (ITU-T Q.23). */
export const DTMF_FREQUENCIES: Readonly<Record<string, readonly [low: number, high: number]>> = {
  '1': [697, 1209],
  '2': [697, 1336],
  '3': [697, 1477],
  A: [697, 1633],
  '4': [770, 1209],
  '5': [770, 1336],
  '6': [770, 1477],
  B: [770, 1633],
  '7': [852, 1209],
  '8': [852, 1336],
  '9': [852, 1477],
  C: [852, 1633],
  '*': [941, 1209],
  '0': [941, 1336],
  '#': [941, 1477],
  D: [941, 1633],
};

/**
 * `n` samples of the in-band dual tone of a DTMF key, each component at `amplitude`.
 * Throws ConfigError for an unknown key.
 */
export function generateDtmfTone(
  digit: string,
  sampleRate: number,
  n: number,
  amplitude = 6000,
  phase = 0,
): Int16Array {
  const f = DTMF_FREQUENCIES[digit.toUpperCase()];
  if (f === undefined) throw new ConfigError([`unknown DTMF key "${digit}"`]);
  const low = generateTone(f[0], sampleRate, n, amplitude, phase);
  const high = generateTone(f[1], sampleRate, n, amplitude, phase);
  for (let i = 0; i < n; i++) {
    const v = low[i]! + high[i]!;
    low[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return low;
}
