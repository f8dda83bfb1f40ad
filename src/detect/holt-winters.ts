import { INTERVAL_SIZE, detectSeason, doubles, finerResolution, intervalGet, intervalInit, intervalLast, intervalObserve } from '../series/index.ts';
import { num } from './config.ts';
import { REPORT_MIN, defineDetector, floorScale, excursionReason, hill, learning, nextRun, verdict } from './define.ts';
import type { Reason } from './types.ts';

export interface HoltWintersConfig {
  /** Level smoothing per point. */
  readonly alpha: number;
  /** Trend smoothing (applied as alpha x beta per point, error-correction form). */
  readonly beta: number;
  /** Seasonal smoothing per visit of a season slot. */
  readonly gamma: number;
  /** Trend damping per step (1 = no damping). */
  readonly phi: number;
  /** Most points buffered for season detection (the warm-up ends when full). */
  readonly warmupPoints: number;
  /** The warm-up also ends once it spans this many hours (and holds at least 64 points). */
  readonly warmupHours: number;
  /** Longest season considered, in points (the season table costs 4 bytes per point). */
  readonly maxSeason: number;
  /** Autocorrelation a period needs to count as a season. */
  readonly minAcf: number;
  /** |z| that scores 0.5; 1.73x this scores 0.9. */
  readonly zHalf: number;
  /** Residuals are clipped to this many sigmas before learning. */
  readonly clip: number;
}

export interface HoltWintersState {
  /** Scalars, options and the interval learner. */
  f: number[];
  /** The warm-up buffer (NaN = missing point) until the season is known, then the season table. */
  p: Float32Array;
}

const PHASE = 0; // 0 warm-up, 1 running
const N = 1;
const LEVEL = 2;
const TREND = 3;
const SPREAD = 4;
const M = 5; // season length in points, 0 = none
const IDX = 6; // season slot of the next point
const QUANTUM = 7;
const LAST_X = 8;
const RUN = 9;
const T_START = 10;
const ALPHA = 11;
const BETA = 12;
const GAMMA = 13;
const PHI = 14;
const Z_HALF = 15;
const CLIP = 16;
const WARM_MS = 17;
const MAX_SEASON = 18;
const MIN_ACF = 19;
const IV = 20; // interval learner
const SIZE = IV + INTERVAL_SIZE;

const DAY_MS = 86_400_000;
const SPREAD_ALPHA = 0.01;
const MAX_GAP_STEPS = 10_000;

/**
 * Additive Holt-Winters with a damped trend. The season is not configured: the first
 * `warmupPoints` points (or `warmupHours`) are buffered, their autocorrelation picks the
 * period (one day or one week in points when either is strong, else the best lag, else none),
 * the model is initialised from them and the buffer is dropped. Gaps advance the season by
 * the number of missed intervals. Scores the one-step-ahead forecast error in units of the
 * residual's robust spread.
 * Memory after warm-up: 4 bytes per season point (288 for a day at 5 minutes: 1.2 KB); during
 * warm-up the buffer takes 4 bytes per point, which is why the default profile does not use
 * it and seasonal_baseline covers seasonality there.
 */
export const holtWinters = defineDetector<HoltWintersConfig, HoltWintersState>({
  name: 'holt_winters',
  summary: 'Additive damped Holt-Winters forecast; the season length is detected from the warm-up data.',
  kind: 'model',
  defaults: { alpha: 0.05, beta: 0.02, gamma: 0.2, phi: 0.98, warmupPoints: 4320, warmupHours: 72, maxSeason: 2016, minAcf: 0.3, zHalf: 3.5, clip: 4 },
  parse(f, path, d) {
    return {
      alpha: num(f, 'alpha', path, d.alpha, { above: 0, max: 1 }),
      beta: num(f, 'beta', path, d.beta, { min: 0, max: 1 }),
      gamma: num(f, 'gamma', path, d.gamma, { min: 0, max: 1 }),
      phi: num(f, 'phi', path, d.phi, { above: 0, max: 1 }),
      warmupPoints: num(f, 'warmupPoints', path, d.warmupPoints, { min: 64, max: 100_000, integer: true }),
      warmupHours: num(f, 'warmupHours', path, d.warmupHours, { above: 0, max: 24 * 365 }),
      maxSeason: num(f, 'maxSeason', path, d.maxSeason, { min: 4, max: 100_000, integer: true }),
      minAcf: num(f, 'minAcf', path, d.minAcf, { above: 0, max: 1 }),
      zHalf: num(f, 'zHalf', path, d.zHalf, { above: 0, max: 100 }),
      clip: num(f, 'clip', path, d.clip, { min: 1, max: 100 }),
    };
  },
  init(c) {
    const f = doubles(SIZE);
    f[QUANTUM] = Infinity;
    f[LAST_X] = NaN;
    f[T_START] = NaN;
    f[ALPHA] = c.alpha;
    f[BETA] = c.beta;
    f[GAMMA] = c.gamma;
    f[PHI] = c.phi;
    f[Z_HALF] = c.zHalf;
    f[CLIP] = c.clip;
    f[WARM_MS] = c.warmupHours * 3_600_000;
    f[MAX_SEASON] = c.maxSeason;
    f[MIN_ACF] = c.minAcf;
    intervalInit(f, IV);
    return { f, p: new Float32Array(c.warmupPoints) };
  },
  update(s, t, x, out) {
    const f = s.f;
    if (f[PHASE] === 0) {
      warm(s, t, x);
      return learning(out);
    }
    advanceGap(s, t);
    const m = f[M];
    const idx = f[IDX];
    const seasonal = m > 0 ? s.p[idx] : 0;
    const level = f[LEVEL];
    const phiT = f[PHI] * f[TREND];
    const expected = level + phiT + seasonal;
    const scale = floorScale(1.2533 * f[SPREAD], f[QUANTUM], expected);
    const zh = f[Z_HALF];
    if (x !== x || x === Infinity || x === -Infinity) {
      // A missing point: step the model forward on its own forecast.
      f[LEVEL] = level + phiT;
      f[TREND] = phiT;
      if (m > 0) f[IDX] = idx + 1 === m ? 0 : idx + 1;
      if (t === t) intervalObserve(f, IV, t);
      return verdict(out, 0, expected, expected - zh * scale, expected + zh * scale, 'normal');
    }
    intervalObserve(f, IV, t);
    const e = x - expected;
    const z = e / scale;
    const score = hill(z < 0 ? -z : z, zh);
    const run = f[RUN];
    f[RUN] = nextRun(run, z, zh);
    // Huber's weight: a point beyond 2 sigmas teaches the model 2 / |z| of what it would
    // otherwise, so a sustained anomaly (an afternoon without its peak) is not forecast away
    // within a few points.
    const az = z < 0 ? -z : z;
    learn(s, x, az <= 2 ? e : (2 / az) * e, f[CLIP] * scale);
    let reason: Reason = 'normal';
    if (score >= REPORT_MIN) {
      reason = excursionReason(z, x, expected, run);
      const sAbs = seasonal < 0 ? -seasonal : seasonal;
      const fromLevel = x - level;
      if (reason !== 'drop_to_zero' && sAbs > zh * scale && (fromLevel < 0 ? -fromLevel : fromLevel) < 0.5 * sAbs && z * seasonal < 0) reason = 'seasonal_break';
    }
    return verdict(out, score, expected, expected - zh * scale, expected + zh * scale, reason);
  },
  rescale(s, factor) {
    const f = s.f;
    f[LEVEL] *= factor;
    f[TREND] *= factor;
    f[SPREAD] *= factor;
    f[QUANTUM] *= factor;
    f[LAST_X] *= factor;
    for (let i = 0; i < s.p.length; i++) s.p[i] *= factor;
  },
});

/** One error-correction step of the model on a finite value with forecast error `e`. */
function learn(s: HoltWintersState, x: number, e: number, lim: number): void {
  const f = s.f;
  f[QUANTUM] = finerResolution(f[QUANTUM], f[LAST_X], x);
  f[LAST_X] = x;
  const ec = e > lim ? lim : e < -lim ? -lim : e;
  const a = f[ALPHA];
  const phiT = f[PHI] * f[TREND];
  f[LEVEL] += phiT + a * ec;
  f[TREND] = phiT + a * f[BETA] * ec;
  const m = f[M];
  if (m > 0) {
    const idx = f[IDX];
    s.p[idx] += f[GAMMA] * (1 - a) * ec;
    f[IDX] = idx + 1 === m ? 0 : idx + 1;
  }
  // Winsorized at 2.5 spreads: a sustained anomaly must not widen the band that judges it
  // within a few points (it grows by at most 1.5% a point).
  const aec = ec < 0 ? -ec : ec;
  const cap = 2.5 * f[SPREAD];
  f[SPREAD] += SPREAD_ALPHA * ((aec < cap || !(cap > 0) ? aec : cap) - f[SPREAD]);
}

/** After a gap of k intervals, step the model over the k - 1 points that never came. */
function advanceGap(s: HoltWintersState, t: number): void {
  const f = s.f;
  const interval = intervalGet(f, IV);
  const last = intervalLast(f, IV);
  if (!(interval > 0) || !(t - last > 1.5 * interval)) return;
  let k = Math.round((t - last) / interval) - 1;
  if (k > MAX_GAP_STEPS) k = MAX_GAP_STEPS;
  const m = f[M];
  for (let i = 0; i < k; i++) {
    const phiT = f[PHI] * f[TREND];
    f[LEVEL] += phiT;
    f[TREND] = phiT;
  }
  if (m > 0) f[IDX] = (f[IDX] + k) % m;
}

function warm(s: HoltWintersState, t: number, x: number): void {
  const f = s.f;
  const buf = s.p;
  if (f[T_START] !== f[T_START]) f[T_START] = t;
  let n = f[N];
  const interval = intervalGet(f, IV);
  const last = intervalLast(f, IV);
  if (interval > 0 && t - last > 1.5 * interval) {
    // Keep the buffer on a regular grid: one NaN per missed interval.
    const missed = Math.round((t - last) / interval) - 1;
    for (let i = 0; i < missed && n < buf.length - 1; i++) buf[n++] = NaN;
  }
  buf[n++] = x === Infinity || x === -Infinity ? NaN : x;
  f[N] = n;
  // A NaN point holds its slot on the grid, so its time counts as seen.
  intervalObserve(f, IV, t);
  if (n >= buf.length || (n >= 64 && t - f[T_START] >= f[WARM_MS])) finishWarmup(s);
}

function finishWarmup(s: HoltWintersState): void {
  const f = s.f;
  const buf = s.p;
  const n = f[N];
  const interval = intervalGet(f, IV);
  const candidates = interval > 0 ? [DAY_MS / interval, (7 * DAY_MS) / interval] : [];
  const season = detectSeason(buf, n, { candidates, minLag: 4, maxLag: Math.min(f[MAX_SEASON], n / 2), minAcf: f[MIN_ACF] });
  const m = season.period;
  const table = new Float32Array(m > 0 ? m : 0);
  // Initial level: mean of the first season (or of the first 16 points).
  const first = m > 0 ? m : Math.min(n, 16);
  let sum = 0;
  let cnt = 0;
  for (let i = 0; i < first; i++) if (buf[i] === buf[i]) { sum += buf[i]; cnt++; }
  const level0 = cnt > 0 ? sum / cnt : 0;
  if (m > 0) {
    // Seasonal indices: the mean deviation of each phase from its cycle's mean, over full cycles.
    const cycles = Math.floor(n / m);
    const acc = new Float64Array(m);
    const num = new Float64Array(m);
    for (let c = 0; c < cycles; c++) {
      let cs = 0;
      let cc = 0;
      for (let i = 0; i < m; i++) {
        const v = buf[c * m + i];
        if (v === v) { cs += v; cc++; }
      }
      if (cc === 0) continue;
      const mean = cs / cc;
      for (let i = 0; i < m; i++) {
        const v = buf[c * m + i];
        if (v === v) { acc[i] += v - mean; num[i]++; }
      }
    }
    for (let i = 0; i < m; i++) table[i] = num[i] > 0 ? acc[i] / num[i] : 0;
  }
  f[PHASE] = 1;
  f[M] = m;
  f[IDX] = 0;
  f[LEVEL] = level0;
  f[TREND] = 0;
  s.p = table;
  // Replay the warm-up through the model once, so level, trend, season and spread settle.
  let spread = 0;
  let spreadN = 0;
  for (let i = 0; i < n; i++) {
    const v = buf[i];
    const idx = f[IDX];
    const expected = f[LEVEL] + f[PHI] * f[TREND] + (m > 0 ? table[idx] : 0);
    if (v !== v) {
      const phiT = f[PHI] * f[TREND];
      f[LEVEL] += phiT;
      f[TREND] = phiT;
      if (m > 0) f[IDX] = idx + 1 === m ? 0 : idx + 1;
      continue;
    }
    const e = v - expected;
    // The spread starts as the plain mean absolute error, then becomes an EWMA.
    const lim = spreadN > 16 ? f[CLIP] * 1.2533 * f[SPREAD] : Infinity;
    learn(s, v, e, lim > 0 ? lim : Infinity);
    if (spreadN <= 16) {
      spreadN++;
      spread += (e < 0 ? -e : e);
      f[SPREAD] = spread / spreadN;
    }
  }
}
