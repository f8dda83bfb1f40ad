import { EWMA_SIZE, doubles, ewmaAlpha, ewmaCount, ewmaInit, ewmaMean, ewmaPush, ewmaScale, ewmaVariance } from '../series/index.ts';
import { num } from './config.ts';
import { REPORT_MIN, defineDetector, floorScale, excursionReason, hill, learning, nextRun, verdict } from './define.ts';

export interface EwmaConfig {
  /** The mean and variance average over about this many points (alpha = 2 / (span + 1)). */
  readonly span: number;
  /** Points needed before judging. */
  readonly minPoints: number;
  /** |z| that scores 0.5; 1.73x this scores 0.9. */
  readonly zHalf: number;
  /** Values are clipped to this many sigmas before they are learned, so a spike barely moves the baseline. */
  readonly clip: number;
}

const ALPHA = 0;
const MIN_POINTS = 1;
const Z_HALF = 2;
const CLIP = 3;
const QUANTUM = 4;
const LAST_X = 5;
const RUN = 6;
const EW = 7; // EWMA mean/variance/count

/**
 * EWMA control chart with exponentially weighted variance: each point's z-score against the
 * forecast (the EWMA mean before the point) in units of the EW standard deviation. Cheap
 * (O(1), a few numbers), quick to adapt; good for spikes and level shifts on series whose
 * normal behaviour changes slowly.
 */
export const ewma = defineDetector<EwmaConfig, number[]>({
  name: 'ewma',
  summary: 'EWMA control chart: z-score of each point against an exponentially weighted mean and variance.',
  kind: 'model',
  defaults: { span: 30, minPoints: 16, zHalf: 3.5, clip: 4 },
  parse(f, path, d) {
    return {
      span: num(f, 'span', path, d.span, { min: 2, max: 100_000 }),
      minPoints: num(f, 'minPoints', path, d.minPoints, { min: 2, max: 100_000, integer: true }),
      zHalf: num(f, 'zHalf', path, d.zHalf, { above: 0, max: 100 }),
      clip: num(f, 'clip', path, d.clip, { min: 1, max: 100 }),
    };
  },
  init(c) {
    const s = doubles(EW + EWMA_SIZE);
    s[ALPHA] = ewmaAlpha(c.span);
    s[MIN_POINTS] = c.minPoints;
    s[Z_HALF] = c.zHalf;
    s[CLIP] = c.clip;
    s[QUANTUM] = Infinity;
    s[LAST_X] = NaN;
    ewmaInit(s, EW);
    return s;
  },
  update(s, _t, x, out) {
    const n = ewmaCount(s, EW);
    if (x !== x || x === Infinity || x === -Infinity) {
      return n < s[MIN_POINTS] ? learning(out) : verdict(out, 0, ewmaMean(s, EW), NaN, NaN, 'normal');
    }
    if (n < s[MIN_POINTS]) {
      learn(s, x, Infinity);
      return learning(out);
    }
    const m = ewmaMean(s, EW);
    const scale = floorScale(Math.sqrt(ewmaVariance(s, EW)), s[QUANTUM], m);
    const zh = s[Z_HALF];
    const z = (x - m) / scale;
    const score = hill(z < 0 ? -z : z, zh);
    const run = s[RUN];
    s[RUN] = nextRun(run, z, zh);
    learn(s, x, s[CLIP] * scale);
    const reason = score < REPORT_MIN ? 'normal' : excursionReason(z, x, m, run);
    return verdict(out, score, m, m - zh * scale, m + zh * scale, reason);
  },
  rescale(s, factor) {
    ewmaScale(s, EW, factor);
    s[QUANTUM] *= factor;
    s[LAST_X] *= factor;
  },
});

function learn(s: number[], x: number, lim: number): void {
  const d = x - s[LAST_X];
  const ad = d < 0 ? -d : d;
  if (ad > 0 && ad < s[QUANTUM]) s[QUANTUM] = ad;
  s[LAST_X] = x;
  const m = ewmaCount(s, EW) === 0 ? x : ewmaMean(s, EW);
  const xc = x > m + lim ? m + lim : x < m - lim ? m - lim : x;
  ewmaPush(s, EW, xc, s[ALPHA]);
}
