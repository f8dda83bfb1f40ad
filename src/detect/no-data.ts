import { INTERVAL_RING, INTERVAL_SCALARS, floatBase, floatsOf, intervalDeltas, intervalGet, intervalInit, intervalLast, intervalObserve } from '../series/index.ts';
import { num } from './config.ts';
import { HILL_90, REPORT_MIN, defineEmbedded, hill, verdict } from './define.ts';
import type { Verdict } from './types.ts';

export interface NoDataConfig {
  /** Silence longer than this many learned sampling intervals is "no data" (score 0.9). */
  readonly factor: number;
  /** Timestamp deltas needed before the interval is trusted. */
  readonly minDeltas: number;
}

// The options first (a set keeps them once), then the interval learner and the running state.
const FACTOR = 0;
const MIN_DELTAS = 1;
const OPTIONS = 2;
const IV = 2; // the interval learner's scalars (INTERVAL_SCALARS slots; its deltas are in the table)
const POINTS = IV + INTERVAL_SCALARS; // points seen
const DECAYED_AT = POINTS + 1; // POINTS when the silence counts were last decayed
/**
 * The float32 table (read through `floatsOf` from `floatBase(s, o + TABLE)`): the learner's
 * INTERVAL_RING timestamp deltas, then BINS decayed counts of past silences by length (bin b
 * holds 2^(b+1) to 2^(b+2) intervals, the last open). Float32 halves them (104 bytes a series
 * less than doubles); counts decayed in float32 keep 7 digits, far more than HABIT needs.
 */
const TABLE = POINTS + 2;
const BINS_AT = INTERVAL_RING; // in the table
const BINS = 10;
const SIZE = TABLE + ((INTERVAL_RING + BINS + 1) >> 1);
/** Silence counts are forgotten over about this many points (e^-1). */
const MEMORY = 3000;
/** A silence is routine once the series had 3 silences at least 1/1.5 as long (2.5: they decay a little meanwhile). */
const HABIT = 2.5;
const BEYOND = 1.5;

/**
 * Heartbeat: a series that goes silent. The sampling interval is learned (median of recent
 * deltas); a silence of `factor` intervals scores 0.9, growing towards 1 beyond, and silence
 * under 1.5 intervals is plain jitter (score 0).
 *
 * Some series routinely go silent: a traffic sensor every night, an agent that sleeps, a
 * batch exporter, a flaky scrape. Each silence is remembered by its length (log2 bins,
 * forgotten over ~3000 points), and a silence is "no data" only while the series has had
 * fewer than 3 silences at least 1/1.5 as long: the first few of a kind alert, a habit does
 * not, and a silence much longer than the habit alerts again. (A "longest recent silence"
 * limit forgotten over 100 points, the previous rule, still alerted at every nightly gap.)
 *
 * Silence can only be judged when something arrives: the next real point (its verdict
 * reports the gap that just ended), a NaN point (a missing sample that a replay or gap-filling
 * source sends), or a clock: `tick(state, now)` judges the silence since the last real point
 * at `now` without learning, for live serving.
 *
 * Its steady state is also compiled, in the default profile's one-call kernel (asm/set.ts):
 * a change here needs the same change there (src/detect/novelty-kernel.test.ts fails otherwise).
 */
export const noData = defineEmbedded<NoDataConfig>({
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
  embed: {
    words: () => SIZE,
    options: OPTIONS,
    initAt(c, s, o) {
      intervalInit(s, o + IV, floatsOf(s), floatBase(s, o + TABLE));
      s[o + FACTOR] = c.factor;
      s[o + MIN_DELTAS] = c.minDeltas;
    },
    updateAt(s, o, t, value, out, g, go) {
      judge(s, o, t, out, g, go);
      if (value === value) {
        s[o + POINTS]++;
        const interval = intervalGet(s, o + IV);
        if (intervalDeltas(s, o + IV) >= g[go + MIN_DELTAS] && interval > 0) {
          const r = (t - intervalLast(s, o + IV)) / interval;
          if (r >= 2) {
            // Remember this silence by its length (after decaying the counts to now).
            const decay = Math.pow(1 - 1 / MEMORY, s[o + POINTS] - s[o + DECAYED_AT]);
            const p = floatsOf(s);
            const bins = floatBase(s, o + TABLE) + BINS_AT;
            for (let b = 0; b < BINS; b++) p[bins + b] *= decay;
            s[o + DECAYED_AT] = s[o + POINTS];
            p[bins + bin(r)] += 1;
          }
        }
        intervalObserve(s, o + IV, t, floatsOf(s), floatBase(s, o + TABLE));
      }
      return out;
    },
    tickAt(s, o, now, out, g, go) {
      return judge(s, o, now, out, g, go);
    },
    checkAt: (_s, _o, n) => n === SIZE,
  },
});

function bin(r: number): number {
  const b = Math.floor(Math.log2(r)) - 1;
  return b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
}

function judge(s: Float64Array, o: number, now: number, out: Verdict, g: Float64Array, go: number): Verdict {
  const interval = intervalGet(s, o + IV);
  if (intervalDeltas(s, o + IV) < g[go + MIN_DELTAS] || !(interval > 0)) return verdict(out, 0, NaN, NaN, NaN, 'learning');
  const r = (now - intervalLast(s, o + IV)) / interval;
  if (!(r > 1.5)) return verdict(out, 0, NaN, NaN, NaN, 'normal');
  // Past silences at least r / 1.5 long (whole bins from the one holding r / 1.5), decayed to now.
  let seen = 0;
  const p = floatsOf(s);
  const bins = floatBase(s, o + TABLE) + BINS_AT;
  for (let b = bin(r / BEYOND); b < BINS; b++) seen += p[bins + b];
  seen *= Math.pow(1 - 1 / MEMORY, s[o + POINTS] - s[o + DECAYED_AT]);
  const score = seen >= HABIT ? 0 : hill(r, g[go + FACTOR] / HILL_90);
  return verdict(out, score, NaN, NaN, NaN, score >= REPORT_MIN ? 'no_data' : 'normal');
}
