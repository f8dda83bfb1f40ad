import { num } from './config.ts';
import { defineEmbedded, verdict } from './define.ts';
import type { Reason } from './types.ts';

export interface NewLevelConfig {
  /** Points whose range (min to max) sets the width of a level; the detector learns until then. */
  readonly learnPoints: number;
  /** And at least this many hours (a week sees the weekly cycle's range). */
  readonly learnHours: number;
  /** Levels per learned range: a level is (max - min) / levels wide. */
  readonly levels: number;
  /** Points after a new level during which further new levels are not reported (one event, one report). */
  readonly rest: number;
}

export const NEW_LEVEL_DEFAULTS: NewLevelConfig = {
  learnPoints: 256,
  learnHours: 168,
  levels: 7,
  rest: 120,
};

// The options first (a set keeps them once), then the running state.
const LEARN = 0;
const LEARN_MS = 1;
const LEVELS = 2;
const REST = 3;
const OPTIONS = 4;
const LO = 4; // min of the learned points
const HI = 5; // max of the learned points
const N = 6; // points learned (stops at learnPoints)
const T0 = 7; // time of the first point
const SINCE = 8; // points since the last new level
const SEEN = 9; // levels visited, a 32-bit mask: bit BELOW + k for level k (level 0 starts at LO); 0 while learning
const SIZE = 10;
/** Levels kept below the learned minimum; the mask's other bits are the learned range and above it. */
const BELOW = 8;
const TOP = 31;
/** The score of a report: clearly anomalous (see define.ts's calibration). */
const SCORE = 0.9;

/**
 * New level: the value reaches a coarse level this series has never been near. The first
 * `learnPoints` points, and at least `learnHours` (a week: the weekly cycle's range), set the
 * level width, 1/`levels` of their range (min to max), and the levels visited. After that, a
 * value in a level that is neither visited nor next to a visited one (so at least one whole
 * level beyond anything seen) scores 0.9 once; the level is then visited. A level next to a
 * visited one is learned silently: a series that creeps up level by level (growth, a slow
 * drift) extends its range without reports, one that jumps two levels past it does not. Up
 * to 8 levels below the learned range and 16 above it are told apart; beyond, values count
 * in the outermost level. After any new level, further new levels within `rest` points are
 * learned without a report: an event climbing through several levels is reported once.
 *
 * What it sees that the calibrated views cannot: novelty judges a point against a window of
 * 128 points and its own history of deviations, so a deviation as large as earlier ones is
 * not news, nor is a level reached over a few hours. A level the series has never been near
 * is news however it was reached. This is the evidence of Numenta NAB's contextual detector
 * (CAD OSE) reduced to its order-0 part (which coarse value levels occur), without the file's
 * min/max that NAB hands its detectors: levels come from the points seen, never from the
 * whole file. 6 words a series in a set's region (its 4 options are kept once per set); a visited level is never forgotten.
 *
 * Its steady state is also compiled, in the default profile's one-call kernel (asm/set.ts):
 * a change here needs the same change there (src/detect/novelty-kernel.test.ts fails otherwise).
 */
export const newLevel = defineEmbedded<NewLevelConfig>({
  name: 'new_level',
  summary: 'A value at a coarse level (1/`levels` of the first `learnPoints` points\u2019 range) the series has never visited; reported once per `rest` points.',
  kind: 'model',
  defaults: NEW_LEVEL_DEFAULTS,
  parse(f, path, d) {
    return {
      learnPoints: num(f, 'learnPoints', path, d.learnPoints, { min: 2, max: 1e7, integer: true }),
      learnHours: num(f, 'learnHours', path, d.learnHours, { min: 0, max: 1e5 }),
      levels: num(f, 'levels', path, d.levels, { min: 1, max: 16, integer: true }),
      rest: num(f, 'rest', path, d.rest, { min: 0, max: 1e7, integer: true }),
    };
  },
  embed: {
    words: () => SIZE,
    options: OPTIONS,
    initAt(c, s, o) {
      s[o + LEARN] = c.learnPoints;
      s[o + LEVELS] = c.levels;
      s[o + REST] = c.rest;
      s[o + LEARN_MS] = c.learnHours * 3_600_000;
      s[o + LO] = Infinity;
      s[o + HI] = -Infinity;
      s[o + T0] = NaN;
      s[o + SINCE] = Infinity;
    },
    updateAt(s, o, t, x, out, g, go) {
      const lo = s[o + LO];
      const hi = s[o + HI];
      const seen = s[o + SEEN]; // 0 while learning: the learned mask is never empty
      if (x !== x || x === Infinity || x === -Infinity) {
        if (seen === 0) return verdict(out, 0, NaN, NaN, NaN, 'learning');
        return verdict(out, 0, (lo + hi) / 2, lo, hi, 'normal');
      }
      if (seen === 0) {
        if (x < lo) s[o + LO] = x;
        if (x > hi) s[o + HI] = x;
        if (s[o + T0] !== s[o + T0]) s[o + T0] = t;
        const learn = g[go + LEARN];
        if (s[o + N] < learn) s[o + N]++;
        if (s[o + N] >= learn && t - s[o + T0] >= g[go + LEARN_MS]) {
          // The learned range: levels 0 to `levels` (the maximum opens the last one).
          let mask = 0;
          const levels = g[go + LEVELS];
          for (let k = 0; k <= levels; k++) mask += 2 ** (BELOW + k);
          s[o + SEEN] = mask;
        }
        return verdict(out, 0, NaN, NaN, NaN, 'learning');
      }
      const q = levelOf(lo, hi, g[go + LEVELS], x);
      const since = s[o + SINCE] + 1;
      let score = 0;
      let reason: Reason = 'normal';
      if (!visited(seen, q)) {
        s[o + SEEN] = seen + 2 ** q;
        // Next to a visited level: the series crept there (growth, a slow drift), learned silently.
        if (since > g[go + REST] && !(q > 0 && visited(seen, q - 1)) && !(q < TOP && visited(seen, q + 1))) {
          score = SCORE;
          reason = x === 0 && lo > 0 ? 'drop_to_zero' : q < BELOW ? 'dip' : 'spike';
        }
        s[o + SINCE] = 0;
      } else s[o + SINCE] = since;
      return verdict(out, score, (lo + hi) / 2, lo, hi, reason);
    },
    rescaleAt(s, o, factor) {
      s[o + LO] *= factor;
      s[o + HI] *= factor;
    },
    checkAt: (_s, _o, n) => n === SIZE,
  },
});

/** The level of `x`: BELOW + floor((x - min) / width), within 0..TOP; a level is 1/`levels` of the learned range. */
function levelOf(lo: number, hi: number, levels: number, x: number): number {
  const al = lo < 0 ? -lo : lo;
  const w = (hi - lo) / levels;
  // A flat learned series: any visible change is a new level.
  const floor = 1e-9 * (al > 1 ? al : 1);
  const k = Math.floor((x - lo) / (w > floor ? w : floor)) + BELOW;
  return k < 0 ? 0 : k > TOP ? TOP : k;
}

/**
 * Whether level `q` is in the visited mask. The mask is a whole number below 2^32 (bits 0 to
 * TOP), so its bits are those of its uint32: a shift, not the division, floor and
 * floating-point remainder (a library call) of reading a bit of a double; that took 5.6% of
 * the default set's steady state.
 */
function visited(seen: number, q: number): boolean {
  return ((seen >>> q) & 1) === 1;
}
