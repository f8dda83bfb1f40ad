import { CUSUM_SIZE, PF, PROFILE_SCALARS, type ProfileOptions, cusumDown, cusumInit, cusumPush, cusumUp, doubles, profileDriftInflation, profileInit, profileLearn, profilePredict, profileScale, profileTableSize } from '../series/index.ts';
import { flag, num } from './config.ts';
import { REPORT_MIN, defineDetector, excursionReason, hill, learning, verdict } from './define.ts';
import type { Reason } from './types.ts';

export interface SeasonalBaselineConfig {
  /** Buckets per day of the time-of-day profile (96 = 15 minutes). */
  readonly dailyBuckets: number;
  /** Also learn an hour-of-week profile (weekdays vs weekends). */
  readonly weekly: boolean;
  /** The level a point is judged against adapts over about this many points. */
  readonly levelPoints: number;
  /** The reference a drift is measured against adapts over about this many points. */
  readonly driftPoints: number;
  /** A time-of-day bucket adapts over about this many days. */
  readonly profileDays: number;
  /** An hour-of-week bucket adapts over about this many weeks. */
  readonly profileWeeks: number;
  /** Residuals are clipped to this many sigmas before learning. */
  readonly clip: number;
  /** After this many consecutive points beyond the clip on one side the baseline jumps to them (0 = never). */
  readonly relevel: number;
  /** |z| that scores 0.5; 1.73x this scores 0.9. */
  readonly zHalf: number;
  /**
   * Also run a CUSUM against the slow reference for slow drifts and small sustained shifts.
   * Off by default: the cusum detector does this job and is tested for it; here it shares
   * the tables and costs nothing extra in memory.
   */
  readonly drift: boolean;
  /** CUSUM allowance, in sigmas per point. */
  readonly driftK: number;
  /** CUSUM sum that scores 0.5; 1.73x this scores 0.9. */
  readonly driftH: number;
  /** Hours of data before judging (the daily profile needs a day to be seen once). */
  readonly learnHours: number;
}

export interface SeasonalState {
  /** Profile scalars and options, then the CUSUM sums, then this detector's options. */
  f: number[];
  /** [daily mean | daily spread | weekly mean] (see series/profile.ts). */
  p: Float32Array;
}

const CU = PROFILE_SCALARS;
const Z_HALF = CU + CUSUM_SIZE;
const DRIFT = Z_HALF + 1;
const DRIFT_K = Z_HALF + 2;
const DRIFT_H = Z_HALF + 3;
const LEARN_MS = Z_HALF + 4;
const SIZE = Z_HALF + 5;
const MIN_POINTS = 16;

export const SEASONAL_DEFAULTS: SeasonalBaselineConfig = {
  dailyBuckets: 96,
  weekly: true,
  levelPoints: 32,
  driftPoints: 256,
  profileDays: 3,
  profileWeeks: 2,
  clip: 4,
  relevel: 12,
  zHalf: 3.5,
  drift: false,
  driftK: 0.5,
  driftH: 5,
  learnHours: 24,
};

export function parseProfileOptions(f: Readonly<Record<string, unknown>>, path: string, d: ProfileOptions): ProfileOptions {
  return {
    dailyBuckets: num(f, 'dailyBuckets', path, d.dailyBuckets, { min: 1, max: 1440, integer: true }),
    weekly: flag(f, 'weekly', path, d.weekly),
    levelPoints: num(f, 'levelPoints', path, d.levelPoints, { min: 2, max: 1e6 }),
    driftPoints: num(f, 'driftPoints', path, d.driftPoints, { min: 2, max: 1e6 }),
    profileDays: num(f, 'profileDays', path, d.profileDays, { above: 0, max: 1000 }),
    profileWeeks: num(f, 'profileWeeks', path, d.profileWeeks, { above: 0, max: 1000 }),
    clip: num(f, 'clip', path, d.clip, { min: 1, max: 100 }),
    relevel: num(f, 'relevel', path, d.relevel, { min: 0, max: 1e6, integer: true }),
  };
}

/**
 * Compares each point with what is normal for this time of day and week (daily and
 * hour-of-week tables, see series/profile.ts), twice: against the fast level (spikes, dips,
 * drops to zero, the first points of a level shift) and against the slow reference (a
 * weekday peak at 3 a.m., an afternoon whose peak did not come: things a rolling window, or
 * a level that follows the data within hours, would call normal). Both in units of the
 * spread usually seen at that time of day. With `drift: true` a CUSUM against the slow
 * reference also reports slow drifts and small sustained shifts (as the cusum detector does,
 * sharing these tables). Learns for `learnHours` (a day). About 2.1 KB per series.
 */
export const seasonalBaseline = defineDetector<SeasonalBaselineConfig, SeasonalState>({
  name: 'seasonal_baseline',
  summary: 'Compares each point with the usual value for this time of day and week (daily and hour-of-week profiles).',
  kind: 'model',
  defaults: SEASONAL_DEFAULTS,
  parse(f, path, d) {
    return {
      ...parseProfileOptions(f, path, d),
      zHalf: num(f, 'zHalf', path, d.zHalf, { above: 0, max: 100 }),
      drift: flag(f, 'drift', path, d.drift),
      driftK: num(f, 'driftK', path, d.driftK, { min: 0, max: 10 }),
      driftH: num(f, 'driftH', path, d.driftH, { above: 0, max: 1000 }),
      learnHours: num(f, 'learnHours', path, d.learnHours, { min: 0, max: 24 * 365 }),
    };
  },
  init(c) {
    const f = doubles(SIZE);
    const p = new Float32Array(profileTableSize(c));
    profileInit(f, 0, p, c);
    cusumInit(f, CU);
    f[Z_HALF] = c.zHalf;
    f[DRIFT] = c.drift ? 1 : 0;
    f[DRIFT_K] = c.driftK;
    f[DRIFT_H] = c.driftH;
    f[LEARN_MS] = c.learnHours * 3_600_000;
    return { f, p };
  },
  update(s, t, x, out) {
    const f = s.f;
    const p = s.p;
    profilePredict(f, 0, p, t);
    const expected = f[PF.EXPECTED];
    const scale = f[PF.SCALE];
    const zh = f[Z_HALF];
    const judging = f[PF.N] >= MIN_POINTS && t - f[PF.T_START] >= f[LEARN_MS];
    if (x !== x || x === Infinity || x === -Infinity) {
      return judging ? verdict(out, 0, expected, expected - zh * scale, expected + zh * scale, 'normal') : learning(out);
    }
    if (!judging) {
      profileLearn(f, 0, p, t, x);
      return learning(out);
    }
    // Each point is judged twice: against the fast level (a spike, a step) and against the
    // slow reference, the usual value for this time of day and week with a level that moves
    // over `driftPoints` (a peak that did not come, a night that looks like a day: the fast
    // level would follow those within hours and call them normal).
    const z = (x - expected) / scale;
    const zSlow = (x - f[PF.SLOW_EXPECTED]) / f[PF.SLOW_SCALE];
    const fastScore = hill(z < 0 ? -z : z, zh);
    const slowScore = hill(zSlow < 0 ? -zSlow : zSlow, zh);
    const pointScore = fastScore > slowScore ? fastScore : slowScore;
    let driftScore = 0;
    let up = 0;
    let down = 0;
    if (f[DRIFT] !== 0) {
      const c = f[PF.CLIP];
      const zs = (x - f[PF.SLOW_EXPECTED]) / (f[PF.SLOW_SCALE] * profileDriftInflation(f, 0));
      cusumPush(f, CU, zs > c ? c : zs < -c ? -c : zs, f[DRIFT_K], 3 * f[DRIFT_H]);
      up = cusumUp(f, CU);
      down = cusumDown(f, CU);
      driftScore = hill(up > down ? up : down, f[DRIFT_H]);
    }
    const run = f[PF.RUN];
    const seasonal = f[PF.SEASONAL];
    if (profileLearn(f, 0, p, t, x)) cusumInit(f, CU); // the baseline jumped onto a shift: start over
    const score = pointScore > driftScore ? pointScore : driftScore;
    let reason: Reason = 'normal';
    if (score >= REPORT_MIN) {
      if (pointScore >= driftScore) {
        const zz = fastScore >= slowScore ? z : zSlow;
        reason = excursionReason(zz, x, expected, run >= 3 ? 3 : run <= -3 ? -3 : 0);
        // The usual seasonal swing did not happen: the value sits at the bare level.
        const sAbs = seasonal < 0 ? -seasonal : seasonal;
        const fromLevel = x - (expected - seasonal);
        if (reason !== 'drop_to_zero' && sAbs > zh * scale && (fromLevel < 0 ? -fromLevel : fromLevel) < 0.5 * sAbs && zz * seasonal < 0) reason = 'seasonal_break';
      } else reason = up > down ? 'drift_up' : 'drift_down';
    }
    return verdict(out, score, expected, expected - zh * scale, expected + zh * scale, reason);
  },
  rescale(s, factor) {
    profileScale(s.f, 0, s.p, factor);
  },
});
