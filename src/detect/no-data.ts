import { INTERVAL_SIZE, doubles, intervalDeltas, intervalGet, intervalInit, intervalLast, intervalObserve } from '../series/index.ts';
import { num } from './config.ts';
import { HILL_90, REPORT_MIN, defineDetector, hill, verdict } from './define.ts';
import type { Verdict } from './types.ts';

export interface NoDataConfig {
  /** Silence longer than this many learned sampling intervals is "no data" (score 0.9). */
  readonly factor: number;
  /** Timestamp deltas needed before the interval is trusted. */
  readonly minDeltas: number;
}

const FACTOR = INTERVAL_SIZE;
const MIN_DELTAS = INTERVAL_SIZE + 1;
/** The longest recent silence, in intervals, decaying towards 1 (see `usual`). */
const LONGEST = INTERVAL_SIZE + 2;
/** Per-point decay of LONGEST's excess over 1: forgotten over about 100 points. */
const FORGET = 1 - 1 / 100;
/** A silence must also be this much longer than the longest recent one. */
const BEYOND = 1.5;

/**
 * Heartbeat: a series that goes silent. The sampling interval is learned (median of recent
 * deltas); a silence of `factor` intervals scores 0.9, growing towards 1 beyond, and silence
 * under 1.5 intervals is plain jitter (score 0).
 *
 * The limit is also `BEYOND` (1.5) times the longest silence the series had recently, so a
 * series whose samples routinely come with gaps (traffic sensors, batch exporters) is judged
 * against its own habits: "no data" means "silent for longer than this series ever is", not
 * an alert at each of its usual gaps. The longest silence is forgotten over ~100 points, so a
 * series that is silent now and then (not habitually) still alerts each time.
 *
 * Silence can only be judged when something arrives: the next real point (its verdict
 * reports the gap that just ended), a NaN point (a missing sample that a replay or gap-filling
 * source sends), or a clock: `tick(state, now)` judges the silence since the last real point
 * at `now` without learning, for live serving.
 */
export const noData = defineDetector<NoDataConfig, number[]>({
  name: 'no_data',
  summary: 'Silence longer than `factor` learned sampling intervals (judged on the next point, a NaN point, or a clock tick).',
  kind: 'rule',
  defaults: { factor: 5, minDeltas: 8 },
  parse(f, path, d) {
    return {
      factor: num(f, 'factor', path, d.factor, { min: 2, max: 1000 }),
      minDeltas: num(f, 'minDeltas', path, d.minDeltas, { min: 1, max: 10_000, integer: true }),
    };
  },
  init(c) {
    const s = doubles(INTERVAL_SIZE + 3);
    s[LONGEST] = 1;
    intervalInit(s, 0);
    s[FACTOR] = c.factor;
    s[MIN_DELTAS] = c.minDeltas;
    return s;
  },
  update(s, t, value, out) {
    judge(s, t, out);
    if (value === value) {
      const interval = intervalGet(s, 0);
      if (intervalDeltas(s, 0) >= s[MIN_DELTAS] && interval > 0) {
        const r = (t - intervalLast(s, 0)) / interval;
        const g = 1 + (s[LONGEST] - 1) * FORGET;
        s[LONGEST] = r > g ? r : g;
      }
      intervalObserve(s, 0, t);
    }
    return out;
  },
  tick(s, now, out) {
    return judge(s, now, out);
  },
});

function judge(s: number[], now: number, out: Verdict): Verdict {
  const interval = intervalGet(s, 0);
  if (intervalDeltas(s, 0) < s[MIN_DELTAS] || !(interval > 0)) return verdict(out, 0, NaN, NaN, NaN, 'learning');
  const r = (now - intervalLast(s, 0)) / interval;
  const usual = BEYOND * s[LONGEST];
  const limit = s[FACTOR] > usual ? s[FACTOR] : usual;
  const score = r > 1.5 ? hill(r, limit / HILL_90) : 0;
  return verdict(out, score, NaN, NaN, NaN, score >= REPORT_MIN ? 'no_data' : 'normal');
}
