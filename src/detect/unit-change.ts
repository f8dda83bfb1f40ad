import { num } from './config.ts';
import { defineEmbedded, verdict } from './define.ts';

export interface UnitChangeConfig {
  /** Smallest jump in magnitude (ratio) that can be a unit change. */
  readonly minFactor: number;
  /** Consecutive points the new magnitude must hold before it is called a unit change. */
  readonly persist: number;
  /** How close (relative) the ratio must be to a unit factor: 10^k, or 1024^k for bytes. */
  readonly tolerance: number;
  /** Score at confirmation. */
  readonly score: number;
}

// The options first (a set keeps them once), then the running state.
const MIN_FACTOR = 0;
const PERSIST = 1;
const TOL = 2;
const SCORE = 3;
const OPTIONS = 4;
const N = 4;
const REF = 5; // EWMA of |x| while the magnitude is stable
const RUN = 6;
const RUN_RATIO = 7;
const FACTOR_OUT = 8; // factor confirmed on this point, else 1
const LOG_M = 9; // EWMA of log10 |x| while the magnitude is stable
const LOG_S = 10; // EWMA of |log10 |x| - LOG_M|: how stable the magnitude is
const LOG_HI = 11; // highest log10 |x| seen recently (sinks by FORGET decades a point)
const LOG_LO = 12; // lowest
const UNDO = 13; // the factor that undoes the last unit change (0 once used, or before any)
const SIZE = 14;

const WARM = 8;
/** Points seen before a unit change can be confirmed: a series' first hours show its habits. */
const MATURE = 100;
const REF_ALPHA = 1 / 32;
/** A unit change needs a stable magnitude before it: typical deviation of log10 |x| at most this (a factor 2). */
const STABLE = 0.3;
/** ... and a new magnitude, at least this many decades beyond any seen recently. */
const NOVEL = 0.5;
/** Decades a point by which the recent highest/lowest magnitude is forgotten (2 decades in ~2000 points). */
const FORGET = 1e-3;
const LN10 = Math.LN10;
const LN1024 = Math.log(1024);

/** The unit factor `r` is close to (> 1), or 0 when it is none. */
export function unitFactor(r: number, minFactor: number, tolerance: number): number {
  if (r < 1) {
    const f = unitFactor(1 / r, minFactor, tolerance);
    return f === 0 ? 0 : 1 / f;
  }
  const lr = Math.log(r);
  const slack = Math.log(1 + tolerance);
  for (const base of [LN10, LN1024]) {
    const k = Math.round(lr / base);
    if (k >= 1 && Math.abs(lr - k * base) <= slack) {
      const f = Math.exp(k * base);
      const snapped = base === LN10 ? 10 ** k : 1024 ** k;
      if (f >= minFactor * 0.999) return snapped;
    }
  }
  return 0;
}

/**
 * A change of unit: the magnitude jumps by about 10^k (k >= 2 by default) or 1024^k and stays
 * there for `persist` points, e.g. milliseconds reported as seconds, bytes as kilobytes.
 * The first points of the jump are left to the model detectors (they look like a spike or a
 * level shift); at confirmation this rule scores `score` with reason unit_change and, in a
 * detector set, tells the models to rescale what they learned by the factor, so they carry on
 * in the new unit instead of alarming for hours. Jumps that are not near a unit factor are
 * level shifts, not unit changes.
 *
 * Real metrics jump by 10^2-10^3 for other reasons, which must not read as a unit change: a
 * CPU that flaps between 0.1% idle and 90% busy, a series hovering around zero (its |x| spans
 * decades at every crossing), a spike. So the magnitude before the jump must have been
 * stable (log10 |x| within about a factor 2), and the new magnitude must be new: beyond the
 * highest (lowest) magnitude the series showed recently by half a decade. A spike does not
 * hold for `persist` points.
 *
 * Its steady state is also compiled, in the default profile's one-call kernel (asm/set.ts):
 * a change here needs the same change there (src/detect/novelty-kernel.test.ts fails otherwise).
 */
export const unitChange = defineEmbedded<UnitChangeConfig>({
  name: 'unit_change',
  summary: 'The magnitude jumps by about 10^k or 1024^k and stays (a change of unit); in a set, models rescale.',
  kind: 'rule',
  defaults: { minFactor: 100, persist: 4, tolerance: 0.25, score: 0.95 },
  parse(f, path, d) {
    return {
      minFactor: num(f, 'minFactor', path, d.minFactor, { min: 10, max: 1e12 }),
      persist: num(f, 'persist', path, d.persist, { min: 2, max: 1000, integer: true }),
      tolerance: num(f, 'tolerance', path, d.tolerance, { above: 0, max: 1 }),
      score: num(f, 'score', path, d.score, { min: 0, max: 1 }),
    };
  },
  embed: {
    words: () => SIZE,
    options: OPTIONS,
    initAt(c, s, o) {
      s[o + FACTOR_OUT] = 1;
      s[o + MIN_FACTOR] = c.minFactor;
      s[o + PERSIST] = c.persist;
      s[o + TOL] = c.tolerance;
      s[o + SCORE] = c.score;
    },
    updateAt(s, o, _t, value, out, g, go) {
      s[o + FACTOR_OUT] = 1;
      const ax = value < 0 ? -value : value;
      const n = s[o + N];
      if (!(ax > 0) || ax === Infinity) {
        // Missing, zero or infinite: says nothing about the magnitude.
        if (value === 0) s[o + RUN] = 0;
        return verdict(out, 0, NaN, NaN, NaN, n < WARM ? 'learning' : 'normal');
      }
      const lx = Math.log10(ax);
      s[o + N] = n + 1;
      if (n < WARM) {
        s[o + REF] += (ax - s[o + REF]) / (n + 1);
        const e = lx - s[o + LOG_M];
        s[o + LOG_M] += e / (n + 1);
        if (n > 0) s[o + LOG_S] += ((e < 0 ? -e : e) - s[o + LOG_S]) / n;
        s[o + LOG_HI] = n === 0 || lx > s[o + LOG_HI] ? lx : s[o + LOG_HI];
        s[o + LOG_LO] = n === 0 || lx < s[o + LOG_LO] ? lx : s[o + LOG_LO];
        return verdict(out, 0, NaN, NaN, NaN, 'learning');
      }
      const ref = s[o + REF];
      const minF = g[go + MIN_FACTOR];
      const hi = s[o + LOG_HI];
      const lo = s[o + LOG_LO];
      const undo = s[o + UNDO];
      const novel = lx > hi + NOVEL || lx < lo - NOVEL || (undo !== 0 && unitFactor(ax / ref, minF, g[go + TOL]) === undo);
      if ((ax < ref * minF && ax * minF > ref) || n < MATURE || !(s[o + RUN] > 0 || (novel && s[o + LOG_S] <= STABLE))) {
        // An ordinary magnitude (or a jump to one seen before, from an unsettled one, or in the
        // series' first hours): learned.
        s[o + RUN] = 0;
        s[o + REF] = ref + REF_ALPHA * (ax - ref);
        learnMagnitude(s, o, lx);
        return verdict(out, 0, NaN, NaN, NaN, 'normal');
      }
      const r = ax / ref;
      const runRatio = s[o + RUN_RATIO];
      if (s[o + RUN] > 0 && r < 3 * runRatio && 3 * r > runRatio) s[o + RUN]++;
      else if (!novel) {
        s[o + RUN] = 0;
        learnMagnitude(s, o, lx);
        return verdict(out, 0, NaN, NaN, NaN, 'normal');
      } else {
        s[o + RUN] = 1;
        s[o + RUN_RATIO] = r;
      }
      if (s[o + RUN] < g[go + PERSIST]) return verdict(out, 0, NaN, NaN, NaN, 'normal');
      s[o + RUN] = 0;
      const factor = unitFactor(r, minF, g[go + TOL]);
      if (factor === 0) {
        // A big jump to no unit factor: a level shift, which the models judge. Adopt the new
        // magnitude so it is not re-examined at every point.
        s[o + REF] = ax;
        s[o + LOG_M] = lx;
        learnMagnitude(s, o, lx);
        return verdict(out, 0, NaN, NaN, NaN, 'normal');
      }
      s[o + REF] = ref * factor;
      s[o + LOG_M] = lx;
      // A change straight back is the one jump to a magnitude already seen that is accepted, once.
      s[o + UNDO] = s[o + UNDO] === 0 ? 1 / factor : 0;
      learnMagnitude(s, o, lx);
      s[o + FACTOR_OUT] = factor;
      const expected = value < 0 ? -ref : ref;
      return verdict(out, g[go + SCORE], expected, NaN, NaN, 'unit_change');
    },
    conditionAt(s, o, c) {
      if (s[o + FACTOR_OUT] !== 1) c.factor *= s[o + FACTOR_OUT];
    },
    checkAt: (_s, _o, n) => n === SIZE,
  },
});

/** Follows the magnitude: its stable level and spread (over ~32 points) and its recent extremes. */
function learnMagnitude(s: Float64Array, o: number, lx: number): void {
  const e = lx - s[o + LOG_M];
  s[o + LOG_M] += REF_ALPHA * e;
  s[o + LOG_S] += REF_ALPHA * ((e < 0 ? -e : e) - s[o + LOG_S]);
  s[o + LOG_HI] = lx > s[o + LOG_HI] - FORGET ? lx : s[o + LOG_HI] - FORGET;
  s[o + LOG_LO] = lx < s[o + LOG_LO] + FORGET ? lx : s[o + LOG_LO] + FORGET;
}
