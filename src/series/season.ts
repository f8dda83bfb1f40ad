/**
 * Season detection by autocorrelation, run once over a warm-up buffer.
 *
 * The buffer is detrended (least-squares line), then the autocorrelation is measured at the
 * candidate lags the caller names (one day and one week in points, from the learned sampling
 * interval) and searched over every lag in [minLag, maxLag]. The generic search runs on a
 * block-averaged copy when the lag range is long (at most 256 lags are scanned) and is then
 * refined at full resolution around the best block lag, so a 4,000-point buffer costs about
 * a million multiply-adds once per series, not per point.
 * NaN entries (gaps) count as the mean.
 */

export interface SeasonOptions {
  /** Lags (points) to prefer when they are about as strong as the best lag found. */
  candidates: readonly number[];
  /** Shortest lag considered (points). */
  minLag: number;
  /** Longest lag considered (points); capped at half the buffer. */
  maxLag: number;
  /** Autocorrelation a lag needs to count as a season, in (0, 1). */
  minAcf: number;
}

export interface Season {
  /** The period in points; 0 when no lag is strong enough. */
  period: number;
  /** Its autocorrelation (0 when none). */
  acf: number;
}

/** Detrended copy of x[0..n) (NaN -> 0 after detrending). */
function detrend(x: ArrayLike<number>, n: number): Float64Array {
  let sw = 0;
  let st = 0;
  let sx = 0;
  let stt = 0;
  let stx = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    if (v !== v) continue;
    sw++;
    st += i;
    sx += v;
    stt += i * i;
    stx += i * v;
  }
  const out = new Float64Array(n);
  if (sw === 0) return out;
  const den = sw * stt - st * st;
  const slope = den > 0 ? (sw * stx - st * sx) / den : 0;
  const icpt = (sx - slope * st) / sw;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    out[i] = v === v ? v - (icpt + slope * i) : 0;
  }
  return out;
}

/**
 * Autocorrelation of r[0..n) at `lag`, normalised per pair (sum r_i r_{i+lag} / (n - lag))
 * over the variance (sum r_i^2 / n), so long lags are not biased towards 0.
 */
export function autocorrelation(r: ArrayLike<number>, n: number, lag: number): number {
  if (lag <= 0 || lag >= n) return 0;
  let v = 0;
  for (let i = 0; i < n; i++) v += r[i] * r[i];
  if (v === 0) return 0;
  return acfWithVariance(r, n, lag, v / n);
}

function acfWithVariance(r: ArrayLike<number>, n: number, lag: number, variance: number): number {
  let c = 0;
  const m = n - lag;
  for (let i = 0; i < m; i++) c += r[i] * r[i + lag];
  return c / m / variance;
}

/** Finds the dominant season of x[0..n) (see the file comment). */
export function detectSeason(x: ArrayLike<number>, n: number, opts: SeasonOptions): Season {
  const none: Season = { period: 0, acf: 0 };
  const maxLag = Math.min(Math.floor(opts.maxLag), Math.floor(n / 2));
  const minLag = Math.max(2, Math.ceil(opts.minLag));
  if (maxLag < minLag) return none;
  const r = detrend(x, n);
  let v = 0;
  for (let i = 0; i < n; i++) v += r[i] * r[i];
  if (!(v > 0)) return none;
  const variance = v / n;

  // Generic search over block averages, then refine at full resolution.
  const b = Math.max(1, Math.ceil((maxLag - minLag + 1) / 256));
  const nb = Math.floor(n / b);
  const blocks = new Float64Array(nb);
  for (let i = 0; i < nb; i++) {
    let s = 0;
    for (let j = 0; j < b; j++) s += r[i * b + j];
    blocks[i] = s / b;
  }
  let bv = 0;
  for (let i = 0; i < nb; i++) bv += blocks[i] * blocks[i];
  const lo = Math.max(1, Math.floor(minLag / b));
  const hi = Math.min(Math.floor(maxLag / b), Math.floor(nb / 2));
  let best = 0;
  let bestAcf = -Infinity;
  if (bv > 0 && hi >= lo) {
    const acf = new Float64Array(hi + 2);
    for (let L = lo; L <= Math.min(hi + 1, nb - 1); L++) acf[L] = acfWithVariance(blocks, nb, L, bv / nb);
    // The first local maximum within 90% of the highest one: the fundamental, not a multiple.
    let top = -Infinity;
    for (let L = lo; L <= hi; L++) if (acf[L] > top) top = acf[L];
    for (let L = lo; L <= hi; L++) {
      const left = L > lo ? acf[L - 1] : -Infinity;
      const right = L < hi ? acf[L + 1] : -Infinity;
      if (acf[L] >= left && acf[L] >= right && acf[L] >= 0.9 * top) {
        best = L;
        break;
      }
    }
  }
  if (best > 0) {
    const from = Math.max(minLag, (best - 1) * b);
    const to = Math.min(maxLag, (best + 1) * b);
    best = 0;
    for (let L = from; L <= to; L++) {
      const a = acfWithVariance(r, n, L, variance);
      if (a > bestAcf) {
        bestAcf = a;
        best = L;
      }
    }
  }

  // A named candidate wins when it is nearly as strong: a day is a better story than 287 points.
  let cand = 0;
  let candAcf = -Infinity;
  for (const c0 of opts.candidates) {
    const c = Math.round(c0);
    if (c < minLag || c > maxLag) continue;
    const a = acfWithVariance(r, n, c, variance);
    if (a > candAcf) {
      candAcf = a;
      cand = c;
    }
  }
  if (cand > 0 && candAcf >= opts.minAcf && candAcf >= bestAcf - 0.1) return { period: cand, acf: candAcf };
  if (best > 0 && bestAcf >= opts.minAcf) return { period: best, acf: bestAcf };
  return none;
}
