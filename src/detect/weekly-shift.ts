import { doubles } from '../series/index.ts';
import { num } from './config.ts';
import { HILL_90, defineDetector, hill, learning, verdict } from './define.ts';
import type { Verdict } from './types.ts';

export interface WeeklyShiftConfig {
  /** Hours over which the ratio to last week is smoothed (noise averages out, a shift does not). */
  readonly smoothHours: number;
  /** CUSUM allowance, in spreads of the smoothed ratio: a smaller deviation never accumulates. */
  readonly k: number;
  /** CUSUM sum, in spread-hours beyond `k`, at which a sustained shift is reported (score 0.9). */
  readonly h: number;
  /** Each point's deviation is clipped to this many spreads before it is smoothed. */
  readonly clip: number;
  /** Hours over which the offset from last week follows the series while nothing is reported. */
  readonly offsetHours: number;
  /** Hours over which the spread of the smoothed ratio is learned. */
  readonly spreadHours: number;
  /** Hours a reported shift may last before it is accepted as the new normal. */
  readonly acceptHours: number;
}

export const WEEKLY_SHIFT_DEFAULTS: WeeklyShiftConfig = {
  smoothHours: 2,
  k: 2,
  h: 4,
  clip: 4,
  offsetHours: 12,
  spreadHours: 72,
  acceptHours: 48,
};

const HOUR = 3_600_000;
/** Hours in a week: one table slot each. */
const SLOTS = 168;
/** The offset is a plain average over its first 2 hours against a reference. */
const OFFSET_WARM = 2 * HOUR;
/** The spread is a plain average over its first day, then an exponential one. */
const SPREAD_WARM = 24 * HOUR;
/** Hours of comparison before anything is judged. */
const SPREAD_MIN = 6 * HOUR;
/** Fewest points per hour (on average) for the hourly means to be a reference. */
const MIN_PPH = 4;
/** Smallest spread of the smoothed ratio x / ref - 1. */
const FLOOR = 0.003;
/** The spread is widened by 1 + this / (time it was learned from). */
const SPREAD_UNSURE = 3 * HOUR;

// Scalars (f): options, then the running state.
const TAU_S = 0; // smoothing time constant, ms
const K = 1;
const H = 2;
const CLIP = 3;
const TAU_OFF = 4;
const TAU_DEV = 5;
const ACCEPT_MS = 6;
const CUR = 7; // absolute hour being accumulated (floor(t / HOUR)), NaN before the first point
const SUM = 8;
const CNT = 9;
const PREV = 10; // last week's mean of the hour before CUR (its slot now holds this week's)
const LAST_T = 11; // last point judged against a known reference
const KNOWN = 12; // ms judged against a known reference (what the offset and spread were learned from)
const SMOOTH = 13; // the smoothed ratio x / ref - 1
const OFF = 14; // its usual offset while normal
const DEV = 15; // mean |smoothed - offset|
const UP = 16;
const DOWN = 17;
const SINCE = 18; // time the current reported shift started; NaN while none is
const DEV_PT = 19; // mean |ratio - offset| of single points
const PPH = 20; // points per hour (EWMA over closed hours)
const UNIT = 21; // the table's unit: the first positive hourly mean (rescaled with the series)
// Last week's means of hour CUR and of the hour after it, decoded when CUR changes: the table
// is only written when an hour closes, so within an hour these are what decoding the slots at
// every point would give, without touching the table (a separate typed array: one more cache
// miss a point over 10,000 series) or the 16 KB decoding tables.
const HERE = 22;
const NEXT = 23;
/** State layout version (slot LAYOUT): checkpoints of another layout are refused by `check`. */
const LAYOUT = 24;
const LAYOUT_VERSION = 2;
/**
 * The table (see WeeklyShiftState): three 16-bit slots to a double, each stored as slot + 32768
 * in [0, 65535], so a double holds a whole number below 2^48 (exact). Inside the scalars' array
 * it costs 56 doubles, where an Int16Array of its own cost as much again in object headers.
 */
const TABLE = 25;
const SIZE = TABLE + SLOTS / 3;

const UNSEEN = -32768;
const NOT_POSITIVE = -32767;
const Q = 2048; // steps per octave
const Q_MAX = 32767;

/** Encodes an hourly mean for the table. */
function encode(f: number[], mean: number): number {
  if (!(mean > 0)) return NOT_POSITIVE;
  if (!(f[UNIT] > 0)) f[UNIT] = mean;
  const q = Math.round(Q * Math.log2(mean / f[UNIT]));
  return q > Q_MAX ? Q_MAX : q < -Q_MAX + 1 ? -Q_MAX + 1 : q;
}

/** 2^(j / Q) for j in [0, Q) and 2^k for k in [-16, 16]: decoding costs two reads, not a pow. */
const FRAC = new Float64Array(Q);
for (let j = 0; j < Q; j++) FRAC[j] = 2 ** (j / Q);
const OCTAVE = new Float64Array(33);
for (let k = -16; k <= 16; k++) OCTAVE[k + 16] = 2 ** k;

const B16 = 65536;
const B32 = 4294967296;

/** The table slot of absolute hour `a` (hours before 1970 wrap too: never an index outside the table). */
function hourSlot(a: number): number {
  const i = a % SLOTS;
  return i < 0 ? i + SLOTS : i;
}

/** The table's slot `i` (0 <= i < SLOTS). */
function slot(f: number[], i: number): number {
  const d = f[TABLE + ((i / 3) | 0)];
  const k = i % 3;
  const u = k === 0 ? d % B16 : k === 1 ? Math.floor(d / B16) % B16 : Math.floor(d / B32);
  return u - 32768;
}

/** Sets the table's slot `i` to `q` (-32768 <= q <= 32767). */
function setSlot(f: number[], i: number, q: number): void {
  const k = i % 3;
  f[TABLE + ((i / 3) | 0)] += (q - slot(f, i)) * (k === 0 ? 1 : k === 1 ? B16 : B32);
}

/** Decodes a table slot: NaN for unseen, 0 for not positive (never a reference). */
function decode(f: number[], q: number): number {
  return q === UNSEEN ? NaN : q === NOT_POSITIVE ? 0 : f[UNIT] * OCTAVE[(q >> 11) + 16] * FRAC[q & (Q - 1)];
}

/**
 * Scalars, then a table of the mean of each hour of the week, as last seen (see TABLE):
 * log2(mean / f[UNIT]) in 1/2048 steps (0.03%, far below any spread judged here; +-16 octaves
 * around the unit), UNSEEN for an hour never seen, NOT_POSITIVE for a mean <= 0.
 */
export type WeeklyShiftState = number[];

/**
 * Sustained shifts against the same hour last week: a +5% step that stays, a slow drift, a
 * working day whose peak did not come. A rolling baseline, a fast level or yesterday's value
 * adapt to such changes within hours (or differ from today by the weekend), so they never
 * look rare; last week's same hour does not adapt and already carries the daily and weekly
 * shape. Each point is compared with last week's hourly means (interpolated between hour
 * centres) as a ratio x / ref - 1, clipped to `clip` spreads around the usual offset (a
 * drop to zero or a spike weighs no more than a few ordinary points) and smoothed over
 * `smoothHours`: metrics wander for tens of minutes at a time, so single points say little
 * and the spread is measured on the smoothed ratio. The offset (trend, last week's deploys)
 * follows the series over `offsetHours` while nothing is building up, and is frozen during a
 * reported shift so the shift does not become its own reference. A two-sided CUSUM in time
 * (spread-hours beyond `k` spreads) reports a shift when it reaches `h`: once, at that point,
 * score 0.9, drift_up / drift_down; the alert stage keeps it open. A shift still on after
 * `acceptHours` becomes the new normal. Learns for a week plus 6 hours.
 * Not judged: series that go negative (ratios need a positive reference) and series with
 * fewer than 4 points an hour (an hourly mean of one point is no reference: on NAB's hourly
 * files this fired every few days). The spread is never below 0.3% (a noiseless series
 * would otherwise report rounding) nor below what averaging the points' own noise gives.
 * The synthetic suite's +5% shifts on qps (1.5-3% noise plus a 1.6% wander) sit at the
 * noise level of this comparison: 2 of 8 are caught, all drifts and seasonal breaks are.
 * State: one array of 25 scalars and a 168-slot table of 16-bit log-quantised means (packed
 * three to a double), about 0.7 KB by `stateBytes`.
 */
export const weeklyShift = defineDetector<WeeklyShiftConfig, WeeklyShiftState>({
  name: 'weekly_shift',
  summary: 'Sustained shifts and drifts against the same hour last week (CUSUM of the ratio to last week, with a frozen offset).',
  kind: 'model',
  defaults: WEEKLY_SHIFT_DEFAULTS,
  parse(f, path, d) {
    return {
      smoothHours: num(f, 'smoothHours', path, d.smoothHours, { above: 0, max: 1e4 }),
      k: num(f, 'k', path, d.k, { min: 0, max: 100 }),
      h: num(f, 'h', path, d.h, { above: 0, max: 1e6 }),
      clip: num(f, 'clip', path, d.clip, { above: 0, max: 100 }),
      offsetHours: num(f, 'offsetHours', path, d.offsetHours, { above: 0, max: 1e5 }),
      spreadHours: num(f, 'spreadHours', path, d.spreadHours, { above: 0, max: 1e5 }),
      acceptHours: num(f, 'acceptHours', path, d.acceptHours, { above: 0, max: 1e5 }),
    };
  },
  init(c) {
    const f = doubles(SIZE);
    f[TAU_S] = c.smoothHours * HOUR;
    f[K] = c.k;
    f[H] = c.h;
    f[CLIP] = c.clip;
    f[TAU_OFF] = c.offsetHours * HOUR;
    f[TAU_DEV] = c.spreadHours * HOUR;
    f[ACCEPT_MS] = c.acceptHours * HOUR;
    f[CUR] = NaN;
    f[PREV] = NaN;
    f[LAST_T] = NaN;
    f[SINCE] = NaN;
    f[HERE] = NaN;
    f[NEXT] = NaN;
    f[LAYOUT] = LAYOUT_VERSION;
    // Every slot UNSEEN (-32768, stored as 0): the table's doubles are already 0.
    return f;
  },
  update(f, t, x, out) {
    if (x !== x || x === Infinity || x === -Infinity) return idle(f, out);
    const a = Math.floor(t / HOUR);
    let cur = f[CUR];
    if (a < cur) return idle(f, out); // out of order: ignored
    if (a !== cur) {
      // Close the hour: its slot takes this week's mean; last week's is kept aside for the
      // interpolation of the next hour's first half.
      if (cur === cur) {
        const i = hourSlot(cur);
        f[PREV] = a === cur + 1 ? decode(f, slot(f, i)) : NaN;
        if (f[CNT] > 0) setSlot(f, i, encode(f, f[SUM] / f[CNT]));
        f[PPH] += 0.05 * (f[CNT] - f[PPH]);
      }
      f[CUR] = cur = a;
      f[SUM] = 0;
      f[CNT] = 0;
      f[HERE] = decode(f, slot(f, hourSlot(a)));
      f[NEXT] = decode(f, slot(f, hourSlot(a + 1)));
    }
    f[SUM] += x;
    f[CNT]++;
    // Last week at this time: linear between the centres of the neighbouring hours.
    const frac = (t - a * HOUR) / HOUR - 0.5;
    const here = f[HERE];
    const other = frac >= 0 ? f[NEXT] : f[PREV];
    const ref = other === other && other > 0 ? here + (other - here) * (frac >= 0 ? frac : -frac) : here;
    // Hourly means of a few points are no reference: sparse series are not judged.
    if (!(ref > 0) || x < 0 || f[PPH] < MIN_PPH) return idle(f, out);
    const r = x / ref - 1;
    const lastT = f[LAST_T];
    // A repeated timestamp carries no time to weigh: it is counted in the hour, not judged.
    if (!(t > lastT) && lastT === lastT) return idle(f, out);
    f[LAST_T] = t;
    if (lastT !== lastT) {
      f[SMOOTH] = r;
      f[OFF] = r;
      f[KNOWN] = 0;
      f[UP] = 0;
      f[DOWN] = 0;
      return idle(f, out);
    }
    let dt = t - lastT;
    // A long silence is not evidence for hours: weigh at most one smoothing time.
    if (dt > f[TAU_S]) dt = f[TAU_S];
    const known = (f[KNOWN] += dt);
    const spreadKnown = known;
    let off = f[OFF];
    let dev = f[DEV];
    const devPt = f[DEV_PT];
    // The smoothed ratio's spread, no smaller than averaging the points' own noise can give
    // (sparse sampling averages few points: an hourly series smoothed over 2 hours is barely
    // smoothed), nor than FLOOR (a shift of a fraction of a percent is nobody's incident), and
    // widened while it was learned from a few hours of wandering data only.
    const al = dt / f[TAU_S];
    let sd = 1.2533 * dev;
    const sdAvg = 1.2533 * devPt * Math.sqrt(al / (2 - (al < 1 ? al : 1)));
    if (sd < sdAvg) sd = sdAvg;
    if (sd < FLOOR) sd = FLOOR;
    sd *= 1 + SPREAD_UNSURE / spreadKnown;
    const c = spreadKnown >= OFFSET_WARM ? f[CLIP] * 1.2533 * (devPt > 1e-9 ? devPt : 1e-9) : Infinity;
    let e = r - off;
    const ae = e < 0 ? -e : e;
    if (e > c) e = c;
    else if (e < -c) e = -c;
    let sm = f[SMOOTH];
    sm += (dt / f[TAU_S]) * (off + e - sm);
    f[SMOOTH] = sm;
    const d = sm - off;
    const ad = d < 0 ? -d : d;
    const w = spreadKnown < SPREAD_WARM ? dt / spreadKnown : dt / f[TAU_DEV];
    if (known < OFFSET_WARM || spreadKnown < SPREAD_MIN) {
      // Plain averages while warming up, then exponential ones.
      off += (known < OFFSET_WARM ? dt / known : dt / f[TAU_OFF]) * (r - off);
      dev += w * ((ad < 4 * sd || spreadKnown < SPREAD_MIN ? ad : 4 * sd) - dev);
      f[DEV_PT] = devPt + w * ((ae < c ? ae : c) - devPt);
      f[OFF] = off;
      f[DEV] = dev;
      return learning(out);
    }
    const z = d / sd;
    const k = f[K];
    const h = f[H];
    const step = dt / HOUR;
    let up = f[UP] + (z - k) * step;
    let down = f[DOWN] + (-z - k) * step;
    up = up > 0 ? (up < 2 * h ? up : 2 * h) : 0;
    down = down > 0 ? (down < 2 * h ? down : 2 * h) : 0;
    let score = 0;
    const reported = f[SINCE] === f[SINCE];
    if (!reported && (up >= h || down >= h)) {
      f[SINCE] = t;
      score = hill(up > down ? up : down, h / HILL_90);
    } else if (reported && up < h / 2 && down < h / 2) {
      f[SINCE] = NaN;
    } else if (reported && t - f[SINCE] >= f[ACCEPT_MS]) {
      // Still on after `acceptHours`: the new normal. Start over from this level.
      f[SINCE] = NaN;
      off = sm;
      up = 0;
      down = 0;
    }
    if (f[SINCE] !== f[SINCE] && up < h / 2 && down < h / 2) {
      // Learn only from what is not (becoming) a shift: the offset must not chase one.
      off += (dt / f[TAU_OFF]) * d;
      dev += w * ((ad < 4 * sd ? ad : 4 * sd) - dev);
      f[DEV_PT] = devPt + w * ((ae < c ? ae : c) - devPt);
    }
    f[OFF] = off;
    f[DEV] = dev;
    f[UP] = up;
    f[DOWN] = down;
    const expected = ref * (1 + off);
    const band = ref * f[CLIP] * sd;
    return verdict(out, score, expected, expected - band, expected + band, score > 0 ? (up > down ? 'drift_up' : 'drift_down') : 'normal');
  },
  rescale(f, factor) {
    // The table is relative to its unit: rescaling the unit rescales every slot.
    f[UNIT] *= factor;
    f[SUM] *= factor;
    f[PREV] *= factor;
    // Decoded again with the new unit, as the next point of this hour would have decoded them.
    const cur = f[CUR];
    if (cur === cur) {
      f[HERE] = decode(f, slot(f, hourSlot(cur)));
      f[NEXT] = decode(f, slot(f, hourSlot(cur + 1)));
    }
  },
  check(s) {
    return Array.isArray(s) && s.length === SIZE && s[LAYOUT] === LAYOUT_VERSION;
  },
});

function idle(f: number[], out: Verdict): Verdict {
  return f[KNOWN] >= OFFSET_WARM && f[KNOWN] >= SPREAD_MIN ? verdict(out, 0, NaN, NaN, NaN, 'normal') : learning(out);
}
