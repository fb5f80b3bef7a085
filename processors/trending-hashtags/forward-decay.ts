// Forward decay (Cormode, Shkapenyuk, Srivastava & Xu, ICDE 2009). An item seen at time t_i gets the
// fixed weight g(t_i - L) relative to a landmark time L; a query at time t divides the sum by g(t - L).
// With g(x) = 2^(x / halfLife) the answer equals classic exponential decay, yet nothing stored is ever
// rescaled as time passes: an update touches one counter, and a counter nobody touches stays correct.
// Landmark weights grow without bound (2^(hours since L)), so counters hold their natural logarithm.

/** The log-domain value of a counter that has seen nothing. */
export const EMPTY_LOG_SUM = -Infinity;

/** log(e^a + e^b) without overflow. */
export function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const high = Math.max(a, b);
  return high + Math.log1p(Math.exp(-Math.abs(a - b)));
}

export class ForwardDecay {
  /** Natural-log growth of the landmark weight per ms (ln 2 / half-life). */
  readonly ratePerMs: number;

  constructor(readonly halfLifeMs: number, readonly landmarkMs: number) {
    if (!(halfLifeMs > 0)) throw new RangeError(`half-life must be > 0 ms, got ${halfLifeMs}`);
    this.ratePerMs = Math.LN2 / halfLifeMs;
  }

  /** log g(ts - L): the fixed weight of an item seen at `ts`. */
  logWeight(ts: number): number {
    return this.ratePerMs * (ts - this.landmarkMs);
  }

  /** Adds `count` items seen at `ts` to a log-domain sum and returns the new sum. */
  add(logSum: number, ts: number, count = 1): number {
    return logAddExp(logSum, this.logWeight(ts) + Math.log(count));
  }

  /** The decayed count at `now`: every item seen at t_i weighs 2^-((now - t_i) / halfLife). */
  valueAt(logSum: number, now: number): number {
    return Math.exp(logSum - this.logWeight(now));
  }
}
