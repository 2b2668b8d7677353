/**
 * Call quality as data: a MOS estimate after the simplified E-model, and the loss over
 * the last statistics interval. Pure: figures in, figures out.
 */

/**
 * Bpl (packet-loss robustness) of G.711 with packet-loss concealment, random loss:
 * ITU-T G.113 Appendix I. The default of {@link estimateMos}, because the bridge conceals
 * lost frames before the room hears them (`LossConcealer`: repetition with fade, simpler
 * than G.711 Appendix I, so the estimate leans optimistic under loss).
 */
export const G711_BPL_PLC = 25.1;
/** Bpl of G.711 without concealment (silence insertion): ITU-T G.113 Appendix I. */
export const G711_BPL_NO_PLC = 4.3;

/** The inputs of {@link estimateMos}. */
export interface MosInputs {
  /** One-way mouth-to-ear delay estimate in ms (`d` of the delay impairment). */
  oneWayDelayMs: number;
  /** Packet loss as a fraction 0..1 (`Ppl` / 100). */
  lossFraction: number;
  /**
   * Packet-loss robustness factor (default 25.1: G.711 with packet-loss concealment, ITU-T
   * G.113 Appendix I; 4.3 without concealment).
   */
  bpl?: number;
  /** Equipment impairment of the codec at zero loss (default 0: G.711). */
  ie?: number;
}

/** The result of {@link estimateMos}. */
export interface MosEstimate {
  /** Transmission rating R, clamped to 0..100. */
  rFactor: number;
  /** Estimated MOS-CQE, 1.0..4.5. */
  mos: number;
}

/**
 * Estimates the listening quality with the E-model (ITU-T G.107) reduced to the two
 * impairments a media path can measure, every other factor at its default:
 *
 * ```
 * R      = 93.2 − Id − Ie-eff                          (93.2 = R0 − Is with G.107 defaults, A = 0)
 * Id     = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3)     (Cole & Rosenbluth 2001; H = step)
 * Ie-eff = Ie + (95 − Ie) · Ppl / (Ppl + Bpl)          (G.107 §7.6 with BurstR = 1: random loss)
 * MOS    = 1                                  when R ≤ 0
 *        = 1 + 0.035·R + 7·10⁻⁶·R·(R − 60)·(100 − R)  when 0 < R < 100
 *        = 4.5                                when R ≥ 100
 * ```
 * with d the one-way delay in ms, Ppl the loss in percent, Ie = 0 and Bpl = 25.1 for G.711
 * with concealment. Without loss or delay: R = 93.2, MOS ≈ 4.41 (the G.711 ceiling).
 */
export function estimateMos(inputs: MosInputs): MosEstimate {
  const d = Math.max(0, Number.isFinite(inputs.oneWayDelayMs) ? inputs.oneWayDelayMs : 0);
  const ppl = 100 * Math.min(1, Math.max(0, Number.isFinite(inputs.lossFraction) ? inputs.lossFraction : 0));
  const ie = inputs.ie ?? 0;
  const bpl = inputs.bpl ?? G711_BPL_PLC;
  const id = 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0);
  const ieEff = ie + ((95 - ie) * ppl) / (ppl + bpl);
  const r = Math.min(100, Math.max(0, 93.2 - id - ieEff));
  return { rFactor: r, mos: mosFromR(r) };
}

/**
 * MOS from the transmission rating R (ITU-T G.107 Annex B), clamped to 1..4.5 (the cubic
 * dips just under 1 for R below ≈ 6.5; the clamp keeps the mapping monotonic).
 */
export function mosFromR(r: number): number {
  if (r <= 0) return 1;
  if (r >= 100) return 4.5;
  return Math.max(1, 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r));
}

/**
 * Loss over intervals (RFC 3550 A.3 applied to our own statistics interval): call
 * {@link roll} at the end of each interval with the cumulative expected and lost counts.
 */
export class IntervalLoss {
  private expectedPrior = 0;
  private lostPrior = 0;
  private fraction = 0;
  private rolled = false;

  /** Closes an interval; returns its loss fraction (0 when nothing was expected). */
  roll(expected: number, lost: number): number {
    const e = expected - this.expectedPrior;
    const l = lost - this.lostPrior;
    this.expectedPrior = expected;
    this.lostPrior = lost;
    this.fraction = e > 0 && l > 0 ? Math.min(1, l / e) : 0;
    this.rolled = true;
    return this.fraction;
  }

  /** The loss fraction of the last closed interval (0 before the first). */
  get last(): number {
    return this.fraction;
  }

  /** True once an interval was closed. */
  get hasInterval(): boolean {
    return this.rolled;
  }
}
