import {
  DAY_MS,
  TAIL_SIZE,
  doubles,
  rollingCount,
  rollingInit,
  rollingMad,
  rollingMedian,
  rollingPush,
  rollingScale,
  rollingSize,
  tailCount,
  tailInit,
  tailObserve,
  tailRefresh,
  tailRenormalise,
} from '../series/index.ts';
import { num } from './config.ts';
import { HILL_90, REPORT_MIN, defineDetector, hill, learning, verdict } from './define.ts';
import type { Reason } from './types.ts';

export interface NoveltyConfig {
  /** Points of the robust baseline (rolling median and MAD). */
  readonly window: number;
  /** Points of the short level (their median is compared with the baseline). */
  readonly levelPoints: number;
  /** Points of the time-of-day residual whose median is compared with its recent offset. */
  readonly seasonalPoints: number;
  /** Points the roughness (typical |x_t - x_t-1|) adapts over. */
  readonly roughPoints: number;
  /** Buckets per day of the time-of-day table (48 = 30 minutes). */
  readonly dailyBuckets: number;
  /** A time-of-day bucket adapts over about this many visits (days). */
  readonly profileDays: number;
  /** Points of calibration memory: older deviations weigh e^-1 after this many points. */
  readonly memory: number;
  /** Soft tail of each past deviation, in ln(1 + z). */
  readonly beta: number;
  /** Prior pseudo-observations with tail 1 / (1 + z) (the cold start). */
  readonly prior: number;
  /** Points the explained surprise is held before it decays. */
  readonly hold: number;
  /** Points over which the explained surprise halves once it decays. */
  readonly explainHalfLife: number;
  /** A new condition must be this many decades rarer than what is already explained. */
  readonly margin: number;
  /** Points a rising surprise must stop rising before it is reported (report at the peak). */
  readonly peak: number;
  /** Surprise (decades, -log10 p) that scores 0.9; score 0.5 at 1/1.73 of it. */
  readonly alertSurprise: number;
}

export const NOVELTY_DEFAULTS: NoveltyConfig = {
  window: 128,
  levelPoints: 16,
  seasonalPoints: 5,
  roughPoints: 32,
  dailyBuckets: 48,
  profileDays: 3,
  memory: 3000,
  beta: 0.06,
  prior: 1,
  hold: 16,
  explainHalfLife: 138,
  margin: 0.3,
  peak: 2,
  alertSurprise: 4.5,
};

// Scalars (f, a number array): options first, then the running state.
const W = 0;
const K2 = 1;
const A_SEAS = 2; // EWMA rate of the short seasonal residual
const A_ROUGH = 3;
const NB = 4;
const A_PROF = 5; // 1 / profileDays
const A_MEM = 6; // per-point decay of the calibration
const BETA = 7;
const PRIOR = 8;
const HOLD = 9;
const DEC = 10;
const MARGIN = 11;
const PEAK = 12;
const S_HALF = 13;
const N = 14; // points learned
const INC = 15; // the calibrators' lazy-decay increment
const AGE = 16;
const MABS = 17; // EWMA of |x - median|: the scale floor of sparse or two-level series
const ROUGH = 18; // winsorised EWMA of |x_t - x_t-1|
const LAST_X = 19;
const LAST_T = 20;
const T_START = 21;
const R_LONG = 23; // its long EWMA (over `window` points): the recent offset
const R_ABS = 24; // EWMA of |residual - recent offset|
const EXPLAINED = 25;
const SINCE = 26;
const PEND = 27;
const PEND_AGE = 28;
const PEND_VIEW = 29;
const PEND_X = 30; // the value at the pending peak (a drop to zero is named so)
const SCALARS = 31;

/** Views, each calibrated on its own: point, short level, seasonal residual, roughness; up and down. */
const VIEWS = 8;
/** Calibration samples a view needs before it may report. */
const WARM = 20;
/** Refresh every calibrator's skip bin every this many points. */
const REFRESH = 64;
/** Lower/upper of the band: the baseline +- this many robust sigmas (what the point view compares against). */
const BAND = 4;

export interface NoveltyState {
  f: number[];
  /** [baseline window | level window | residual window | time-of-day table | calibrators], float32. */
  p: Float32Array;
}

function layout(c: Readonly<NoveltyConfig>): { lvl: number; res: number; day: number; cal: number; size: number } {
  const lvl = rollingSize(c.window);
  const res = lvl + rollingSize(c.levelPoints);
  const day = res + rollingSize(c.seasonalPoints);
  const cal = day + c.dailyBuckets;
  return { lvl, res, day, cal, size: cal + VIEWS * TAIL_SIZE };
}

/** Scratch for one update (no re-entrancy: used within one call). */
const Z = new Float64Array(VIEWS);
const SV = new Float64Array(VIEWS);

/**
 * Calibrated novelty: how rare is this point, given what THIS series has shown? Four views of
 * each point, each up and down: the point against a robust baseline (rolling median and MAD of
 * `window` points), the median of the last `levelPoints` against it (level shifts, bumps),
 * the time-of-day residual smoothed over `seasonalPoints` against its recent offset (a daily
 * pattern that broke), and the typical point-to-point step against the baseline's spread (a
 * series that starts to flap, or goes stuck). Each deviation is calibrated against this
 * series' own history of that view (series/tail.ts): the surprise S = -log10 p says how rare
 * it is here, comparable across series of any scale and shape, and the score maps S to [0, 1]
 * (0.9 at `alertSurprise` decades).
 *
 * "Already explained": a continuing condition is not new information. The detector remembers
 * the surprise it last reported (held `hold` points, then halving every `explainHalfLife`);
 * only a point `margin` decades rarer than that is reported, once, at its peak (`peak` points
 * after it stopped rising). Everything else scores 0: the alert stage keeps an opened alert
 * open. This lives here, not in fusion: it is memory of this series' surprises, and fusion is
 * stateless; the rules keep their absolute meaning beside it.
 */
export const novelty = defineDetector<NoveltyConfig, NoveltyState>({
  name: 'novelty',
  summary: 'How rare each point is given this series\u2019 own history (point, level, time-of-day and roughness views), reported once per new condition.',
  kind: 'model',
  defaults: NOVELTY_DEFAULTS,
  parse(f, path, d) {
    return {
      window: num(f, 'window', path, d.window, { min: 8, max: 1024, integer: true }),
      levelPoints: num(f, 'levelPoints', path, d.levelPoints, { min: 2, max: 256, integer: true }),
      seasonalPoints: num(f, 'seasonalPoints', path, d.seasonalPoints, { min: 1, max: 64, integer: true }),
      roughPoints: num(f, 'roughPoints', path, d.roughPoints, { min: 2, max: 10_000 }),
      dailyBuckets: num(f, 'dailyBuckets', path, d.dailyBuckets, { min: 4, max: 1440, integer: true }),
      profileDays: num(f, 'profileDays', path, d.profileDays, { above: 0, max: 1000 }),
      memory: num(f, 'memory', path, d.memory, { min: 100, max: 1e7 }),
      beta: num(f, 'beta', path, d.beta, { above: 0, max: 5 }),
      prior: num(f, 'prior', path, d.prior, { above: 0, max: 1000 }),
      hold: num(f, 'hold', path, d.hold, { min: 0, max: 1e6, integer: true }),
      explainHalfLife: num(f, 'explainHalfLife', path, d.explainHalfLife, { above: 0, max: 1e7 }),
      margin: num(f, 'margin', path, d.margin, { min: 0, max: 10 }),
      peak: num(f, 'peak', path, d.peak, { min: 0, max: 1000, integer: true }),
      alertSurprise: num(f, 'alertSurprise', path, d.alertSurprise, { above: 0, max: 100 }),
    };
  },
  init(c) {
    const f = doubles(SCALARS);
    f[W] = c.window;
    f[K2] = c.levelPoints;
    f[A_SEAS] = c.seasonalPoints;
    f[A_ROUGH] = 1 / c.roughPoints;
    f[NB] = c.dailyBuckets;
    f[A_PROF] = 1 / c.profileDays;
    f[A_MEM] = 1 - 1 / c.memory;
    f[BETA] = c.beta;
    f[PRIOR] = c.prior;
    f[HOLD] = c.hold;
    f[DEC] = Math.pow(0.5, 1 / c.explainHalfLife);
    f[MARGIN] = c.margin;
    f[PEAK] = c.peak;
    f[S_HALF] = c.alertSurprise / HILL_90;
    f[INC] = 1;
    f[LAST_X] = NaN;
    f[LAST_T] = NaN;
    f[PEND_VIEW] = -1;
    const l = layout(c);
    const p = new Float32Array(l.size);
    rollingInit(p, 0, c.window);
    rollingInit(p, l.lvl, c.levelPoints);
    rollingInit(p, l.res, c.seasonalPoints);
    p.fill(NaN, l.day, l.cal);
    for (let v = 0; v < VIEWS; v++) tailInit(p, l.cal + v * TAIL_SIZE);
    return { f, p };
  },
  update(s, t, x, out) {
    const f = s.f;
    const p = s.p;
    const w = f[W];
    const lvl = 3 + 2 * w;
    const res = lvl + 3 + 2 * f[K2];
    const day = res + 3 + 2 * f[A_SEAS];
    const nb = f[NB];
    const cal = day + nb;
    const n = rollingCount(p, 0);
    const m = n > 0 ? rollingMedian(p, 0) : NaN;
    if (x !== x || x === Infinity || x === -Infinity) {
      if (n < w) return learning(out);
      return verdict(out, 0, m, NaN, NaN, 'normal');
    }
    // Time of day, as in series/profile.ts: linear interpolation between bucket centres.
    const days = t / DAY_MS;
    const dp = (days - Math.floor(days)) * nb - 0.5;
    let i0 = Math.floor(dp);
    const df = dp - i0;
    if (i0 < 0) i0 += nb;
    const i1 = i0 + 1 === nb ? 0 : i0 + 1;
    const d0 = p[day + i0];
    const d1 = p[day + i1];
    const dNow = d0 === d0 ? (d1 === d1 ? d0 + (d1 - d0) * df : d0) : d1;
    if (f[N] === 0) f[T_START] = t;
    f[N]++;
    const lastX = f[LAST_X];
    let dt = t - f[LAST_T];
    if (!(dt > 0)) dt = 0;
    const step = x - lastX;
    const ad = step < 0 ? -step : step;
    f[LAST_X] = x;
    f[LAST_T] = t;
    // Roughness: a winsorised EWMA of the step, so one spike barely moves it.
    let rough = f[ROUGH];
    if (ad === ad) {
      if (rough > 0) rough += f[A_ROUGH] * ((ad < 3 * rough ? ad : 3 * rough) - rough);
      else rough = ad;
      f[ROUGH] = rough;
    }
    rollingPush(p, lvl, x);
    if (n < w) {
      rollingPush(p, 0, x);
      learnDay(f, p, day, i0, i1, df, dt, x, x, Infinity);
      return learning(out);
    }
    let sc = 1.4826 * rollingMad(p, 0, m);
    const dev = x - m;
    let mabs = f[MABS];
    mabs = mabs > 0 ? mabs + (1 / w) * ((dev < 0 ? -dev : dev) - mabs) : dev < 0 ? -dev : dev;
    f[MABS] = mabs;
    const floor = 0.6267 * mabs;
    if (sc < floor) sc = floor;
    const am = m < 0 ? -m : m;
    if (sc < 1e-9 * (am > 1 ? am : 1)) sc = 1e-9 * (am > 1 ? am : 1);
    // The views (signed), then calibrated per side.
    const zp = dev / sc;
    const zl = (rollingMedian(p, lvl) - m) / sc;
    let zs = 0;
    let seasonal = false;
    if (dNow === dNow && t - f[T_START] >= DAY_MS) {
      const r = x - dNow;
      rollingPush(p, res, r);
      let rl = f[R_LONG];
      if (f[R_ABS] > 0) {
        // The recent offset and its spread, over `window` points. Not winsorised: clipping
        // them at 4 spreads scored 2.6 NAB points worse (a broken pattern must move them).
        const e = r - rl;
        f[R_ABS] += (1 / w) * ((e < 0 ? -e : e) - f[R_ABS]);
        rl += (1 / w) * e;
        let rsc = 1.2533 * f[R_ABS];
        if (rsc < 0.1 * sc) rsc = 0.1 * sc;
        zs = (rollingMedian(p, res) - rl) / rsc;
        seasonal = rollingCount(p, res) >= f[A_SEAS];
      } else {
        rl = r;
        f[R_ABS] = sc; // a start in the baseline's spread, then learned
      }
      f[R_LONG] = rl;
    }
    const rr = rough > 1e-3 * sc ? rough : 1e-3 * sc;
    Z[0] = zp > 0 ? zp : 0;
    Z[1] = zp < 0 ? -zp : 0;
    Z[2] = zl > 0 ? zl : 0;
    Z[3] = zl < 0 ? -zl : 0;
    Z[4] = zs > 0 ? zs : 0;
    Z[5] = zs < 0 ? -zs : 0;
    Z[6] = rr / sc;
    Z[7] = sc / rr - 1;
    // Calibrate: decay by raising the increment, judge each view against its own history.
    let inc = f[INC] / f[A_MEM];
    const beta = f[BETA];
    const prior = f[PRIOR];
    let S = 0;
    let best = -1;
    const refresh = ++f[AGE] % REFRESH === 0;
    for (let v = 0; v < VIEWS; v++) {
      if (!seasonal && (v === 4 || v === 5)) {
        SV[v] = 0;
        continue;
      }
      const o = cal + v * TAIL_SIZE;
      const warm = tailCount(p, o, inc) >= WARM;
      const sv = tailObserve(p, o, Z[v], inc, beta, prior);
      if (refresh) tailRefresh(p, o);
      if (warm && sv > S) {
        S = sv;
        best = v;
      }
    }
    if (inc > 1e20) {
      for (let v = 0; v < VIEWS; v++) tailRenormalise(p, cal + v * TAIL_SIZE, inc);
      inc = 1;
    }
    f[INC] = inc;
    // Learn: the baseline window and the time-of-day table (clipped, so a spike does not teach it).
    rollingPush(p, 0, x);
    learnDay(f, p, day, i0, i1, df, dt, x, m, 5 * sc);
    // Already explained: report only a clear escalation, once, at its peak.
    if (++f[SINCE] > f[HOLD]) f[EXPLAINED] *= f[DEC];
    if (S > f[EXPLAINED] + f[MARGIN] && S > f[PEND]) {
      f[PEND] = S;
      f[PEND_AGE] = 0;
      f[PEND_VIEW] = best;
      f[PEND_X] = x;
    } else if (f[PEND] > 0) f[PEND_AGE]++;
    let out0 = 0;
    let view = -1;
    if (f[PEND] > 0 && f[PEND_AGE] >= f[PEAK]) {
      out0 = f[PEND];
      view = f[PEND_VIEW];
      f[EXPLAINED] = out0;
      f[SINCE] = 0;
      f[PEND] = 0;
    }
    const score = out0 > 0 ? hill(out0, f[S_HALF]) : 0;
    const reason: Reason = score >= REPORT_MIN ? viewReason(view, f[PEND_X], m) : 'normal';
    return verdict(out, score, m, m - BAND * sc, m + BAND * sc, reason);
  },
  rescale(s, factor) {
    const f = s.f;
    const p = s.p;
    const w = f[W];
    const lvl = 3 + 2 * w;
    const res = lvl + 3 + 2 * f[K2];
    const day = res + 3 + 2 * f[A_SEAS];
    rollingScale(p, 0, factor);
    rollingScale(p, lvl, factor);
    rollingScale(p, res, factor);
    for (let i = 0; i < f[NB]; i++) p[day + i] *= factor;
    f[MABS] *= factor;
    f[ROUGH] *= factor;
    f[LAST_X] *= factor;
    f[R_LONG] *= factor;
    f[R_ABS] *= factor;
  },
});

function learnDay(f: number[], p: Float32Array, day: number, i0: number, i1: number, df: number, dt: number, x: number, m: number, clip: number): void {
  const xc = x > m + clip ? m + clip : x < m - clip ? m - clip : x;
  // A bucket adapts over about `profileDays` visits at any sampling rate: each point weighs
  // the share of the bucket's width it covers, and each bucket learns its share of the point.
  const width = DAY_MS / f[NB];
  const v = ((dt < width ? dt : width) / width) * f[A_PROF];
  const a = v / (1 + v);
  const g0 = (1 - df) * a;
  const g1 = df * a;
  const v0 = p[day + i0];
  const v1 = p[day + i1];
  const pred = v0 === v0 ? (v1 === v1 ? v0 + (v1 - v0) * df : v0) : v1;
  if (v0 !== v0) p[day + i0] = xc;
  else p[day + i0] = v0 + g0 * (xc - (pred === pred ? pred : v0));
  if (v1 !== v1) p[day + i1] = xc;
  else p[day + i1] = v1 + g1 * (xc - (pred === pred ? pred : v1));
}

/** The reason for a reported view; `x` is the point's value for the point view. */
function viewReason(view: number, x: number, m: number): Reason {
  // Any downward view that lands on exactly 0 from a positive baseline is an outage.
  if (x === 0 && m > 0 && (view === 1 || view === 3 || view === 5)) return 'drop_to_zero';
  switch (view) {
    case 0:
      return 'spike';
    case 1:
      return 'dip';
    case 2:
      return 'level_shift_up';
    case 3:
      return 'level_shift_down';
    case 4:
    case 5:
      return 'seasonal_break';
    default:
      return 'variance_change';
  }
}

