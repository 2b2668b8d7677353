/**
 * A ringback tone, 20 ms at a time at 8 kHz: what a caller hears while the far end
 * rings. The default is India's (ITU-T E.180 supplement): 400 Hz modulated by 25 Hz, on
 * 0.4 s, off 0.2 s, on 0.4 s, off 2.0 s. Pure: the caller asks for the next frame, which
 * is written into a buffer made once.
 */

/** A ringback pattern: carrier, optional modulation, and the on/off cadence in ms (starting with on). */
export interface RingbackPattern {
  /** The carrier tone's frequency (India: 400 Hz). */
  frequencyHz: number;
  /** Amplitude modulation frequency (India: 25 Hz); 0 for a plain tone. */
  modulationHz: number;
  /** Durations of tone and silence in turn, starting with tone, in ms; the list repeats. */
  cadenceMs: readonly number[];
  /** Peak amplitude (default 6000 of 32767, about −15 dBFS). */
  amplitude?: number;
}

/** India's ringback. */
export const INDIA_RINGBACK: RingbackPattern = Object.freeze({
  frequencyHz: 400,
  modulationHz: 25,
  cadenceMs: Object.freeze([400, 200, 400, 2000]),
});

const RATE = 8000;
const FRAME = 160;

/** Generates a ringback pattern frame by frame. */
export class RingbackTone {
  private readonly frame = new Int16Array(FRAME);
  private readonly period: number;
  private readonly onUntil: number[] = [];
  private n = 0;

  /** A generator at the start of `pattern` (default India's ringback). */
  constructor(private readonly pattern: RingbackPattern = INDIA_RINGBACK) {
    let t = 0;
    for (const ms of pattern.cadenceMs) {
      t += (ms * RATE) / 1000;
      this.onUntil.push(t);
    }
    this.period = t;
  }

  /** The next 20 ms (160 samples). The array is reused: copy it to keep it. */
  next(): Int16Array {
    const { frequencyHz: f, modulationHz: m } = this.pattern;
    const amp = this.pattern.amplitude ?? 6000;
    for (let i = 0; i < FRAME; i++, this.n++) {
      const pos = this.n % this.period;
      let seg = 0;
      while (seg < this.onUntil.length && pos >= this.onUntil[seg]!) seg++;
      const on = seg % 2 === 0;
      if (!on) {
        this.frame[i] = 0;
        continue;
      }
      const t = this.n / RATE;
      const carrier = Math.sin(2 * Math.PI * f * t);
      const envelope = m > 0 ? 0.5 * (1 + Math.sin(2 * Math.PI * m * t)) : 1;
      this.frame[i] = Math.round(amp * carrier * envelope);
    }
    return this.frame;
  }
}
