/**
 * Quantiles estimated from histogram buckets, for the `_p50/_p95/_p99` series derived from OTLP
 * histograms. Pure functions over numbers; both return NaN when the buckets hold no observations.
 */

/** The quantiles derived from every histogram, with the suffix of their series. */
export const HISTOGRAM_QUANTILES: readonly (readonly [q: number, suffix: string])[] = [
  [0.5, '_p50'],
  [0.95, '_p95'],
  [0.99, '_p99'],
];

function clamp(v: number, min: number, max: number): number {
  if (v < min) return min; // comparisons with NaN are false, so an unknown min/max does nothing
  if (v > max) return max;
  return v;
}

/**
 * The q-quantile of an explicit-bounds histogram (OTLP `HistogramDataPoint`): bucket i holds
 * (bounds[i-1], bounds[i]], the first one (-Inf, bounds[0]], the last (bounds[n-1], +Inf).
 * Linear interpolation inside the bucket where the rank falls, as Prometheus's
 * `histogram_quantile` does, with two refinements OTLP allows: the recorded `min` is the lower
 * edge of the first bucket and `max` the upper edge of the last one (otherwise, like Prometheus,
 * the first bucket starts at 0 when its bound is positive, and a rank in the +Inf bucket gives
 * the highest finite bound), and the result is clamped to [min, max]. Pass NaN for an unknown
 * min or max.
 */
export function explicitBucketQuantile(
  q: number,
  bounds: ArrayLike<number>,
  boundCount: number,
  counts: ArrayLike<number>,
  countCount: number,
  min: number,
  max: number,
): number {
  if (countCount !== boundCount + 1 || boundCount === 0) return NaN;
  let total = 0;
  for (let i = 0; i < countCount; i++) total += counts[i];
  if (!(total > 0)) return NaN;
  const rank = q * total;
  let b = 0;
  let below = 0;
  while (b < countCount - 1 && below + counts[b] < rank) below += counts[b++];
  let lower: number;
  let upper: number;
  if (b === countCount - 1) {
    if (!Number.isFinite(max)) return clamp(bounds[boundCount - 1], min, max);
    lower = bounds[boundCount - 1];
    upper = max;
  } else if (b === 0) {
    upper = bounds[0];
    if (Number.isFinite(min)) lower = min;
    else if (upper <= 0) return upper;
    else lower = 0;
  } else {
    lower = bounds[b - 1];
    upper = bounds[b];
  }
  const inBucket = counts[b];
  const frac = inBucket > 0 ? (rank - below) / inBucket : 1;
  return clamp(lower + (upper - lower) * frac, min, max);
}

/**
 * The q-quantile of an exponential histogram (OTLP `ExponentialHistogramDataPoint`). Bucket
 * index k holds (base^k, base^(k+1)] with base = 2^(2^-scale); negative buckets mirror that
 * for |value|; the zero bucket holds [-zeroThreshold, zeroThreshold]. Inside a bucket the
 * interpolation is exponential (log-linear), as Prometheus does for native histograms, because
 * the bucket edges are a constant ratio apart; in the zero bucket it is linear. Clamped to
 * [min, max]; pass NaN for unknown ones.
 */
export function exponentialBucketQuantile(
  q: number,
  scale: number,
  zeroCount: number,
  zeroThreshold: number,
  posOffset: number,
  pos: ArrayLike<number>,
  posCount: number,
  negOffset: number,
  neg: ArrayLike<number>,
  negCount: number,
  min: number,
  max: number,
): number {
  let total = zeroCount;
  for (let i = 0; i < posCount; i++) total += pos[i];
  for (let i = 0; i < negCount; i++) total += neg[i];
  if (!(total > 0)) return NaN;
  const rank = q * total;
  const step = Math.pow(2, -scale); // log2 of the base
  let below = 0;
  // Ascending order: most negative values first (highest negative index), then zero, then positive.
  for (let i = negCount - 1; i >= 0; i--) {
    const c = neg[i];
    if (c > 0 && below + c >= rank) {
      const frac = (rank - below) / c;
      const k = negOffset + i;
      return clamp(-Math.pow(2, (k + 1 - frac) * step), min, max);
    }
    below += c;
  }
  if (zeroCount > 0 && below + zeroCount >= rank) {
    const frac = (rank - below) / zeroCount;
    const lower = negCount > 0 ? -zeroThreshold : 0;
    return clamp(lower + (zeroThreshold - lower) * frac, min, max);
  }
  below += zeroCount;
  for (let i = 0; i < posCount; i++) {
    const c = pos[i];
    if (c > 0 && below + c >= rank) {
      const frac = (rank - below) / c;
      const k = posOffset + i;
      return clamp(Math.pow(2, (k + frac) * step), min, max);
    }
    below += c;
  }
  return NaN; // unreachable while total > 0 and q <= 1
}
