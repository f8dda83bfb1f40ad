/**
 * A seasonal baseline: "what is normal for this series at this time?", answered without a
 * period search or a history buffer. Tables are indexed by wall-clock time (UTC), so one day
 * of data teaches the daily shape and one week the weekly one, at any sampling interval.
 *
 * Tables (read by linear interpolation between bucket centres, so a ramp is not a staircase):
 *   D(t)  time of day, `dailyBuckets` buckets (96 = 15 min): the SHAPE of the day, seeded
 *         with the first day's values, then learned net of the level (see below), each
 *         bucket an average over about `profileDays` visits (days);
 *   Wd(t) hour of week, 168 buckets: the RATIO of the value to D at this hour of the week
 *         (weekends, Monday mornings), over about `profileWeeks` visits. A ratio because
 *         weekly patterns scale with the level. Learned from the second day on, while D > 0
 *         and x >= 0 (series that go negative use the daily table alone);
 *   S(t)  time of day: the mean absolute residual at this time of day.
 *
 * Three candidate baselines, each with a fast and a slow level:
 *   k = 0: a plain level L (EWMA of x);   k = 1: D(t) x factor;   k = 2: D(t) x Wd(t) x factor.
 * The fast level/factor (EWMA over `levelPoints` points) follows level and trend: a point
 * is judged against it (EXPECTED, SCALE). The slow one (over `driftPoints`) is the reference
 * for drifts and for "not what this time of day usually looks like" (SLOW_EXPECTED,
 * SLOW_SCALE). Factors rather than offsets: growth scales the daily swing too, and an
 * additive correction would leave peak and trough wrong in opposite directions.
 * The tables learn shape and the factors carry the level: D learns x / (Wd x slow factor),
 * Wd learns x / (D x slow factor) (backfitting). Tables plus a level all learning one residual
 * let a fast level soak up every weekend and a slow one lag every trend; tables learning raw
 * values soak up every level shift.
 * The candidates are compared on the error of their slow reference over about a day of wall
 * time, with hysteresis (another candidate must be 15% better to take over); where the
 * preferred one is unavailable (a bucket never seen, a profile near 0) the point falls back to
 * the next simpler one. A series without weekly (or any) seasonality so ends up on the
 * simpler baseline instead of paying for a noisy table.
 *
 * Learning is robust. Every update uses the value clipped to `clip` spreads around the
 * prediction, and spreads learn winsorized residuals, so a spike barely moves anything and a
 * sustained anomaly does not widen its own band within a few points. D also learns at
 * Huber's weight (2 / |z| beyond 2 slow sigmas), so an afternoon without its peak is not
 * learned as the new afternoon. After `relevel` consecutive points beyond the clip on one
 * side, every level jumps to its mean over that run and the spreads scale with it (a level
 * shift becomes the new normal instead of an endless alarm); values of exactly 0 never
 * relevel (an outage stays visible).
 * The drift yardsticks (SLOW_SCALE and the autocorrelation behind profileDriftInflation)
 * learn much slower than a drift builds up.
 *
 * Storage: scalars and options in the caller's number array at `f[o]` (PROFILE_SCALARS
 * slots, named by `PF`), the tables in a Float32Array `p` of `profileTableSize(opts)` floats:
 * [D | S | Wd], NaN for a bucket never seen. Float32 is plenty for a baseline and halves the
 * state: 96 + 96 + 168 buckets are 1,440 bytes.
 */
import { finerResolution } from './resolution.ts';

export interface ProfileOptions {
  /** Buckets per day for the time-of-day tables (96 = 15 minutes). */
  readonly dailyBuckets: number;
  /** Learn the hour-of-week table too. */
  readonly weekly: boolean;
  /** The fast levels (what a point is judged against) adapt over about this many points. */
  readonly levelPoints: number;
  /** The slow levels (the reference for drifts and time-of-day norms) adapt over about this many points. */
  readonly driftPoints: number;
  /** A time-of-day bucket adapts over about this many visits (days). */
  readonly profileDays: number;
  /** An hour-of-week bucket adapts over about this many visits (weeks). */
  readonly profileWeeks: number;
  /** Values are clipped to this many robust standard deviations around the prediction before learning. */
  readonly clip: number;
  /** Consecutive clipped points on one side after which the levels jump onto them; 0 = never. */
  readonly relevel: number;
}

/** Index of each scalar in the caller's array, relative to `o`. */
export const PF = {
  /** Points learned. */
  N: 0,
  LAST_T: 1,
  LAST_X: 2,
  /** Smallest non-zero step between consecutive values (the data's resolution). */
  QUANTUM: 3,
  T_START: 4,
  /** Fast offsets of candidates 0, 1, 2 (NaN until the candidate is first available). */
  FAST: 5,
  /** Slow offsets of candidates 0, 1, 2. */
  SLOW: 8,
  /** Recent mean absolute error of candidates 0, 1, 2 against their slow references. */
  ERR: 11,
  /** Global mean absolute (clipped) residual of the chosen candidate. */
  SPREAD: 14,
  /** Global mean absolute (clipped) residual against the slow reference. */
  SPREAD_SLOW: 15,
  /** Signed run of consecutive clipped residuals (positive: above). */
  RUN: 16,
  /** RUN_SUM + k: sum of candidate k's level (x, or x / profile) over that run. */
  RUN_SUM: 36,
  /** The preferred candidate (with hysteresis); SEL falls back from it where it is unavailable. */
  PREF: 39,
  /** Sum and count of the known D buckets: their mean is the series' typical daily level. */
  D_SUM: 17,
  D_KNOWN: 18,
  // Set by profilePredict for the point being judged:
  /** The candidate in use at this point (0, 1, 2). */
  SEL: 19,
  EXPECTED: 20,
  /** Robust standard deviation of the residual at this time of day. */
  SCALE: 21,
  /** The slow reference and its robust standard deviation (for drift). */
  SLOW_EXPECTED: 22,
  SLOW_SCALE: 23,
  /** The seasonal part of EXPECTED: the profile's departure from its daily mean. */
  SEASONAL: 24,
  /** A short EWMA of the slow residual, and EWMAs of its square and of the residual's square. */
  SMOOTH_SLOW: 25,
  C1: 26,
  C0: 27,
  // The options, copied in at init so a checkpoint carries them.
  DAILY_BUCKETS: 28,
  WEEKLY: 29,
  LEVEL_POINTS: 30,
  DRIFT_POINTS: 31,
  PROFILE_DAYS: 32,
  PROFILE_WEEKS: 33,
  CLIP: 34,
  RELEVEL: 35,
} as const;
export const PROFILE_SCALARS = 40;

export const DAY_MS = 86_400_000;
export const WEEK_MS = 7 * DAY_MS;
const HOUR_MS = 3_600_000;
const WEEK_BUCKETS = 168;
/** 1970-01-01 was a Thursday; this offset makes hour-of-week 0 a Monday 00:00 UTC. */
const MONDAY_OFFSET_MS = 3 * DAY_MS;
/** Points of plain running statistics before anything else. */
const WARM_POINTS = 16;
/** E|e| = 0.7979 sigma for a normal residual, so sigma = 1.2533 E|e|. */
const MEAN_ABS_TO_SIGMA = 1.2533;
/** A seasonal candidate is used only where |profile| exceeds this many global spreads. */
const PROFILE_FLOOR = 4;
/** Calibration of the drift yardsticks: rate (x 1/driftPoints) and clip (in slow sigmas). */
const CAL_RATE = 0.5;
const CAL_CLIP = 2;
/** The short EWMA behind profileDriftInflation, and 1 / its variance for white noise. */
const SMOOTH_ALPHA = 1 / 16;
const WHITE_SMOOTH_INV = (2 - SMOOTH_ALPHA) / SMOOTH_ALPHA;
/** Error ratio another candidate must beat the one in use by to take over (hysteresis). */
const SWITCH = 0.85;

export function profileTableSize(opts: ProfileOptions): number {
  return 2 * opts.dailyBuckets + (opts.weekly ? WEEK_BUCKETS : 0);
}

export function profileInit(f: number[], o: number, p: Float32Array, opts: ProfileOptions): void {
  for (let i = 0; i < PROFILE_SCALARS; i++) f[o + i] = 0;
  f[o + PF.LAST_T] = NaN;
  f[o + PF.LAST_X] = NaN;
  f[o + PF.QUANTUM] = Infinity;
  for (let k = 0; k < 3; k++) {
    f[o + PF.FAST + k] = NaN;
    f[o + PF.SLOW + k] = NaN;
    f[o + PF.ERR + k] = NaN;
  }
  f[o + PF.EXPECTED] = NaN;
  f[o + PF.SCALE] = NaN;
  f[o + PF.SLOW_EXPECTED] = NaN;
  f[o + PF.SLOW_SCALE] = NaN;
  f[o + PF.DAILY_BUCKETS] = opts.dailyBuckets;
  f[o + PF.WEEKLY] = opts.weekly ? 1 : 0;
  f[o + PF.LEVEL_POINTS] = opts.levelPoints;
  f[o + PF.DRIFT_POINTS] = opts.driftPoints;
  f[o + PF.PROFILE_DAYS] = opts.profileDays;
  f[o + PF.PROFILE_WEEKS] = opts.profileWeeks;
  f[o + PF.CLIP] = opts.clip;
  f[o + PF.RELEVEL] = opts.relevel;
  p.fill(NaN);
}

// Positions and profile values of the point being judged, set by profilePredict and reused
// by profileLearn for the same point (no re-entrancy: both run within one update call).
// A Float64Array, because a module-level `let` holding a double boxes a new heap number on
// every assignment.
const SC = new Float64Array(11);
const D0 = 0;
const D1 = 1;
const DF = 2;
const W0 = 3;
const W1 = 4;
const WF = 5;
const DNOW = 6; // D(t), NaN when unknown
const WNOW = 7; // Wd(t), NaN when unknown
const PK = 8; // PK + k: the profile of candidate k (NaN when unavailable), see candidates()

function lerp(p: Float32Array, a: number, b: number, fr: number): number {
  const x = p[a];
  const y = p[b];
  if (x === x) return y === y ? x + (y - x) * fr : x;
  return y; // NaN when neither bucket was seen
}

/**
 * Sets the profile of each candidate at the current point: 1 for the level, NaN when
 * unavailable (never seen, or within `floor` of 0, where a ratio means nothing).
 */
function candidates(floor: number): void {
  const d = SC[DNOW];
  const w = SC[WNOW];
  SC[PK] = 1;
  SC[PK + 1] = d > floor || d < -floor ? d : NaN;
  const dw = w === w ? d * w : NaN;
  SC[PK + 2] = dw > floor || dw < -floor ? dw : NaN;
}

/**
 * Computes SEL, EXPECTED, SCALE, SLOW_EXPECTED, SLOW_SCALE and SEASONAL for time `t`
 * (NaN before the first point).
 */
export function profilePredict(f: number[], o: number, p: Float32Array, t: number): void {
  const nb = f[o + PF.DAILY_BUCKETS] | 0;
  // Time of day as a fraction, by floor rather than % (a double modulo is a slow call).
  const days = t / DAY_MS;
  const dp = (days - Math.floor(days)) * nb - 0.5;
  let i0 = Math.floor(dp);
  const df = dp - i0;
  if (i0 < 0) i0 += nb;
  const i1 = i0 + 1 === nb ? 0 : i0 + 1;
  SC[D0] = i0;
  SC[D1] = i1;
  SC[DF] = df;
  const dNow = lerp(p, i0, i1, df);
  SC[DNOW] = dNow;
  SC[WNOW] = NaN;
  if (f[o + PF.WEEKLY] !== 0 && dNow === dNow) {
    const weeks = (t + MONDAY_OFFSET_MS) / WEEK_MS;
    const wp = (weeks - Math.floor(weeks)) * WEEK_BUCKETS - 0.5;
    let j0 = Math.floor(wp);
    const wf = wp - j0;
    if (j0 < 0) j0 += WEEK_BUCKETS;
    const j1 = j0 + 1 === WEEK_BUCKETS ? 0 : j0 + 1;
    SC[W0] = 2 * nb + j0;
    SC[W1] = 2 * nb + j1;
    SC[WF] = wf;
    // Both weekly buckets must be known: next to a bucket never visited (the first weeks)
    // neither neighbour is a fair stand-in for a weekly ratio.
    const a = p[2 * nb + j0];
    const b = p[2 * nb + j1];
    SC[WNOW] = a === a && b === b ? a + (b - a) * wf : NaN;
  }
  if (f[o + PF.N] === 0) {
    f[o + PF.EXPECTED] = NaN;
    f[o + PF.SCALE] = NaN;
    f[o + PF.SLOW_EXPECTED] = NaN;
    f[o + PF.SLOW_SCALE] = NaN;
    f[o + PF.SEASONAL] = 0;
    return;
  }
  const g = f[o + PF.SPREAD];
  const pfloor = PROFILE_FLOOR * g;
  // Keep the candidate in use unless another one, available now, beats it clearly: the
  // candidates' slow references differ, and flapping between them would look like drift.
  candidates(pfloor);
  let pref = f[o + PF.PREF];
  let best = f[o + PF.ERR + pref];
  if (!(best === best)) best = Infinity;
  const cur = pref;
  for (let k = 0; k < 3; k++) {
    if (k === cur) continue;
    const e = f[o + PF.ERR + k];
    if (e === e && SC[PK + k] === SC[PK + k] && f[o + PF.FAST + k] === f[o + PF.FAST + k] && e < SWITCH * best) {
      pref = k;
      best = e;
    }
  }
  f[o + PF.PREF] = pref;
  // Where the preferred candidate is unavailable (a bucket never seen, a profile near 0),
  // step down to the next simpler one for this point only.
  let sel = pref;
  while (sel > 0 && (SC[PK + sel] !== SC[PK + sel] || f[o + PF.FAST + sel] !== f[o + PF.FAST + sel])) sel--;
  // Candidate 0 is a level (additive); the seasonal ones scale their profile by a factor.
  const pk = SC[PK + sel];
  const expected = sel === 0 ? f[o + PF.FAST] : pk * f[o + PF.FAST + sel];
  const bs = lerp(p, nb + i0, nb + i1, df);
  // A bucket's own spread, but never far below the global one: a bucket learned on a few
  // quiet nights must not turn every normal wiggle into an alarm.
  let scale = MEAN_ABS_TO_SIGMA * (bs === bs ? (bs > 0.33 * g ? bs : 0.33 * g) : g);
  let slowScale = MEAN_ABS_TO_SIGMA * f[o + PF.SPREAD_SLOW];
  // Floors: the data's resolution (a step of one count is never many sigmas), a millionth of
  // the level (a flat line still has a scale), and a tiny absolute.
  const q = f[o + PF.QUANTUM];
  let floor = 1e-6 * (expected < 0 ? -expected : expected);
  if (floor < q) floor = q;
  if (floor < 1e-12) floor = 1e-12;
  if (scale < floor) scale = floor;
  if (slowScale < scale) slowScale = scale;
  f[o + PF.SEL] = sel;
  f[o + PF.EXPECTED] = expected;
  f[o + PF.SCALE] = scale;
  f[o + PF.SLOW_EXPECTED] = sel === 0 ? f[o + PF.SLOW] : pk * f[o + PF.SLOW + sel];
  f[o + PF.SLOW_SCALE] = slowScale;
  const known = f[o + PF.D_KNOWN];
  f[o + PF.SEASONAL] = sel > 0 && known > 0 ? (pk - f[o + PF.D_SUM] / known) * f[o + PF.FAST + sel] : 0;
}

/**
 * Learns from the finite value `x` at `t`; call `profilePredict(t)` first. Returns true when
 * the offsets jumped onto a sustained shift (see `relevel`).
 */
export function profileLearn(f: number[], o: number, p: Float32Array, t: number, x: number): boolean {
  const n = f[o + PF.N];
  let dt = t - f[o + PF.LAST_T];
  if (!(dt > 0)) dt = 0;
  f[o + PF.QUANTUM] = finerResolution(f[o + PF.QUANTUM], f[o + PF.LAST_X], x);
  f[o + PF.LAST_T] = t;
  f[o + PF.LAST_X] = x;
  f[o + PF.N] = n + 1;
  if (n === 0) {
    f[o + PF.T_START] = t;
    f[o + PF.FAST] = x;
    f[o + PF.SLOW] = x;
  }
  if (n < WARM_POINTS) {
    // Running mean and mean absolute deviation: a first level and scale before anything else.
    const m = f[o + PF.FAST];
    const e = x - m;
    const a = e < 0 ? -e : e;
    f[o + PF.FAST] = m + e / (n + 1);
    f[o + PF.SLOW] = f[o + PF.FAST];
    if (n > 0) {
      f[o + PF.SPREAD] += (a - f[o + PF.SPREAD]) / n;
      f[o + PF.SPREAD_SLOW] = f[o + PF.SPREAD];
      f[o + PF.ERR] = f[o + PF.SPREAD];
    }
    learnTables(f, o, p, dt, 1, x, a, false);
    return false;
  }
  const sel = f[o + PF.SEL];
  const expected = f[o + PF.EXPECTED];
  const scale = f[o + PF.SCALE];
  const clip = f[o + PF.CLIP];
  const lim = clip * scale;
  const e = x - expected;
  const ae = e < 0 ? -e : e;
  let run = f[o + PF.RUN];
  const fresh = !((e > lim && run > 0) || (e < -lim && run < 0)); // a run starts (or none)
  run = e > lim ? (run > 0 ? run + 1 : 1) : e < -lim ? (run < 0 ? run - 1 : -1) : 0;
  const relevel = f[o + PF.RELEVEL];
  const jump = relevel > 0 && (run >= relevel || -run >= relevel) && x !== 0;
  const runLen = run < 0 ? -run : run;
  f[o + PF.RUN] = jump ? 0 : run;
  const aF = 1 / f[o + PF.LEVEL_POINTS];
  // The daily table is what "normal" means at each time of day, so a point far from the slow
  // reference teaches it less: full weight within 2 sigmas, then 2 / |z| (Huber's weight;
  // a 5-sigma point counts 0.4). A broken afternoon is not learned as the new afternoon at
  // full speed, while a reference that is simply wrong still corrects itself; a real change
  // of level is taken up by the jump at `relevel`.
  const zs = (x - f[o + PF.SLOW_EXPECTED]) / f[o + PF.SLOW_SCALE];
  const azs = zs < 0 ? -zs : zs;
  const wt = jump ? 0 : azs <= 2 ? 1 : 2 / azs;
  const aS = 1 / f[o + PF.DRIFT_POINTS];
  // Candidates are compared over about a day of wall-clock time, so that a weekly table's
  // benefit, which shows only around weekends, is not forgotten by Wednesday.
  const aE = (dt < HOUR_MS ? (dt > 0 ? dt : 0) : HOUR_MS) / DAY_MS;
  // Candidate factors (level for k = 0) and errors, each on its own residual, in the value's
  // units: r = x / profile, and a residual of e in value units is e / |profile| in r units.
  const slim = clip * f[o + PF.SLOW_SCALE];
  let spreadRatio = 1;
  for (let k = 0; k < 3; k++) {
    const pk = SC[PK + k];
    if (pk !== pk) continue;
    const r = k === 0 ? x : x / pk;
    const u = k === 0 ? 1 : pk < 0 ? -pk : pk; // value units per unit of r
    // Each candidate's mean level over the run: where it jumps to (one noisy point, or the
    // residuals against a level that drifted during the run, would misplace it).
    const runSum = run === 0 ? 0 : fresh ? r : f[o + PF.RUN_SUM + k] + r;
    f[o + PF.RUN_SUM + k] = jump ? 0 : runSum;
    const fast = f[o + PF.FAST + k];
    if (fast !== fast) {
      // First time this candidate is available: start it where the data is.
      f[o + PF.FAST + k] = r;
      f[o + PF.SLOW + k] = r;
      f[o + PF.ERR + k] = f[o + PF.ERR];
      continue;
    }
    const ef = (r - fast) * u;
    const slow = f[o + PF.SLOW + k];
    const es = (r - slow) * u;
    // Candidates are judged on their slow reference: the fast level hides a missing weekend
    // pattern within a few dozen points, the slow one does not.
    const aes = es < 0 ? -es : es;
    f[o + PF.ERR + k] += aE * ((aes < 2 * slim ? aes : 2 * slim) - f[o + PF.ERR + k]);
    if (jump) {
      const level = runSum / runLen;
      // The ratio of new to old level of the candidate in use scales the spreads below.
      if (k === sel && fast > 0 && level > 0) spreadRatio = level / fast;
      f[o + PF.FAST + k] = level;
      f[o + PF.SLOW + k] = level;
      continue;
    }
    f[o + PF.FAST + k] = fast + (aF * (ef > lim ? lim : ef < -lim ? -lim : ef)) / u;
    f[o + PF.SLOW + k] = slow + (aS * (es > slim ? slim : es < -slim ? -slim : es)) / u;
  }
  if (spreadRatio !== 1) {
    // Noise usually scales with the level (traffic, latency): after a jump by a factor, so
    // do the spreads, or the new level's ordinary noise would look like many sigmas.
    const r = spreadRatio > 10 ? 10 : spreadRatio < 0.1 ? 0.1 : spreadRatio;
    const nb = f[o + PF.DAILY_BUCKETS] | 0;
    for (let i = nb; i < 2 * nb; i++) p[i] *= r;
    f[o + PF.SPREAD] *= r;
    f[o + PF.SPREAD_SLOW] *= r;
  }
  // Spreads learn winsorized residuals (at 2.5 spreads): a sustained anomaly must not widen
  // the band that judges it within a few points.
  const aec = ae < lim ? ae : lim;
  const g0 = f[o + PF.SPREAD];
  f[o + PF.SPREAD] += 0.5 * aF * ((aec < 2.5 * g0 ? aec : 2.5 * g0) - g0);
  // The drift yardsticks learn much slower than a drift builds up (and from clipped values),
  // or a real shift would widen the very scale it is judged by.
  const aC = CAL_RATE / f[o + PF.DRIFT_POINTS];
  const es = x - f[o + PF.SLOW_EXPECTED];
  const aes = es < 0 ? -es : es;
  const clim = CAL_CLIP * f[o + PF.SLOW_SCALE];
  f[o + PF.SPREAD_SLOW] += aC * ((aes < clim ? aes : clim) - f[o + PF.SPREAD_SLOW]);
  // Variance of a short average of the slow residual against the residual's own variance
  // (clipped values): how much slower than white noise its mean wanders.
  const rs = es > clim ? clim : es < -clim ? -clim : es;
  const sm = jump ? 0 : f[o + PF.SMOOTH_SLOW] + SMOOTH_ALPHA * (rs - f[o + PF.SMOOTH_SLOW]);
  f[o + PF.SMOOTH_SLOW] = sm;
  f[o + PF.C1] += aC * (sm * sm - f[o + PF.C1]);
  f[o + PF.C0] += aC * (rs * rs - f[o + PF.C0]);
  // Tables learn the value clipped around the prediction.
  const xc = jump ? x : e > lim ? expected + lim : e < -lim ? expected - lim : x;
  // The weekly table waits for a full day: before that, D was just seeded from these very
  // values, and x / D would teach it nothing but 1.
  learnTables(f, o, p, dt, wt, xc, aec, t - f[o + PF.T_START] >= DAY_MS);
  return jump;
}

/** Updates D, S and (if `weekly`) Wd for one point (clipped value `xc`, clipped absolute residual `aec`, D's weight `wt`). */
function learnTables(f: number[], o: number, p: Float32Array, dt: number, wt: number, xc: number, aec: number, weekly: boolean): void {
  const nb = f[o + PF.DAILY_BUCKETS] | 0;
  const bucketMs = DAY_MS / nb;
  // Each bucket takes the share of a visit this point represents, split by interpolation
  // weight, and (D only) by the point's robustness weight. The weekly table is left at full
  // speed: its first visits are exactly where its errors are large, and it must correct them.
  const vd = ((dt < bucketMs ? dt : bucketMs) / bucketMs / f[o + PF.PROFILE_DAYS]) * wt;
  const g = f[o + PF.SPREAD];
  const dPred = SC[DNOW];
  const wPred = SC[WNOW];
  const df = SC[DF];
  // The tables learn shape, the candidate's slow factor carries the level: D learns the value
  // net of the factor (and of the weekly ratio while the weekly candidate is in use), Wd
  // learns it net of D and the factor. If D learned raw values it would soak up a level shift
  // within a day while the factor did the same, and the slow reference would be left
  // behind. The weekly ratio only enters D while that candidate is in use: on a series with
  // no weekly pattern the weekly table is noise, and feeding it into D would spread it.
  const sel = f[o + PF.SEL];
  // Net of the slow factor: the fast one follows hours-long wiggles, including the table's
  // own errors, and would leave the shape half-learned.
  const f1 = f[o + PF.SLOW + 1];
  const f2 = f[o + PF.SLOW + 2];
  const dTarget = sel === 2 && wPred > 0 && f2 > 0 ? xc / (wPred * f2) : sel === 1 && f1 > 0 ? xc / f1 : xc;
  learnDaily(f, o, p, SC[D0], nb, (1 - df) * vd, dTarget, dPred, aec, g);
  learnDaily(f, o, p, SC[D1], nb, df * vd, dTarget, dPred, aec, g);
  if (weekly && f[o + PF.WEEKLY] !== 0 && dPred > 0 && xc >= 0) {
    const vw = (dt < HOUR_MS ? dt : HOUR_MS) / HOUR_MS / f[o + PF.PROFILE_WEEKS];
    const target = xc / (dPred * (f2 > 0 ? f2 : 1));
    const wf = SC[WF];
    learnWeekly(p, SC[W0], (1 - wf) * vw, target, wPred);
    learnWeekly(p, SC[W1], wf * vw, target, wPred);
  }
}

function learnDaily(f: number[], o: number, p: Float32Array, i: number, nb: number, v: number, xc: number, pred: number, aec: number, g: number): void {
  const m = p[i];
  if (m !== m) {
    // First visit: take the value as it is; the spread starts from the global one (unknown
    // while there is none yet, so that the global spread stands in for it).
    p[i] = xc;
    p[nb + i] = g > 0 ? g : NaN;
    f[o + PF.D_SUM] += p[i];
    f[o + PF.D_KNOWN]++;
    return;
  }
  if (v <= 0) return;
  const gam = v / (1 + v);
  const before = p[i];
  // LMS on the interpolated prediction: each bucket moves by its share of the error.
  p[i] = m + gam * (xc - (pred === pred ? pred : m));
  f[o + PF.D_SUM] += p[i] - before;
  const sp = p[nb + i];
  if (sp === sp) p[nb + i] = sp + gam * ((aec < 2.5 * sp ? aec : 2.5 * sp) - sp);
  else if (g > 0) p[nb + i] = g;
}

function learnWeekly(p: Float32Array, i: number, v: number, target: number, pred: number): void {
  const m = p[i];
  if (m !== m) {
    p[i] = target;
    return;
  }
  if (v <= 0) return;
  p[i] = m + (v / (1 + v)) * (target - (pred === pred ? pred : m));
}

/** Multiplies every learned level by `factor` (> 0): a change of unit. */
export function profileScale(f: number[], o: number, p: Float32Array, factor: number): void {
  f[o + PF.RUN_SUM] *= factor;
  const slots = [PF.LAST_X, PF.QUANTUM, PF.SPREAD, PF.SPREAD_SLOW, PF.D_SUM, PF.EXPECTED, PF.SCALE, PF.SLOW_EXPECTED, PF.SLOW_SCALE, PF.SEASONAL, PF.SMOOTH_SLOW];
  for (const s of slots) f[o + s] *= factor;
  f[o + PF.C1] *= factor * factor;
  f[o + PF.C0] *= factor * factor;
  // The level candidate carries the unit; the seasonal candidates' factors do not.
  f[o + PF.FAST] *= factor;
  f[o + PF.SLOW] *= factor;
  for (let k = 0; k < 3; k++) f[o + PF.ERR + k] *= factor;
  // D and its spread carry the unit; the weekly ratios do not.
  const nb = f[o + PF.DAILY_BUCKETS] | 0;
  for (let i = 0; i < 2 * nb; i++) p[i] *= factor;
}

/**
 * How much wider than its point spread the mean of the slow residual wanders, as a factor on
 * the standard deviation, from the variance ratio of a 16-point EWMA of the residual: for
 * white noise that EWMA has variance sigma^2 * a / (2 - a) (a = 1/16); a profile's slowly
 * varying error makes it larger. A CUSUM standardised by SLOW_SCALE times this factor does
 * not mistake such an error for a drift, at any sampling rate. 1 for white noise, at most 8.
 */
export function profileDriftInflation(f: number[], o: number): number {
  const c0 = f[o + PF.C0];
  if (!(c0 > 0)) return 1;
  const ratio = (f[o + PF.C1] / c0) * WHITE_SMOOTH_INV;
  return ratio <= 1 ? 1 : ratio >= 64 ? 8 : Math.sqrt(ratio);
}
