import { num } from './config.ts';
import { finerResolution, halfBase, halvesOf } from '../series/index.ts';
import { HILL_90, defineEmbedded, hill, learning, verdict } from './define.ts';
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
/** How far (in spreads of the smoothed ratio) an hour's mean may move its reference a week. */
const HOUR_BAND = 1;
/** Most hours before a report that are taken out of the table as part of the shift. */
const BUILD_HOURS = 12;
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
const OPTIONS = 7; // the options above: a set keeps them once
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
// The ratio smoothed without clipping, over `smoothHours` (RAW) and `offsetHours` (LVL): where a
// reported shift has settled, and at what level it is accepted (the clipped SMOOTH saturates at
// the clip band, and a level accepted at it is accepted in steps, each one a new report).
const RAW = 24;
const LVL = 25;
// When each CUSUM sum last left 0: where a shift began, so the hours between its start and its
// report (written to the table at the new level) are known when it is reported.
const UP_FROM = 26;
const DOWN_FROM = 27;
/** State layout version (slot LAYOUT): checkpoints of another layout are refused by `checkAt`. */
const LAYOUT = 28;
const LAYOUT_VERSION = 6;
// The data's resolution: the smallest step between consecutive values seen (Infinity until one),
// and the last value. Counts (in units of it) have Poisson noise, which floors the spread.
const QUANTUM = 29;
const LAST_X = 30;
/** Mean |x - expected| of single points, in the data's units (as DEV_PT is of the ratio). */
const DEV_ABS = 31;
/**
 * The table (see WeeklyShiftState): 16-bit slots, each stored as slot + 32768 in [0, 65535],
 * four to a double of the block after the scalars (42 doubles), read through `halvesOf`.
 */
const TABLE = 32;
const SIZE = TABLE + SLOTS / 4;

const UNSEEN = -32768;
const NOT_POSITIVE = -32767;
const Q = 2048; // steps per octave
const Q_MAX = 32767;

/** Encodes an hourly mean for the table. */
function encode(f: Float64Array, o: number, mean: number): number {
  if (!(mean > 0)) return NOT_POSITIVE;
  if (!(f[o + UNIT] > 0)) f[o + UNIT] = mean;
  const q = Math.round(Q * Math.log2(mean / f[o + UNIT]));
  return q > Q_MAX ? Q_MAX : q < -Q_MAX + 1 ? -Q_MAX + 1 : q;
}

/**
 * 2^(j / Q) for j in [0, Q) and 2^k for k in [-16, 16]: decoding costs two reads, not a pow.
 * detect/kernels.ts copies them for the kernel (asm/set.ts).
 */
export const DECODE_FRAC = new Float64Array(Q);
for (let j = 0; j < Q; j++) DECODE_FRAC[j] = 2 ** (j / Q);
export const DECODE_OCTAVE = new Float64Array(33);
for (let k = -16; k <= 16; k++) DECODE_OCTAVE[k + 16] = 2 ** k;


/** The table slot of absolute hour `a` (hours before 1970 wrap too: never an index outside the table). */
function hourSlot(a: number): number {
  const i = a % SLOTS;
  return i < 0 ? i + SLOTS : i;
}

/** The table's slot `i` (0 <= i < SLOTS). */
function slot(f: Float64Array, o: number, i: number): number {
  return halvesOf(f)[halfBase(f, o + TABLE) + i] - 32768;
}

/** Sets the table's slot `i` to `q` (-32768 <= q <= 32767). */
function setSlot(f: Float64Array, o: number, i: number, q: number): void {
  halvesOf(f)[halfBase(f, o + TABLE) + i] = q + 32768;
}

/** Decodes a table slot: NaN for unseen, 0 for not positive (never a reference). */
function decode(f: Float64Array, o: number, q: number): number {
  return q === UNSEEN ? NaN : q === NOT_POSITIVE ? 0 : f[o + UNIT] * DECODE_OCTAVE[(q >> 11) + 16] * DECODE_FRAC[q & (Q - 1)];
}

/**
 * Scalars, then a table of the mean of each hour of the week, as last seen (see TABLE):
 * log2(mean / f[o + UNIT]) in 1/2048 steps (0.03%, far below any spread judged here; +-16 octaves
 * around the unit), UNSEEN for an hour never seen, NOT_POSITIVE for a mean <= 0.
 */
export type WeeklyShiftState = Float64Array;

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
 * reported shift so the shift does not become its own reference (after a report of twice
 * `offsetHours` or more, such as a holiday's, it is stale and is learned again with the spread,
 * as at the start). A two-sided CUSUM in time
 * (spread-hours beyond `k` spreads) reports a shift when it reaches `h`: once, at that point,
 * score 0.9, drift_up / drift_down; the alert stage keeps it open. A reported shift's hours
 * (and the hours it built up in) are no reference: their slots become unseen, so next week
 * neither reports a passing anomaly back the other way nor carries an echo of last week's into
 * the week after. A shift still on after `acceptHours`, once its unclipped level has settled
 * (or after twice that), becomes the new normal: the table is rescaled to that level, as if last
 * week had been there already, so it is reported once, not in steps of the clip band and not
 * again a week later. Learns for a week plus 6 hours.
 * Not judged: series that go negative (ratios need a positive reference) and series with
 * fewer than 4 points an hour (an hourly mean of one point is no reference: on NAB's hourly
 * files this fired every few days). The spread is never below 0.3% (a noiseless series
 * would otherwise report rounding) nor below what averaging the points' own noise gives,
 * nor below the points' noise measured in the data's units at this hour's level (noise that
 * does not shrink with the level is larger, relative to it, in the troughs), nor, for counts
 * (in units of the data's resolution, the smallest step seen), below their Poisson noise at
 * this hour's level: a spread learned mostly by day is too narrow for a night of a few errors
 * an hour. The synthetic suite's +5% shifts on qps (1.5-3% noise plus a 1.6% wander) sit at
 * the noise level of this comparison: 2 of 8 are caught, all drifts and seasonal breaks are.
 * State: 74 doubles (a block of a set's region, or a Float64Array of its own): 7 options (a
 * set keeps them once), 25 scalars and a 168-slot table of 16-bit log-quantised means, four to
 * a double. The table
 * is read once an hour, so a set's touch leaves it out (`hot`).
 *
 * Its steady state is also compiled, in the default profile's one-call kernel (asm/set.ts):
 * a change here needs the same change there (src/detect/novelty-kernel.test.ts fails otherwise).
 */
export const weeklyShift = defineEmbedded<WeeklyShiftConfig>({
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
  embed: {
    words: () => SIZE,
    options: OPTIONS,
    initAt(c, f, o) {
      f[o + TAU_S] = c.smoothHours * HOUR;
      f[o + K] = c.k;
      f[o + H] = c.h;
      f[o + CLIP] = c.clip;
      f[o + TAU_OFF] = c.offsetHours * HOUR;
      f[o + TAU_DEV] = c.spreadHours * HOUR;
      f[o + ACCEPT_MS] = c.acceptHours * HOUR;
      f[o + CUR] = NaN;
      f[o + PREV] = NaN;
      f[o + LAST_T] = NaN;
      f[o + SINCE] = NaN;
      f[o + HERE] = NaN;
      f[o + NEXT] = NaN;
      f[o + LAYOUT] = LAYOUT_VERSION;
      f[o + QUANTUM] = Infinity;
      f[o + LAST_X] = NaN;
      // Every slot UNSEEN (-32768, stored as 0): the block comes zero-filled.
    },
    updateAt(f, o, t, x, out, g, go) {
      if (x !== x || x === Infinity || x === -Infinity) return idle(f, o, out);
      const a = Math.floor(t / HOUR);
      let cur = f[o + CUR];
      if (a < cur) return idle(f, o, out); // out of order: ignored
      f[o + QUANTUM] = finerResolution(f[o + QUANTUM], f[o + LAST_X], x);
      f[o + LAST_X] = x;
      if (a !== cur) {
        // Close the hour: its slot takes this week's mean; last week's is kept aside for the
        // interpolation of the next hour's first half.
        if (cur === cur) {
          const i = hourSlot(cur);
          const last = decode(f, o, slot(f, o, i));
          f[o + PREV] = a === cur + 1 ? last : NaN;
          // A reported shift's hours are no reference: unseen, so next week does not judge them
          // (a passing anomaly would come back as a shift the other way, and an echo of last
          // week's anomaly would be kept for the week after) and writes them again. An accepted
          // shift rescales the rest of the table (see below).
          if (f[o + SINCE] === f[o + SINCE]) setSlot(f, o, i, UNSEEN);
          else if (f[o + CNT] > 0) setSlot(f, o, i, encode(f, o, hourMean(f, o, last)));
          f[o + PPH] += 0.05 * (f[o + CNT] - f[o + PPH]);
        }
        f[o + CUR] = cur = a;
        f[o + SUM] = 0;
        f[o + CNT] = 0;
        f[o + HERE] = decode(f, o, slot(f, o, hourSlot(a)));
        f[o + NEXT] = decode(f, o, slot(f, o, hourSlot(a + 1)));
      }
      // An outage (exactly 0 where last week's hour was positive, beyond the clip band of a steady
      // series) is novelty's to report (drop_to_zero). It neither moves the CUSUM, whose smoothed
      // ratio would report it again as a drift an hour or two later, nor enters the hour's mean,
      // next week's reference, which it would pull down (a drift_up a week after every outage).
      // Counts that are often 0 (errors) have a clip band wider than 1 + the offset: their zeros count.
      if (x === 0 && f[o + HERE] > 0 && f[o + KNOWN] >= OFFSET_WARM) {
        if (1 + f[o + OFF] > clipBand(g[go + CLIP], f[o + DEV_PT])) return idle(f, o, out);
      }
      f[o + SUM] += x;
      f[o + CNT]++;
      // Last week at this time: linear between the centres of the neighbouring hours.
      const frac = (t - a * HOUR) / HOUR - 0.5;
      const here = f[o + HERE];
      const other = frac >= 0 ? f[o + NEXT] : f[o + PREV];
      const ref = other === other && other > 0 ? here + (other - here) * (frac >= 0 ? frac : -frac) : here;
      // Hourly means of a few points are no reference: sparse series are not judged.
      if (!(ref > 0) || x < 0 || f[o + PPH] < MIN_PPH) return idle(f, o, out);
      const r = x / ref - 1;
      const lastT = f[o + LAST_T];
      // A repeated timestamp carries no time to weigh: it is counted in the hour, not judged.
      if (!(t > lastT) && lastT === lastT) return idle(f, o, out);
      f[o + LAST_T] = t;
      if (lastT !== lastT) {
        f[o + SMOOTH] = r;
        f[o + OFF] = r;
        f[o + RAW] = r;
        f[o + LVL] = r;
        f[o + KNOWN] = 0;
        f[o + UP] = 0;
        f[o + DOWN] = 0;
        return idle(f, o, out);
      }
      let dt = t - lastT;
      // A long silence is not evidence for hours: weigh at most one smoothing time.
      if (dt > g[go + TAU_S]) dt = g[go + TAU_S];
      const known = (f[o + KNOWN] += dt);
      const spreadKnown = known;
      let off = f[o + OFF];
      let dev = f[o + DEV];
      const devPt = f[o + DEV_PT];
      // The smoothed ratio's spread, no smaller than averaging the points' own noise can give
      // (sparse sampling averages few points: an hourly series smoothed over 2 hours is barely
      // smoothed), nor than FLOOR (a shift of a fraction of a percent is nobody's incident), and
      // widened while it was learned from a few hours of wandering data only.
      if (dt !== qDt || g[go + TAU_S] !== qTauS || g[go + TAU_DEV] !== qTauDev || g[go + TAU_OFF] !== qTauOff) quotients(dt, g[go + TAU_S], g[go + TAU_DEV], g[go + TAU_OFF]);
      let sd = 1.2533 * dev;
      const sdAvg = 1.2533 * devPt * qRoot;
      if (sd < sdAvg) sd = sdAvg;
      // Nor below the points' noise measured in the data's units: noise that does not shrink with
      // the level (a temperature, a percentage, a queue) is larger, relative to it, in the troughs
      // than the ratio's average says, and the troughs reported drifts.
      const sdAbs = (1.2533 * f[o + DEV_ABS] * qRoot) / ref;
      if (sd < sdAbs) sd = sdAbs;
      if (sd < FLOOR) sd = FLOOR;
      // Nor below Poisson noise, for counts: a point whose mean is `ref` units of the data's
      // resolution q varies by sqrt(q ref), sqrt(q / ref) of it, averaged as the point noise is.
      // Errors at night (a few an hour) otherwise wandered beyond a spread learned mostly by day.
      const q = f[o + QUANTUM];
      if (q !== Infinity) {
        const counted = Math.sqrt(q / ref) * qRoot;
        if (sd < counted) sd = counted;
      }
      sd *= 1 + SPREAD_UNSURE / spreadKnown;
      const c = spreadKnown >= OFFSET_WARM ? clipBand(g[go + CLIP], devPt) : Infinity;
      let e = r - off;
      const ae = e < 0 ? -e : e;
      if (ae > c) {
        e = e > 0 ? c : -c;
        // The hour's mean (next week's reference) takes the point clipped too: one spike, or
        // the first minute of a change, must not lift a whole hour of next week's reference.
        // (Not during a report: its hours are unseen, but for the one it is accepted in, whose
        // points are the new normal.)
        if (f[o + SINCE] !== f[o + SINCE]) f[o + SUM] += ref * (1 + off + e) - x;
      }
      let sm = f[o + SMOOTH];
      sm += qAl * (off + e - sm);
      f[o + SMOOTH] = sm;
      const raw = (f[o + RAW] += qAl * (r - f[o + RAW]));
      const lvl = (f[o + LVL] += qOff * (r - f[o + LVL]));
      const d = sm - off;
      const ad = d < 0 ? -d : d;
      const w = spreadKnown < SPREAD_WARM ? dt / spreadKnown : qDev;
      if (known < OFFSET_WARM || spreadKnown < SPREAD_MIN) {
        // Plain averages while warming up, then exponential ones.
        off += (known < OFFSET_WARM ? dt / known : qOff) * (r - off);
        dev += w * ((ad < 4 * sd || spreadKnown < SPREAD_MIN ? ad : 4 * sd) - dev);
        learnPointNoise(f, o, w, ae < c ? ae : c, ref);
        f[o + OFF] = off;
        f[o + DEV] = dev;
        return learning(out);
      }
      const z = d / sd;
      const k = g[go + K];
      const h = g[go + H];
      const step = qStep;
      let up = f[o + UP] + (z - k) * step;
      let down = f[o + DOWN] + (-z - k) * step;
      up = up > 0 ? (up < 2 * h ? up : 2 * h) : 0;
      down = down > 0 ? (down < 2 * h ? down : 2 * h) : 0;
      if (up > 0 && !(f[o + UP] > 0)) f[o + UP_FROM] = t;
      if (down > 0 && !(f[o + DOWN] > 0)) f[o + DOWN_FROM] = t;
      let score = 0;
      const reported = f[o + SINCE] === f[o + SINCE];
      if (!reported && (up >= h || down >= h)) {
        f[o + SINCE] = t;
        // The hours from the shift's start to its report went to the table at the shifted level
        // (at most the last BUILD_HOURS): no reference for next week, whether the shift passes
        // or is accepted. Their slots become unseen (not judged next week, written again).
        const from = Math.floor((up > down ? f[o + UP_FROM] : f[o + DOWN_FROM]) / HOUR);
        for (let b = from > a - BUILD_HOURS ? from : a - BUILD_HOURS; b < a; b++) setSlot(f, o, hourSlot(b), UNSEEN);
        score = hill(up > down ? up : down, h / HILL_90);
      } else if (reported && up < h / 2 && down < h / 2) {
        // The shift passed. An offset frozen for two of its time constants or more is stale:
        // what it would have followed meanwhile (the trend, last week's deploy dropping out of
        // the comparison) came back as a shift the other way, hours after a holiday. The offset
        // and the spread are learned again, as at the start (not judged meanwhile).
        if (t - f[o + SINCE] >= 2 * g[go + TAU_OFF]) f[o + KNOWN] = 0;
        f[o + SINCE] = NaN;
      } else if (reported && t - f[o + SINCE] >= g[go + ACCEPT_MS] && (settled(raw, lvl, sd) || t - f[o + SINCE] >= 2 * g[go + ACCEPT_MS])) {
        // Still on after `acceptHours`, and settled (or on for twice that): the new normal. The
        // table is rescaled to the new level, as if last week had been there already, so the
        // offset keeps its meaning (trend, last week's deploys) and next week's reference, whose
        // hours since the shift hold the new level, fits without a report the other way.
        const m = (1 + lvl) / (1 + off);
        if (m > 0) {
          rescaleTable(f, o, m);
          f[o + RAW] = (1 + raw) / m - 1;
          f[o + LVL] = off;
          const e2 = f[o + RAW] - off;
          f[o + SMOOTH] = off + (e2 > c ? c : e2 < -c ? -c : e2);
        }
        f[o + SINCE] = NaN;
        up = 0;
        down = 0;
      }
      if (f[o + SINCE] !== f[o + SINCE] && up < h / 2 && down < h / 2) {
        // Learn only from what is not (becoming) a shift: the offset must not chase one.
        off += qOff * d;
        dev += w * ((ad < 4 * sd ? ad : 4 * sd) - dev);
        learnPointNoise(f, o, w, ae < c ? ae : c, ref);
      }
      f[o + OFF] = off;
      f[o + DEV] = dev;
      f[o + UP] = up;
      f[o + DOWN] = down;
      const expected = ref * (1 + off);
      const band = ref * g[go + CLIP] * sd;
      return verdict(out, score, expected, expected - band, expected + band, score > 0 ? (up > down ? 'drift_up' : 'drift_down') : 'normal');
    },
    rescaleAt(f, o, factor) {
      rescaleTable(f, o, factor);
      f[o + SUM] *= factor;
      f[o + QUANTUM] *= factor;
      f[o + LAST_X] *= factor;
      f[o + DEV_ABS] *= factor;
    },
    checkAt: (f, o, n) => n === SIZE && f[o + LAYOUT] === LAYOUT_VERSION,
    // A reported shift goes on, as far as this detector can tell, for the time its smoothed ratio
    // looks back over: an alert it opened holds that long (a rule's `for` and m-of-n trigger can
    // be met), not for the whole report, which a stale offset can keep on for days.
    ongoingAt: (f, o, g, go) => f[o + SINCE] === f[o + SINCE] && f[o + LAST_T] - f[o + SINCE] < g[go + TAU_S],
    // The table is read and written once an hour (HERE and NEXT carry it within the hour).
    hot: () => [0, TABLE],
  },
});

/**
 * The quotients of a point's time step that every judged point needs (its share of each time
 * constant, the averaging floor's root). Series sampled at a fixed interval repeat the same
 * step from point to point and from series to series: the same operands give the same doubles,
 * so they are computed when the step or the options change, not at every point.
 */
let qDt = NaN;
let qTauS = NaN;
let qTauDev = NaN;
let qTauOff = NaN;
let qAl = 0;
let qRoot = 0;
let qDev = 0;
let qOff = 0;
let qStep = 0;

function quotients(dt: number, tauS: number, tauDev: number, tauOff: number): void {
  qDt = dt;
  qTauS = tauS;
  qTauDev = tauDev;
  qTauOff = tauOff;
  qAl = dt / tauS;
  qRoot = Math.sqrt(qAl / (2 - (qAl < 1 ? qAl : 1)));
  qDev = dt / tauDev;
  qOff = dt / tauOff;
  qStep = dt / HOUR;
}

/** Learns the points' noise from one point's clipped |ratio - offset| `a`: as a ratio (DEV_PT) and in the data's units (DEV_ABS). */
function learnPointNoise(f: Float64Array, o: number, w: number, a: number, ref: number): void {
  f[o + DEV_PT] += w * (a - f[o + DEV_PT]);
  f[o + DEV_ABS] += w * (a * ref - f[o + DEV_ABS]);
}

/** How far a point's ratio may stray from the offset before it is clipped: `clip` point spreads. */
function clipBand(clip: number, devPt: number): number {
  return clip * 1.2533 * (devPt > 1e-9 ? devPt : 1e-9);
}

/** A reported shift has settled when its level over `smoothHours` is within one spread of its level over `offsetHours`. */
function settled(raw: number, lvl: number, sd: number): boolean {
  const g = raw - lvl;
  return (g < 0 ? -g : g) <= sd;
}

/**
 * The mean of the hour closing, as next week's reference: within one spread of the smoothed
 * ratio (HOUR_BAND) of what was expected of it (`last`, last week's mean, with the offset). An
 * hour that strays further without a report (a holiday's quieter latency) moves its reference
 * by that much a week, not all the way: at full weight it came back a week later as a shift
 * the other way, and was reported. (The offset follows part of such a deviation, and the band
 * is around it: a 6-hour 5% dip on a 3%-noise series still comes back, smaller.) A lasting
 * change is reported (its hours are then written again in full) or followed by the offset;
 * the table catches up one band a week.
 */
function hourMean(f: Float64Array, o: number, last: number): number {
  const mean = f[o + SUM] / f[o + CNT];
  if (!(f[o + KNOWN] >= SPREAD_MIN) || !(last > 0)) return mean;
  const expected = last * (1 + f[o + OFF]);
  let b = HOUR_BAND * 1.2533 * f[o + DEV];
  if (b < HOUR_BAND * FLOOR) b = HOUR_BAND * FLOOR;
  return mean > expected * (1 + b) ? expected * (1 + b) : mean < expected * (1 - b) ? expected * (1 - b) : mean;
}

/** Rescales last week's means by `factor`: the table is relative to its unit, so rescaling the unit rescales every slot. */
function rescaleTable(f: Float64Array, o: number, factor: number): void {
  f[o + UNIT] *= factor;
  f[o + PREV] *= factor;
  // Decoded again with the new unit, as the next point of this hour would have decoded them.
  const cur = f[o + CUR];
  if (cur === cur) {
    f[o + HERE] = decode(f, o, slot(f, o, hourSlot(cur)));
    f[o + NEXT] = decode(f, o, slot(f, o, hourSlot(cur + 1)));
  }
}

function idle(f: Float64Array, o: number, out: Verdict): Verdict {
  return f[o + KNOWN] >= OFFSET_WARM && f[o + KNOWN] >= SPREAD_MIN ? verdict(out, 0, NaN, NaN, NaN, 'normal') : learning(out);
}
