import { doubles, rollingCount, rollingInit, rollingMad, rollingMedian, rollingPush, rollingScale, rollingSize } from '../series/index.ts';
import { TidemarkError } from '../errors.ts';
import { num } from './config.ts';
import { REPORT_MIN, defineDetector, floorScale, excursionReason, hill, learning, nextRun, verdict } from './define.ts';

export interface RobustZConfig {
  /** Points in the rolling window (the baseline is their median). */
  readonly window: number;
  /** Points needed before judging. */
  readonly minPoints: number;
  /** |z| that scores 0.5 ("unusual"); 1.73x this scores 0.9. z is in robust sigmas (1.4826 MAD). */
  readonly zHalf: number;
}

const MIN_POINTS = 0;
const Z_HALF = 1;
const QUANTUM = 2; // smallest non-zero step between consecutive values
const LAST_X = 3;
const RUN = 4;
const WIN = 5; // the rolling window starts here

/**
 * Robust z-score against the rolling median and MAD of the last `window` points: the point
 * detector for spikes, dips and drops to zero on any series. The point is judged against the
 * window before it joins it. The scale is 1.4826 MAD, floored at the data's resolution (the
 * smallest step seen, so integer counts are not judged in fractions of one) and at 1e-6 of
 * the level (a flat line still has a scale). A level shift scores high until the median
 * crosses to the new level, after about window/2 points.
 */
export const robustZ = defineDetector<RobustZConfig, number[]>({
  name: 'robust_z',
  summary: 'Robust z-score of each point against the rolling median and MAD of the last `window` points.',
  kind: 'model',
  defaults: { window: 48, minPoints: 16, zHalf: 3.5 },
  parse(f, path, d) {
    const window = num(f, 'window', path, d.window, { min: 4, max: 1024, integer: true });
    const minPoints = num(f, 'minPoints', path, d.minPoints, { min: 3, max: 1024, integer: true });
    if (minPoints > window) throw new TidemarkError('TM_ERR_CONFIG', `must be at most window (${window}), got ${minPoints}`, `${path}.minPoints`);
    return { window, minPoints, zHalf: num(f, 'zHalf', path, d.zHalf, { above: 0, max: 100 }) };
  },
  init(c) {
    const s = doubles(WIN + rollingSize(c.window));
    s[MIN_POINTS] = c.minPoints;
    s[Z_HALF] = c.zHalf;
    s[QUANTUM] = Infinity;
    s[LAST_X] = NaN;
    rollingInit(s, WIN, c.window);
    return s;
  },
  update(s, _t, x, out) {
    const n = rollingCount(s, WIN);
    if (x !== x || x === Infinity || x === -Infinity) {
      if (n < s[MIN_POINTS]) return learning(out);
      const m = rollingMedian(s, WIN);
      return verdict(out, 0, m, NaN, NaN, 'normal');
    }
    if (n < s[MIN_POINTS]) {
      learn(s, x);
      return learning(out);
    }
    const m = rollingMedian(s, WIN);
    const scale = floorScale(1.4826 * rollingMad(s, WIN, m), s[QUANTUM], m);
    const zh = s[Z_HALF];
    const z = (x - m) / scale;
    const score = hill(z < 0 ? -z : z, zh);
    const run = s[RUN];
    s[RUN] = nextRun(run, z, zh);
    learn(s, x);
    const reason = score < REPORT_MIN ? 'normal' : excursionReason(z, x, m, run);
    return verdict(out, score, m, m - zh * scale, m + zh * scale, reason);
  },
  rescale(s, factor) {
    rollingScale(s, WIN, factor);
    s[QUANTUM] *= factor;
    s[LAST_X] *= factor;
  },
});

function learn(s: number[], x: number): void {
  const d = x - s[LAST_X];
  const ad = d < 0 ? -d : d;
  if (ad > 0 && ad < s[QUANTUM]) s[QUANTUM] = ad;
  s[LAST_X] = x;
  rollingPush(s, WIN, x);
}
