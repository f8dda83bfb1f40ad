import { INTERVAL_RING, INTERVAL_SCALARS, floatBase, floatsOf, intervalDeltas, intervalGet, intervalInit, intervalLast, intervalObserve } from '../series/index.ts';
import { num } from './config.ts';
import { HILL_90, REPORT_MIN, defineEmbedded, hill, verdict } from './define.ts';
import type { Verdict } from './types.ts';

export interface NoDataConfig {
  /** Silence longer than this many learned sampling intervals is "no data" (score 0.9). */
  readonly factor: number;
  /** Timestamp deltas needed before the interval is trusted. */
  readonly minDeltas: number;
  /**
   * A value repeated exactly for this many minutes (and at least STUCK_POINTS points) on a
   * series that seldom repeats one is a stuck exporter (score 0.9); 0 turns this off.
   */
  readonly stuckMinutes: number;
}

// The options first (a set keeps them once), then the interval learner and the running state.
const FACTOR = 0;
const MIN_DELTAS = 1;
const STUCK_MIN = 2;
const OPTIONS = 3;
const IV = 3; // the interval learner's scalars (INTERVAL_SCALARS slots; its deltas are in the table)
const POINTS = IV + INTERVAL_SCALARS; // points seen
const DECAYED_AT = POINTS + 1; // POINTS when the silence counts were last decayed
const LAST_V = POINTS + 2; // the last finite value
const RUN = POINTS + 3; // points in a row with exactly that value (1: it alone)
const REPEATS = POINTS + 4; // the share of points that repeated the one before (mean over MEMORY points)
const REPEATS_BEFORE = POINTS + 5; // REPEATS when the current run began
const STUCK_NOW = POINTS + 6; // 1: the last point was judged stuck (the models skip it)
const DOWNS = POINTS + 7; // the share of points that went below the one before (of those that moved)
/**
 * The float32 table (read through `floatsOf` from `floatBase(s, o + TABLE)`): the learner's
 * INTERVAL_RING timestamp deltas, then BINS decayed counts of past silences by length (bin b
 * holds 2^(b+1) to 2^(b+2) intervals, the last open). Float32 halves them (104 bytes a series
 * less than doubles); counts decayed in float32 keep 7 digits, far more than HABIT needs.
 */
const TABLE = POINTS + 8;
const BINS_AT = INTERVAL_RING; // in the table
const BINS = 10;
const SIZE = TABLE + ((INTERVAL_RING + BINS + 1) >> 1);
/** Silence counts are forgotten over about this many points (e^-1). */
const MEMORY = 3000;
/** A silence is routine once the series had 3 silences at least 1/1.5 as long (2.5: they decay a little meanwhile). */
const HABIT = 2.5;
const BEYOND = 1.5;
/** A stuck value needs at least this many points in a row ... */
const STUCK_POINTS = 6;
/** ... on a series whose points repeated the one before at most this often ... */
const STUCK_REPEATS = 0.01;
/** ... that moved down at least this share of the times it moved (and up as often) ... */
const STUCK_DOWNS = 0.1;
/** ... over at least this many points. */
const STUCK_WARM = 500;

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
 * A value repeated exactly for `stuckMinutes` is the other way a series stops sending news (see
 * `stuck`).
 *
 * Its steady state is also compiled, in the default profile's one-call kernel (asm/set.ts):
 * a change here needs the same change there (src/detect/novelty-kernel.test.ts fails otherwise).
 */
export const noData = defineEmbedded<NoDataConfig>({
  name: 'no_data',
  summary: 'Silence longer than `factor` learned sampling intervals (judged on the next point, a NaN point, or a clock tick), and a value stuck for `stuckMinutes` on a series that seldom repeats one.',
  kind: 'rule',
  defaults: { factor: 5, minDeltas: 8, stuckMinutes: 10 },
  parse(f, path, d) {
    return {
      factor: num(f, 'factor', path, d.factor, { min: 2, max: 1000 }),
      minDeltas: num(f, 'minDeltas', path, d.minDeltas, { min: 1, max: 10_000, integer: true }),
      stuckMinutes: num(f, 'stuckMinutes', path, d.stuckMinutes, { min: 0, max: 100_000 }),
    };
  },
  embed: {
    words: () => SIZE,
    options: OPTIONS,
    initAt(c, s, o) {
      intervalInit(s, o + IV, floatsOf(s), floatBase(s, o + TABLE));
      s[o + FACTOR] = c.factor;
      s[o + MIN_DELTAS] = c.minDeltas;
      s[o + STUCK_MIN] = c.stuckMinutes;
      s[o + LAST_V] = NaN;
      s[o + RUN] = 0;
      s[o + REPEATS] = 0;
      s[o + REPEATS_BEFORE] = 1; // a series that has not yet changed is not judged
      s[o + STUCK_NOW] = 0;
      s[o + DOWNS] = 0;
    },
    updateAt(s, o, t, value, out, g, go) {
      judge(s, o, t, out, g, go);
      if (value === value) {
        stuck(s, o, value, out, g, go);
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
    conditionAt(s, o, c) {
      // A stuck value is no measurement: the models neither judge nor learn it (nor, when it
      // moves again, report the return of ordinary noise as news).
      if (s[o + STUCK_NOW] === 1) c.value = NaN;
    },
    ongoingAt: (s, o) => s[o + STUCK_NOW] === 1,
    tickAt(s, o, now, out, g, go) {
      return judge(s, o, now, out, g, go);
    },
    checkAt: (_s, _o, n) => n === SIZE,
  },
});

/**
 * A stuck exporter: the same value, exactly, point after point (a scrape of a cache that stopped
 * updating, an agent whose collector hung). Judged only on series that seldom repeat a value
 * (at most STUCK_REPEATS of their points, before this run began, over at least STUCK_WARM
 * points): counts, flags, cached and idle gauges repeat theirs all the time and are never
 * judged. And only on series that move both ways (down at least STUCK_DOWNS of the times they
 * move, and up as often): where a counter or a volume's used bytes stop moving, nothing
 * happened (no requests, no writes at night), which is no broken exporter; novelty judges a
 * counter's rate at 0. A run of `stuckMinutes` (at least STUCK_POINTS points) is reported once,
 * at 0.9; while it goes on its points score 0, say so (`ongoingAt`: an open alert stays open)
 * and are hidden from the models (see conditionAt). 0 is left to novelty's outage rule (a
 * series at rest is at 0). A run counts in the repeat share like any other: once a series has
 * made a habit of freezing (a nightly pause), it is no longer judged.
 * The set's kernel (asm/set.ts) keeps the same running state and leaves points that could be
 * stuck to this code.
 */
function stuck(s: Float64Array, o: number, value: number, out: Verdict, g: Float64Array, go: number): void {
  const last = s[o + LAST_V];
  const repeat = value === last;
  const run = repeat ? s[o + RUN] + 1 : 1;
  const n = s[o + POINTS];
  const weight = n + 1 < MEMORY ? n + 1 : MEMORY;
  if (!repeat && last === last) {
    s[o + REPEATS_BEFORE] = s[o + REPEATS];
    s[o + DOWNS] += ((value < last ? 1 : 0) - s[o + DOWNS]) / weight;
  }
  s[o + REPEATS] += ((repeat ? 1 : 0) - s[o + REPEATS]) / weight;
  s[o + LAST_V] = value;
  s[o + RUN] = run;
  const was = s[o + STUCK_NOW];
  s[o + STUCK_NOW] = 0;
  const minutes = g[go + STUCK_MIN];
  const downs = s[o + DOWNS];
  if (!(repeat && value !== 0 && minutes > 0 && n >= STUCK_WARM && s[o + REPEATS_BEFORE] <= STUCK_REPEATS && run >= STUCK_POINTS)) return;
  if (!(downs >= STUCK_DOWNS && downs <= 1 - STUCK_DOWNS)) return;
  const interval = intervalGet(s, o + IV);
  if (!(interval > 0)) return;
  const need = Math.max(STUCK_POINTS, Math.ceil((minutes * 60_000) / interval));
  if (run < need) return;
  s[o + STUCK_NOW] = 1;
  if (was === 1) return; // reported at its first stuck point; `ongoingAt` says it goes on
  const score = hill(run, need / HILL_90);
  if (score > out.score) verdict(out, score, value, NaN, NaN, 'stuck');
}

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
