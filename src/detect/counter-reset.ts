import { choice, num } from './config.ts';
import { defineEmbedded, verdict } from './define.ts';

export interface CounterResetConfig {
  /** 'auto' learns whether the series is a monotonic counter; 'counter' assumes it is. */
  readonly mode: 'auto' | 'counter';
  /** Points watched (auto mode) before deciding counter or gauge. */
  readonly learnPoints: number;
  /** Score of a reset: an event worth reporting, not by itself an outage. */
  readonly score: number;
}

// State slots: the options first (a set keeps them once), then the running state.
const LEARN_POINTS = 0;
const SCORE = 1;
const OPTIONS = 2;
const MODE = 2; // 0 learning, 1 gauge, 2 counter
const N = 3;
const LAST_T = 4;
const LAST_X = 5;
const UPS = 6; // increases seen while learning
const SHALLOW = 7; // decreases that did not look like a restart
const FEED = 8; // what the set's models see for this point
const RELEARN = 9; // 1 on the point where the counter/gauge decision was reversed
const RESETS = 10; // restarts seen while learning
const LAST_RESET = 11; // point count at the last reset (counter mode)
const HABIT_N = 12; // restarts seen, decayed over HABIT_MS to HABIT_T
const HABIT_T = 13;
const SIZE = 14;
/** Restarts are forgotten over a week (e^-1)... */
const HABIT_MS = 7 * 86_400_000;
/** ... and one is routine once they add up to 2.5: a nightly restart from the fifth night on, one every other day from the eighth; a weekly one never. */
const HABIT = 2.5;

const LEARNING = 0;
const GAUGE = 1;
const COUNTER = 2;

/**
 * A monotonic counter that goes down was reset (a process restart): reason counter_reset,
 * score `score` (0.9 by default: a restart is an event the operator is told about, with its
 * reason, like any other anomaly; a deploy's restarts are then matched to the change event).
 * Restarts that are routine are not reported: a counter reset every night, a file rotated
 * daily (see HABIT); the first few are, and one after a quiet week is again.
 *
 * In a detector set this rule also conditions what the model detectors see: for a counter
 * they get its per-second rate, and the reset point itself is skipped (the increase before
 * the restart is unknown; Prometheus' rate() shows a dip there), so a restart is no spike,
 * dip or level shift in the rate. In auto mode the models wait (see NaN) during the `learnPoints` points it takes to
 * tell a counter (never down by a little, at most one restart, mostly up, never negative)
 * from a gauge, and restart if a "counter" later turns out to go down by small steps three
 * times (a small step down is no restart, and is not reported), or to "restart" again
 * within `learnPoints` points of the last restart (it was a gauge: a small count such as
 * errors per interval drops to 0 all the time, and each drop looks like a restart).
 *
 * Its steady state is also compiled, in the default profile's one-call kernel (asm/set.ts):
 * a change here needs the same change there (src/detect/novelty-kernel.test.ts fails otherwise).
 */
export const counterReset = defineEmbedded<CounterResetConfig>({
  name: 'counter_reset',
  summary: 'A monotonic counter that goes down was reset; in a set, models see the counter as a per-second rate.',
  kind: 'rule',
  defaults: { mode: 'auto', learnPoints: 32, score: 0.9 },
  parse(f, path, d) {
    return {
      mode: choice(f, 'mode', path, d.mode, ['auto', 'counter'] as const),
      learnPoints: num(f, 'learnPoints', path, d.learnPoints, { min: 4, max: 100_000, integer: true }),
      score: num(f, 'score', path, d.score, { min: 0, max: 1 }),
    };
  },
  embed: {
    words: () => SIZE,
    options: OPTIONS,
    initAt(c, s, o) {
      s[o + MODE] = c.mode === 'counter' ? COUNTER : LEARNING;
      s[o + LAST_T] = NaN;
      s[o + LAST_X] = NaN;
      s[o + FEED] = NaN;
      s[o + LEARN_POINTS] = c.learnPoints;
      s[o + SCORE] = c.score;
      s[o + LAST_RESET] = -Infinity;
      s[o + HABIT_T] = NaN;
    },
    updateAt(s, o, t, value, out, g, go) {
      s[o + RELEARN] = 0;
      const mode = s[o + MODE];
      if (value !== value) {
        s[o + FEED] = NaN;
        return verdict(out, 0, NaN, NaN, NaN, mode === LEARNING ? 'learning' : 'normal');
      }
      const lastX = s[o + LAST_X];
      const dt = (t - s[o + LAST_T]) / 1000;
      s[o + LAST_T] = t;
      s[o + LAST_X] = value;
      const n = s[o + N] + 1;
      s[o + N] = n;
      if (mode === GAUGE) {
        s[o + FEED] = value;
        return verdict(out, 0, NaN, NaN, NaN, 'normal');
      }
      if (lastX !== lastX) {
        s[o + FEED] = NaN;
        return verdict(out, 0, NaN, NaN, NaN, mode === LEARNING ? 'learning' : 'normal');
      }
      const d = value - lastX;
      // A restart starts again near 0; a gauge wiggles down by a little.
      const restart = d < 0 && value >= 0 && value <= 0.5 * lastX;
      if (mode === LEARNING) {
        if (d > 0) s[o + UPS]++;
        else if (d < 0 && !restart) s[o + SHALLOW]++;
        else if (restart) s[o + RESETS]++;
        if (value < 0) s[o + SHALLOW] += g[go + LEARN_POINTS]; // counters are never negative
        s[o + FEED] = NaN;
        if (n < g[go + LEARN_POINTS]) return verdict(out, 0, NaN, NaN, NaN, 'learning');
        const counter = s[o + SHALLOW] === 0 && s[o + RESETS] <= 1 && s[o + UPS] >= g[go + LEARN_POINTS] / 4;
        s[o + MODE] = counter ? COUNTER : GAUGE;
        s[o + SHALLOW] = 0;
        s[o + FEED] = counter ? (dt > 0 ? (d >= 0 ? d : value) / dt : NaN) : value;
        return verdict(out, 0, NaN, NaN, NaN, 'normal');
      }
      // Counter mode.
      if (d >= 0) {
        s[o + FEED] = dt > 0 ? d / dt : NaN;
        return verdict(out, 0, NaN, lastX, NaN, 'normal');
      }
      // The increase before the restart is lost, so any rate here would be biased low (the
      // dip Prometheus' rate() shows): the models skip this point.
      s[o + FEED] = NaN;
      const again = restart && n - s[o + LAST_RESET] < g[go + LEARN_POINTS];
      if (restart) s[o + LAST_RESET] = n;
      if (again || (!restart && ++s[o + SHALLOW] >= 3)) {
        // Three small drops, or restarts too close together: not a counter after all. Models
        // restart on the raw values.
        s[o + MODE] = GAUGE;
        s[o + FEED] = value;
        s[o + RELEARN] = 1;
        return verdict(out, 0, NaN, NaN, NaN, 'normal');
      }
      // A small drop is no restart: not reported (three of them make the series a gauge).
      if (!restart) return verdict(out, 0, NaN, NaN, NaN, 'normal');
      // Restarts that have become routine (a counter reset every night, a log rotated daily) are
      // not reported: the first few are, and one after a quiet week is again.
      const since = t - s[o + HABIT_T];
      const seen = since > 0 ? s[o + HABIT_N] * Math.exp(-since / HABIT_MS) : s[o + HABIT_N];
      s[o + HABIT_N] = seen + 1;
      s[o + HABIT_T] = t;
      if (seen >= HABIT) return verdict(out, 0, NaN, lastX, NaN, 'normal');
      return verdict(out, g[go + SCORE], lastX, lastX, NaN, 'counter_reset');
    },
    conditionAt(s, o, c) {
      c.value = s[o + FEED];
      if (s[o + RELEARN] === 1) c.relearn = true;
    },
    checkAt: (_s, _o, n) => n === SIZE,
  },
});
