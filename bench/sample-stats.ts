/**
 * Exact order statistics over the samples a benchmark collected: no histogram, no bucketing.
 * Pure; called by every benchmark after its runs.
 */

/** Sorts a copy of `samples` ascending (numeric order). */
export function sortedCopy(samples: ArrayLike<number>): Float64Array {
  return Float64Array.from(samples).sort();
}

/**
 * The nearest-rank percentile `p` (0 < p ≤ 100) of ascending `sorted`: the smallest sample such
 * that at least p% of the samples are ≤ it. Exact (a sample, never an interpolation). NaN when
 * there are no samples.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile ${p} is outside (0, 100]`);
  const rank = Math.ceil((p / 100) * n);
  return sorted[Math.min(n, Math.max(1, rank)) - 1];
}

/** The median of `values` (mean of the middle two for an even count); NaN when empty. */
export function median(values: ArrayLike<number>): number {
  const s = sortedCopy(values);
  const n = s.length;
  if (n === 0) return NaN;
  const mid = n >> 1;
  return n % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The usual latency figures of one set of samples. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Summarises `samples` (any order) with exact percentiles. */
export function summarize(samples: ArrayLike<number>): LatencySummary {
  const s = sortedCopy(samples);
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s[i];
  return {
    count: s.length,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: s.length ? s[s.length - 1] : NaN,
    mean: s.length ? sum / s.length : NaN,
  };
}

/**
 * A distribution-free 95 % confidence interval of the median of `values` (any order): the k-th
 * smallest and k-th largest value, k the largest rank for which Binomial(n, ½) gives the interval
 * at least 95 % coverage. [NaN, NaN] under 6 values, where no such interval exists. Called by the
 * data-path benchmark on its per-round paired ratios.
 */
export function medianCi95(values: ArrayLike<number>): readonly [number, number] {
  const s = sortedCopy(values);
  const n = s.length;
  // P(B ≤ j) for B ~ Binomial(n, ½), in log space so that large n does not underflow.
  let logPmf = -n * Math.LN2;
  let below = 0; // P(B ≤ k − 1)
  let k = 0;
  for (let j = 0; j < n >> 1; j++) {
    below += Math.exp(logPmf);
    if (2 * below > 0.05) break;
    k = j + 1;
    logPmf += Math.log((n - j) / (j + 1));
  }
  return k === 0 ? [NaN, NaN] : [s[k - 1], s[n - k]];
}
