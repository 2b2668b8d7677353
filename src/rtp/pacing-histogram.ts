/**
 * The pacing-error histogram of the paced sender (`pacer.ts`): how late each packet left
 * against its deadline. Fixed bins, so recording on the hot path allocates nothing.
 */

export interface PacingSummary {
  /** Samples recorded. */
  count: number;
  /** Median pacing error (ms). */
  p50: number;
  /** 99th percentile pacing error (ms). */
  p99: number;
  /** 99.9th percentile pacing error (ms). */
  p999: number;
  /** Largest pacing error seen (ms). */
  max: number;
  /** Mean pacing error (ms). */
  mean: number;
}

/**
 * A fixed-size histogram of non-negative durations in milliseconds: 10 µs bins up to
 * 100 ms plus an overflow bin. Recording allocates nothing.
 */
export class PacingHistogram {
  /** Width of one bin in ms. */
  static readonly BIN_MS = 0.01;
  private readonly bins: Uint32Array;
  private count = 0;
  private sum = 0;
  private maxMs = 0;

  /**
   * An empty histogram.
   *
   * @param rangeMs upper bound of the binned range; larger values go to the overflow bin.
   */
  constructor(rangeMs = 100) {
    this.bins = new Uint32Array(Math.ceil(rangeMs / PacingHistogram.BIN_MS) + 1);
  }

  /** Records one duration (negative values count as 0). */
  record(ms: number): void {
    const v = ms > 0 ? ms : 0;
    let i = Math.floor(v / PacingHistogram.BIN_MS);
    if (i >= this.bins.length) i = this.bins.length - 1;
    this.bins[i] = (this.bins[i] ?? 0) + 1;
    this.count++;
    this.sum += v;
    if (v > this.maxMs) this.maxMs = v;
  }

  /** The value below which `q` (0..1) of the samples fall (upper edge of the bin). */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.bins.length; i++) {
      seen += this.bins[i] ?? 0;
      if (seen >= rank) {
        const edge = (i + 1) * PacingHistogram.BIN_MS;
        return edge < this.maxMs ? edge : this.maxMs;
      }
    }
    return this.maxMs;
  }

  /** p50/p99/p99.9/max/mean of everything recorded since the last reset. */
  summary(): PacingSummary {
    return {
      count: this.count,
      p50: this.quantile(0.5),
      p99: this.quantile(0.99),
      p999: this.quantile(0.999),
      max: this.maxMs,
      mean: this.count === 0 ? 0 : this.sum / this.count,
    };
  }

  /** Clears every bin. */
  reset(): void {
    this.bins.fill(0);
    this.count = 0;
    this.sum = 0;
    this.maxMs = 0;
  }
}
