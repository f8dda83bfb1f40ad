import { CUSUM_SIZE, PF, PROFILE_SCALARS, cusumDown, cusumInit, cusumPush, cusumUp, doubles, profileDriftInflation, profileInit, profileLearn, profilePredict, profileScale, profileTableSize } from '../series/index.ts';
import { choice, num } from './config.ts';
import { defineDetector, hill, learning, REPORT_MIN, verdict } from './define.ts';

export interface CusumConfig {
  /** Allowance: shifts smaller than this many sigmas are ignored. */
  readonly k: number;
  /**
   * Sum that scores 0.5 (the classic decision interval); 1.73x this scores 0.9. At 6, white
   * noise reaches 0.9 about once in 10^5 points.
   */
  readonly h: number;
  /** What the reference removes before accumulating: the time-of-day and hour-of-week pattern, the daily one, or none. */
  readonly seasonal: 'daily+weekly' | 'daily' | 'none';
  /** The reference adapts over about this many points: slow, so a shift is not absorbed before it is seen. */
  readonly driftPoints: number;
  /** Points needed before judging (with a seasonal reference, also 1 day of data, or 8 with the weekly one). */
  readonly minPoints: number;
}

export interface CusumState {
  /** Reference scalars and options (series/profile.ts), then the two sums, then k and h. */
  f: number[];
  p: Float32Array;
}

const CU = PROFILE_SCALARS;
const K = CU + CUSUM_SIZE;
const H = K + 1;
const MIN_POINTS = K + 2;
const LEARN_MS = K + 3;
const SIZE = K + 4;
const CLIP = 4;

/**
 * Two-sided CUSUM of the standardised residual against a slow, robust reference (a level,
 * plus the usual time-of-day and week pattern unless `seasonal` is 'none'): it accumulates
 * evidence of small sustained shifts that no single point shows, e.g. +5% on a series whose
 * noise is also 5%. Each residual is clipped to 4 sigmas so one spike cannot trip it, and the
 * sums are capped at 3h so that it calms down soon after the shift ends or is learned.
 */
export const cusum = defineDetector<CusumConfig, CusumState>({
  name: 'cusum',
  summary: 'Two-sided CUSUM against a slow seasonal reference: small sustained shifts and slow drifts.',
  kind: 'model',
  defaults: { k: 0.5, h: 6, seasonal: 'daily+weekly', driftPoints: 256, minPoints: 32 },
  parse(f, path, d) {
    return {
      k: num(f, 'k', path, d.k, { min: 0, max: 10 }),
      h: num(f, 'h', path, d.h, { above: 0, max: 1000 }),
      seasonal: choice(f, 'seasonal', path, d.seasonal, ['daily+weekly', 'daily', 'none'] as const),
      driftPoints: num(f, 'driftPoints', path, d.driftPoints, { min: 2, max: 1e6 }),
      minPoints: num(f, 'minPoints', path, d.minPoints, { min: 16, max: 1e6, integer: true }),
    };
  },
  init(c) {
    const opts = {
      dailyBuckets: c.seasonal === 'none' ? 1 : 96,
      weekly: c.seasonal === 'daily+weekly',
      levelPoints: 32,
      driftPoints: c.driftPoints,
      profileDays: 3,
      profileWeeks: 2,
      clip: CLIP,
      relevel: 0,
    };
    const f = doubles(SIZE);
    const p = new Float32Array(profileTableSize(opts));
    profileInit(f, 0, p, opts);
    cusumInit(f, CU);
    f[K] = c.k;
    f[H] = c.h;
    f[MIN_POINTS] = c.minPoints;
    // The reference must have seen every hour it is judged against: a day for the daily
    // profile, a week and a day for the weekly one.
    f[LEARN_MS] = c.seasonal === 'none' ? 0 : c.seasonal === 'daily' ? 86_400_000 : 8 * 86_400_000;
    return { f, p };
  },
  update(s, t, x, out) {
    const f = s.f;
    profilePredict(f, 0, s.p, t);
    const expected = f[PF.SLOW_EXPECTED];
    const scale = f[PF.SLOW_SCALE];
    const judging = f[PF.N] >= f[MIN_POINTS] && t - f[PF.T_START] >= f[LEARN_MS];
    if (x !== x || x === Infinity || x === -Infinity) return judging ? verdict(out, 0, expected, NaN, NaN, 'normal') : learning(out);
    if (!judging) {
      profileLearn(f, 0, s.p, t, x);
      return learning(out);
    }
    const z = (x - expected) / (scale * profileDriftInflation(f, 0));
    const h = f[H];
    cusumPush(f, CU, z > CLIP ? CLIP : z < -CLIP ? -CLIP : z, f[K], 3 * h);
    profileLearn(f, 0, s.p, t, x);
    const up = cusumUp(f, CU);
    const down = cusumDown(f, CU);
    const score = hill(up > down ? up : down, h);
    // The band: how far the mean may sit from the reference before the sum grows.
    const k = f[K];
    return verdict(out, score, expected, expected - k * scale, expected + k * scale, score < REPORT_MIN ? 'normal' : up > down ? 'drift_up' : 'drift_down');
  },
  rescale(s, factor) {
    profileScale(s.f, 0, s.p, factor);
  },
});
