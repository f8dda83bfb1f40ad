/**
 * Exponentially weighted mean and variance, embedded in a caller's number array at `f[o]`:
 * [mean, variance, count]. The update is West's/Finch's incremental form, which equals the
 * weighted mean and variance of all points so far with weight alpha * (1 - alpha)^age (the
 * first point keeps the remaining weight).
 */

const MEAN = 0;
const VAR = 1;
const COUNT = 2;
/** Number of slots of `f` an EWMA uses. */
export const EWMA_SIZE = 3;

export function ewmaInit(f: number[], o: number): void {
  f[o + MEAN] = 0;
  f[o + VAR] = 0;
  f[o + COUNT] = 0;
}

/** Adds one finite value with smoothing factor alpha in (0, 1]. */
export function ewmaPush(f: number[], o: number, x: number, alpha: number): void {
  const n = f[o + COUNT];
  if (n === 0) {
    f[o + MEAN] = x;
    f[o + VAR] = 0;
  } else {
    const d = x - f[o + MEAN];
    const incr = alpha * d;
    f[o + MEAN] += incr;
    f[o + VAR] = (1 - alpha) * (f[o + VAR] + d * incr);
  }
  f[o + COUNT] = n + 1;
}

export function ewmaMean(f: number[], o: number): number {
  return f[o + COUNT] === 0 ? NaN : f[o + MEAN];
}

export function ewmaVariance(f: number[], o: number): number {
  return f[o + COUNT] === 0 ? NaN : f[o + VAR];
}

export function ewmaCount(f: number[], o: number): number {
  return f[o + COUNT];
}

/** Multiplies the mean by `factor` and the variance by its square (a change of unit). */
export function ewmaScale(f: number[], o: number, factor: number): void {
  f[o + MEAN] *= factor;
  f[o + VAR] *= factor * factor;
}

/** The smoothing factor whose centre of mass is like a simple moving average of `span` points. */
export function ewmaAlpha(span: number): number {
  return 2 / (span + 1);
}
