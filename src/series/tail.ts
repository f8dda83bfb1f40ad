/**
 * Tail calibration: "how rare is this deviation, given the deviations this series has shown?"
 *
 * A calibrator keeps an exponentially decayed histogram of L = ln(1 + z) for a non-negative
 * deviation z (bins of TAIL_BW over [0, TAIL_BINS x TAIL_BW), the last bin open). The tail
 * probability of a new z is
 *   p = (decayed mass at or above L, each past value with a soft exponential tail of width
 *        `beta` in L below it, + prior / (1 + z / s)) / (decayed total + prior),
 * with mass spread uniformly inside each bin (so the soft tail integrates exactly over a bin).
 * The soft tail makes HOW FAR a record exceeds past extremes count, not only that it is a
 * record; the prior (a pseudo-observation with a Cauchy-like tail 1 / (1 + z / s)) sets the cold
 * start and caps the extrapolation. Its scale s is the calibrator's own typical deviation (see
 * `priorScale`): a view whose deviations are usually a tenth of a spread (a median of several
 * points against a baseline) finds 5 spreads rarer than a view whose deviations are usually
 * one (a single point). The surprise is S = -log10 p: 3 means "one in a thousand of what this
 * series does", on any series of any scale.
 *
 * Decay is lazy: every calibrator of one series shares a growing increment `inc` (1 / a^age,
 * a = 1 - 1/memory) kept by the caller; a new observation adds `inc`, so older ones weigh
 * a^age relative to it. `tailRenormalise` divides everything by `inc` before it overflows.
 *
 * Layout in a Float32Array `p` at offset `o`: [decayed total, skip threshold (a z), open-bin
 * max L, bins...], TAIL_SIZE floats, field i at `p[o + i * k]`. The stride `k` (default 1:
 * contiguous) lets a caller with k calibrators interleave them field by field (calibrator v at
 * o + v): the totals, skip thresholds and low bins that every point touches then share about 4
 * cache lines instead of spreading over k blocks (about 10 lines for novelty's 6).
 * Below the skip threshold (refreshed by `tailRefresh`) at least 1% of the mass lies above, so
 * S < 2 there: the exact tail sum is skipped, since such a point can never alert.
 */

/**
 * Bins per calibrator and their width in ln(1 + z): z up to e^5 - 1 (about 147 spreads), then
 * open (its largest L is kept). 24 bins (z to about 400) cost 96 bytes more a series for
 * novelty's six calibrators and scored no better: NAB dev 67.39 / 54.93 / 73.58 with 24,
 * 67.77 / 55.70 / 73.84 with 20, synthetic F1 0.920 both (`npm run eval`); 16 bins lost
 * 1.7 points. Beyond ~150 spreads a deviation is "far beyond anything seen" on any series.
 */
export const TAIL_BINS = 20;
export const TAIL_BW = 0.25;
export const TAIL_SIZE = 3 + TAIL_BINS;
const TOT = 0;
/** The z below which the exact tail sum is skipped (S < 2 there); 0 (nothing skipped) until the first refresh. */
const SKIP = 1;
/** The largest L that reached the open last bin: its mass sits at or below it. */
const OPEN_MAX = 2;
const H = 3;
/** The z at which each bin starts: e^(b x BW) - 1, so the bulk needs no logarithm. */
const Z_EDGE = new Float64Array(TAIL_BINS + 1);
for (let b = 0; b <= TAIL_BINS; b++) Z_EDGE[b] = Math.expm1(b * TAIL_BW);

export function tailInit(p: Float32Array, o: number, k = 1): void {
  for (let i = 0; i < TAIL_SIZE; i++) p[o + i * k] = 0;
}

/** Decayed observation count (the caller's `inc` undoes the lazy scaling). */
export function tailCount(p: Float32Array, o: number, inc: number): number {
  return p[o + TOT] / inc;
}

/**
 * Judges z (>= 0) against the history, then adds it with weight `inc`. Returns the surprise
 * S = -log10 p, or 0 when z lies in the bulk (S < 2: see the file comment).
 * A z whose surprise reaches `cut` (an anomaly) is added with weight `inc x rareWeight` only:
 * learning each anomaly in full made the next one of the same size ordinary for days (a
 * second 4x spike after a 5x one scored S 3.7 instead of 4.8), while a condition that keeps
 * recurring still becomes part of the history after 1 / rareWeight occurrences.
 */
export function tailObserve(p: Float32Array, o: number, z: number, inc: number, beta: number, prior: number, cut = Infinity, rareWeight = 1, k = 1): number {
  let b = 0;
  if (z > 0) {
    if (z >= Z_EDGE[TAIL_BINS - 1]) b = TAIL_BINS - 1;
    else while (z >= Z_EDGE[b + 1]) b++;
  }
  let s = 0;
  if (z >= p[o + SKIP * k]) s = surprise(p, o, z, b, inc, beta, prior, k);
  if (b === TAIL_BINS - 1) {
    const L = Math.log1p(z);
    if (L > p[o + OPEN_MAX * k]) p[o + OPEN_MAX * k] = L;
  }
  const w = s >= cut ? inc * rareWeight : inc;
  p[o + (H + b) * k] += w;
  p[o + TOT] += w;
  return s;
}

/** The soft tail's constants for the last `beta` seen (one beta per detector config, so it rarely changes). */
let kBeta = NaN;
let kR = 0;
let kK = 0;

function surprise(p: Float32Array, o: number, z: number, b: number, inc: number, beta: number, prior: number, k: number): number {
  const L = Math.log1p(z);
  let frac = L / TAIL_BW - b;
  if (frac > 1) frac = 1;
  if (frac < 0) frac = 0;
  let mass = 0;
  for (let j = b + 1; j < TAIL_BINS; j++) mass += p[o + (H + j) * k];
  // This bin: the part above L counts fully, the part below through the soft tail.
  if (beta !== kBeta) {
    kBeta = beta;
    kR = beta / TAIL_BW;
    kK = Math.exp(-TAIL_BW / beta);
  }
  const r = kR;
  const u = Math.exp((-frac * TAIL_BW) / beta);
  // The open last bin: its mass lies at or below the largest L that reached it, so it counts
  // as if all of it sat there. A record beyond every past extreme then still says how far
  // beyond (a 90x spike after a 50x one is news); counting the bin as "at or above L" made
  // every z above ~400 equally ordinary once one had been seen.
  if (b === TAIL_BINS - 1) {
    const over = L - p[o + OPEN_MAX * k];
    mass += p[o + (H + b) * k] * (over <= 0 ? 1 : Math.exp(-over / beta));
  } else mass += p[o + (H + b) * k] * (1 - frac + r * (1 - u));
  // Lower bins, through the soft tail (each bin a factor k further down; three are plenty).
  const kk = kK;
  let w = r * u * (1 - kk);
  for (let j = b - 1; j >= 0 && j >= b - 3; j--) {
    mass += p[o + (H + j) * k] * w;
    w *= kk;
  }
  let tail = (mass / inc + prior / (1 + z / priorScale(p, o, k))) / (p[o + TOT] / inc + prior);
  const ext = tailExtension(p, o, z, inc, prior, k);
  if (ext > tail) tail = ext;
  return tail >= 1 ? 0 : -Math.log10(tail);
}

/** The heavy tail's start: the bin from which `tailExtension` measures it (L = 2: z = 6.4 spreads). */
export const TAIL_X_FROM = 8;
/** ... and the decayed observations it needs there. */
export const TAIL_X_MASS = 20;
/**
 * ln z at the start of bin TAIL_X_FROM and at the middle of each bin from it to the open last
 * one: ln(expm1(L)). Written out (a test holds them to Math's values) because asm/novelty.ts
 * needs the same doubles and reads these from its own copy.
 */
export const LN_Z_START = 1.854586542131141;
export const LN_Z_MID = Float64Array.of(
  1.9978107752254184, 2.27737119613146, 2.549802465374799, 2.816929964225604, 3.0800686009065767, 3.3401827343810804,
  3.5979893781309955, 3.8540272637621107, 4.108704451228418, 4.3623319558423885, 4.615147972728696,
);

/**
 * The tail probability of z by the calibrator's own tail: where at least TAIL_X_MASS of its
 * observations lie beyond bin TAIL_X_FROM (a heavy-tailed series: GC pauses, a maximum latency,
 * bursts), their share there times (z / z0)^-a, with a Hill's estimate of the tail's index (one
 * over the mean of ln(z / z0) beyond z0, each bin's mass at its middle, the open last bin's
 * between its start and its largest L). 0 elsewhere. Past extremes' soft tails (`beta`, 0.06 in
 * L) and the prior (1 / (1 + z)) say how far beyond them a record is news; on a heavy tail that
 * is too soon: a gauge of Pareto noise (index 2.5) raised 13 alerts in 44 series-days at 1
 * minute, records beyond a maximum that such a tail exceeds every day or two. With this: 5, and
 * NAB dev 70.58 / 61.21 / 75.71 -> 71.48 / 63.29 / 76.31 (its bursty Twitter counts have such
 * tails). The synthetic suites, the probes of clean shapes other than heavy tails and the anomaly
 * probes: unchanged. Needing 10 / 40 observations scored 70.38 / 71.33, starting at bin 7 / 9
 * 70.40 / 71.34; the mean excess in L = ln(1 + z) instead of ln z (an exponential in L: the
 * curvature of ln(1 + z) near z0 overstates the index) 71.20.
 */
function tailExtension(p: Float32Array, o: number, z: number, inc: number, prior: number, k: number): number {
  if (!(z > Z_EDGE[TAIL_X_FROM])) return 0;
  let mass = 0;
  let excess = 0;
  for (let j = TAIL_X_FROM; j < TAIL_BINS; j++) {
    const m = p[o + (H + j) * k];
    if (!(m > 0)) continue;
    let lnz = LN_Z_MID[j - TAIL_X_FROM];
    if (j === TAIL_BINS - 1) {
      const top = p[o + OPEN_MAX * k];
      const lo = j * TAIL_BW;
      lnz = Math.log(Math.expm1((lo + (top > lo ? top : lo)) / 2));
    }
    mass += m;
    excess += m * (lnz - LN_Z_START);
  }
  if (!(mass / inc >= TAIL_X_MASS && excess > 0)) return 0;
  return (mass / inc / (p[o + TOT] / inc + prior)) * Math.exp((-mass / excess) * (Math.log(z) - LN_Z_START));
}

/**
 * The 75th percentile of max(Z, 0) for a standard normal Z (the median of |Z|): what a
 * calibrator of one side of a deviation measured in its own spreads typically holds there.
 */
export const TYPICAL_Z = 0.6745;
/** The prior's scale stays within [PRIOR_SCALE_MIN, 1]. */
export const PRIOR_SCALE_MIN = 0.5;

/**
 * The prior's scale: this calibrator's 75th percentile of z (interpolated in its bin) over
 * TYPICAL_Z, within [1/2, 1]; 1 with no history. The prior alone bounds the surprise of a
 * deviation larger than any seen, at log10(N (1 + z / s)) for N observations. With s = 1 for
 * every view, a view whose history is tight (novelty's seasonal views, the residual against
 * yesterday smoothed over 5 points; its level view, the median of 16 points) found a record no
 * rarer than a single point's view did. A view wider than one side of a normal keeps s = 1: a
 * heavy tail is already in its history, and a 4x spike on a seasonal series (whose point view
 * the day's slope widens) must stay news.
 * `npm run eval`: NAB dev 70.14 / 60.30 / 75.42 -> 70.73 / 61.55 / 75.81, synthetic F1 0.949 ->
 * 0.950 (clean false alerts 0.05 per series-week both). The gain is the seasonal views' (the
 * level and point views alone: 70.00), and so is the cost: four 28-day suites raised 66 -> 69
 * false alerts, seasonal breaks at 0.900-0.903 a day after a level shift (14- and 21-day suites:
 * none more). Lower limits of 0.1-0.33 scored 70.54, the 60th / 90th percentile 70.83 / 70.73
 * (synthetic 0.933 / 0.944), and letting wide views have s up to 2 70.72-70.82, but it took 0.02
 * decades from a drop to 40% on plain noise, which then scored just under 0.9.
 * Computed only for the rare z that reach the exact tail sum (above the skip threshold).
 */
export function priorScale(p: Float32Array, o: number, k = 1): number {
  const total = p[o + TOT];
  if (!(total > 0)) return 1;
  const need = 0.75 * total;
  let below = 0;
  let L = TAIL_BINS * TAIL_BW;
  for (let j = 0; j < TAIL_BINS; j++) {
    const m = p[o + (H + j) * k];
    if (below + m >= need && m > 0) {
      L = (j + (need - below) / m) * TAIL_BW;
      break;
    }
    below += m;
  }
  const s = Math.expm1(L) / TYPICAL_Z;
  return s < PRIOR_SCALE_MIN ? PRIOR_SCALE_MIN : s > 1 ? 1 : s;
}

/**
 * Recomputes the skip threshold: the z below which at least 1% of the weight lies above. The
 * weight counts the prior (`prior` observations; `inc` the caller's increment), so a young
 * calibrator, whose prior still dominates, skips nothing it could not skip later.
 *
 * The threshold reaches into the bin where the upper 1% starts: a z at fraction f of that bin
 * has at least (1 - f) of the bin's mass above it (mass is uniform inside a bin, and `surprise`
 * counts the part above L fully), so f may go up to where that, plus the bins above, still
 * makes 1%. Stopping at the bin's lower edge instead left the exact tail sum to every point in
 * that bin, often the bulk's edge: about one call every two points on the ingest benchmark's
 * series. The open last bin is not entered (its mass counts from its largest L, not uniformly).
 */
export function tailRefresh(p: Float32Array, o: number, k = 1, inc = 1, prior = 0): void {
  const need = 0.01 * (p[o + TOT] + prior * inc);
  let above = 0;
  let j = TAIL_BINS - 1;
  for (; j >= 0; j--) {
    const m = p[o + (H + j) * k];
    if (above + m > need) break;
    above += m;
  }
  let zSkip = 0;
  if (j === TAIL_BINS - 1) zSkip = Z_EDGE[TAIL_BINS - 1];
  else if (j >= 0) {
    // (1 - f) m + above = need: f is where this bin's share above z runs out (0 < f <= 1).
    const f = 1 - (need - above) / p[o + (H + j) * k];
    zSkip = Math.expm1((j + f) * TAIL_BW);
  }
  // Kept as a float32, a millionth low: rounding must never move it past the exact threshold.
  zSkip *= 1 - 1e-6;
  p[o + SKIP * k] = zSkip;
}

/** Divides a calibrator's masses by `inc` (the caller then resets its increment to 1). */
export function tailRenormalise(p: Float32Array, o: number, inc: number, k = 1): void {
  p[o + TOT] /= inc;
  for (let j = 0; j < TAIL_BINS; j++) p[o + (H + j) * k] /= inc;
}
