import {
  DAY_MS,
  TAIL_SIZE,
  rankedInit,
  rankedMad,
  rankedMadBound,
  rankedMedian,
  rankedPushSums,
  rankedScale,
  rankedSelect,
  rankedSize,
  rollingCount,
  rollingInit,
  rollingMeanAbsDev,
  rollingRecent,
  rollingScale,
  rollingSize,
  ringMedian,
  ringPush,
  sortedInsert,
  sortedMedian,
  sortedReplace,
  tailCount,
  tailInit,
  tailObserve,
  tailRefresh,
  tailRenormalise,
  floatBase,
  floatsOf,
  arenaOffset,
  inArena,
  finerResolution,
} from '../series/index.ts';
import { type NoveltyKernel, detectKernels } from './kernels.ts';
import { num } from './config.ts';
import { HILL_90, REPORT_MIN, defineEmbedded, hill, learning, verdict } from './define.ts';
import type { Reason, Verdict } from './types.ts';

export interface NoveltyConfig {
  /** Points of the robust baseline (rolling median, MAD and mean absolute deviation). */
  readonly window: number;
  /** Points of the short level (their median is compared with the baseline); at most `window`. */
  readonly levelPoints: number;
  /** Points of the same-time-yesterday residual whose median is compared with its recent offset. */
  readonly seasonalPoints: number;
  /**
   * Points whose median step |x_t - x_t-1| is the roughness; below `window`. 0 (the default)
   * turns the roughness views off: on the synthetic suite they raised 6 of its 14 false
   * alerts (a latency that is a little noisier for an hour) for no detection there, and NAB
   * dev moved by less than its run-to-run spread of tuning (60.6 / 47.3 / 67.3 without,
   * 60.2 / 44.7 / 69.1 with). 32 turns them on (flapping, a series gone stuck).
   */
  readonly roughPoints: number;
  /**
   * Most slots per day of the same-time-yesterday memory (24 = hourly: the median of the 5
   * slots around now spans +-2 hours); one slot per point at coarser sampling. NAB dev scored
   * within its noise from 24 to 144 slots (64.3 / 61.3 / 61.6 / 62.9 / 63.2 / 64.8 / 61.7
   * standard at 24 / 32 / 48 / 72 / 96 / 120 / 144), the synthetic suite 0.901-0.906: the
   * fewest bytes win.
   */
  readonly dailySlots: number;
  /** Points of calibration memory: older deviations weigh e^-1 after this many points. */
  readonly memory: number;
  /** Soft tail of each past deviation, in ln(1 + z). */
  readonly beta: number;
  /** Prior pseudo-observations with tail 1 / (1 + z) (the cold start). */
  readonly prior: number;
  /** Points the explained surprise is held before it decays. */
  readonly hold: number;
  /** Points over which the explained surprise halves once it decays. */
  readonly explainHalfLife: number;
  /** A new condition must be this many decades rarer than what is already explained. */
  readonly margin: number;
  /**
   * Points a rising surprise must stop rising before it is reported (report at the peak).
   * Default 0: report on the point that shows the condition, with that point's value and time.
   * Waiting for the peak scored ~1 NAB point more (standard) but attached the anomaly to a
   * later, ordinary point and delayed the page; early, honest attribution matters more.
   */
  readonly peak: number;
  /** Surprise (decades, -log10 p) that scores 0.9; score 0.5 at 1/1.73 of it. */
  readonly alertSurprise: number;
  /** Weight, in the calibration history, of a deviation that scored 0.9 or more (others weigh 1). */
  readonly rareWeight: number;
}

export const NOVELTY_DEFAULTS: NoveltyConfig = {
  window: 128,
  levelPoints: 16,
  seasonalPoints: 5,
  roughPoints: 0,
  dailySlots: 24,
  memory: 3000,
  beta: 0.06,
  prior: 1,
  hold: 16,
  explainHalfLife: 138,
  margin: 0.3,
  peak: 0,
  alertSurprise: 4.5,
  rareWeight: 0.05,
};

// Scalars (doubles of the block): options first, then the running state. What follows from the
// options (the offsets in p, the views in use, the score's half point) is recomputed at each
// point, not stored: a few additions cost less than the 48 bytes a series.
const W = 0;
const K2 = 1;
const SK = 2;
const RK = 3;
const NS_MAX = 4;
const A_MEM = 5; // per-point decay of the calibration
const BETA = 6;
const PRIOR = 7;
const HOLD = 8;
const DEC = 9;
const MARGIN = 10;
const PEAK = 11;
const ALERT_S = 12; // surprise that scores 0.9
const RARE_W = 13;
/** The options above: a set keeps them once for all its series (see Embedded.options). */
const OPTIONS = 14;
const INC = 14; // the calibrators' lazy-decay increment
const AGE = 15;
const SUMS = 16; // 3 slots: the baseline window's total, lower-half sum, pushes since re-summed
const N_LVL = 19; // values in the level run
const N_RGH = 20; // steps in the roughness run
const LAST_X = 21;
const LAST_T = 22;
const R_LONG = 23; // the residual's recent offset (EWMA over `window` points)
const R_ABS = 24; // EWMA of |residual - offset|
const EXPLAINED = 25;
const SINCE = 26;
const PEND = 27;
const PEND_AGE = 28;
const PEND_VIEW = 29;
const PEND_X = 30; // the value at the pending peak (a drop to zero is named so)
const SLOT_W = 31; // slot width (ms): 0 while the interval is learned, -1 if too coarse for a daily view
const SLOTS = 32; // slots per day in use
const SLOT_A = 33; // absolute slot (floor(t / width)) being accumulated
const SLOT_SUM = 34;
const SLOT_CNT = 35;
const DELTAS = 36; // timestamp deltas collected while the interval is learned
const PREV1 = 37; // yesterday's value of the slot before this one (overwritten today)
const PREV2 = 38; // ... and of the one before that
const Y_A = 39; // the slot whose yesterday median is cached (yesterday's values do not change within a slot)
const Y_MED = 40;
/**
 * State layout version (slot LAYOUT): checkpoints of another layout are refused by `checkAt`
 * (the series relearns). 9: options first, the table embedded in the block, 20-bin calibrators,
 * a ranked baseline window, each calibrator's skip field a z threshold, the series' resolution
 * (QUANTUM). 10: the zeros of reported outages (OUT_Z, OUT_LAST). 11: sampling finer than a minute
 * (FINE_LOG, FINE_MEM). 12: the last reports (ECHO_T, ECHO_S).
 */
const LAYOUT = 41;
const LAYOUT_VERSION = 12;
/** The smallest step between consecutive values seen (the data's resolution), Infinity until one. */
const QUANTUM = 42;
/**
 * Zeros of reported outages that may still be in the baseline window, and the judged point
 * (AGE) of the last: an outage's own zeros do not make the series one that is often 0.
 */
const OUT_Z = 43;
const OUT_LAST = 44;
/**
 * Sampling finer than a minute, set with the slot width (see `fineSampling`): the decades taken
 * off every view's surprise, and the calibration's per-point decay.
 */
const FINE_LOG = 45;
const FINE_MEM = 46;
/**
 * The last ECHO_N reports (see `weeklyEcho`): ECHO_T holds each one's time x 8 + view (NaN: none),
 * ECHO_S its surprise.
 */
const ECHO_T = 47;
const ECHO_S = 55;
const ECHO_N = 8;
const SCALARS = 63;

/** Offsets in p (see init): the level run, the residual window, the roughness run, yesterday's slots, the calibrators. */
function lvlAt(f: Float64Array, o: number): number {
  return rankedSize(f[o + W]);
}
function resAt(f: Float64Array, o: number): number {
  return lvlAt(f, o) + f[o + K2];
}
function rghAt(f: Float64Array, o: number): number {
  return resAt(f, o) + rollingSize(f[o + SK]);
}
function dayAt(f: Float64Array, o: number): number {
  return rghAt(f, o) + f[o + RK];
}
function calAt(f: Float64Array, o: number): number {
  const ns = f[o + NS_MAX];
  return dayAt(f, o) + (ns > DELTA_N ? ns : DELTA_N);
}
/** Views in use: 8, or 6 without roughness (the last two views and their calibrators do not exist). */
function viewsOf(f: Float64Array, o: number): number {
  return f[o + RK] > 0 ? VIEWS : VIEWS - 2;
}
/** Floats of p for a config: the runs and slots, then the calibrators (as calAt + viewsOf x TAIL_SIZE). */
function tableFloats(c: Readonly<NoveltyConfig>): number {
  const slots = c.dailySlots > DELTA_N ? c.dailySlots : DELTA_N;
  const views = c.roughPoints > 0 ? VIEWS : VIEWS - 2;
  return rankedSize(c.window) + c.levelPoints + rollingSize(c.seasonalPoints) + c.roughPoints + slots + views * TAIL_SIZE;
}

/** Views, each calibrated on its own: point, short level, seasonal residual, roughness; up and down. */
const VIEWS = 8;
/** Calibration samples a view needs before it may report. */
const WARM = 20;
/** Calibrator fields (rows of `views` floats) most points read: the total, skip threshold, open maximum and the 9 lowest bins. */
const HOT_ROWS = 12;
/** Refresh every calibrator's skip threshold every this many points. */
const REFRESH = 64;
/** Lower/upper of the band: the baseline +- this many robust sigmas (what the point view compares against). */
const BAND = 4;
/** An outage (see update) is reported with this multiple of the alert surprise (score 0.94). */
const ZERO_S = 1.1;
/**
 * ... or a series whose last `window` values all stayed above this fraction of their median: at
 * coarse sampling the window spans much of a daily cycle, its spread is wide and the band
 * reaches down towards 0, yet a series that never went below a third of its median going to
 * exactly 0 is an outage all the same (5-minute synthetic suites: drops to zero 3-6 of 8 caught
 * before, 7-8 of 8 after).
 */
const ZERO_FLOOR = 1 / 3;
/** The longest run of zeros an outage waits for (a median of one unit needs 11 at the default alert surprise). */
const ZERO_RUN_MAX = 16;
/** A window whose spread squared is at most this many times median x resolution holds counts (Poisson's is 1). */
const COUNT_DISPERSION = 4;
/** The level run's spread is from a few points: taken this much wider, as its estimate may be low. */
const ZERO_SD_MARGIN = 1.25;

/**
 * The zeros in a row that make an outage of a count whose median is `units` units of its
 * resolution: the run whose Poisson chance e^(-run x units) is 10^-alertSurprise or less (one
 * zero from alertSurprise x ln 10 units up: 10.4 at the default), at most ZERO_RUN_MAX.
 *
 * @example zeroRun(2, 4.5) // 6: six zeros in a row at 2 a minute are an outage
 */
export function zeroRun(units: number, alertSurprise: number): number {
  const surprise = alertSurprise * Math.LN10;
  if (!(units > 0) || units >= surprise) return 1;
  const run = Math.ceil(surprise / units);
  return run < ZERO_RUN_MAX ? run : ZERO_RUN_MAX;
}

/**
 * How far above 0 a series sits just before a zero, in units whose e^(-units) bounds the chance
 * of that zero. On counts (`count`: the window's spread at most twice Poisson's in units of the
 * data's resolution) the window's median in those units (Poisson's chance of a zero is
 * e^(-median)), at most half of (m / sc)^2 where they are overdispersed. On a gauge, half the
 * squared ratio of the level run's positive values' median to their spread (1.2533 x mean
 * absolute deviation, taken ZERO_SD_MARGIN wider: it is from a few points), a normal tail being
 * below e^(-z^2 / 2): the noise of the last few points, not the window's, which a daily cycle
 * widens. The run's own zeros, at the bottom of the sorted run, are left out; once they are half
 * of it, the window's median and spread stand in.
 */
export function zeroUnits(p: Float32Array, lvl: number, n: number, m: number, sc: number, quantum: number, count: boolean): number {
  const window = (0.5 * (m * m)) / (sc * sc);
  if (count) return m / quantum < window ? m / quantum : window;
  let k = 0;
  while (k < n && p[lvl + k]! <= 0) k++;
  const pos = n - k;
  if (pos * 2 < n || pos < 2) return window;
  const med = (p[lvl + k + ((pos - 1) >> 1)]! + p[lvl + k + (pos >> 1)]!) / 2;
  let dev = 0;
  for (let i = k; i < n; i++) dev += p[lvl + i]! > med ? p[lvl + i]! - med : med - p[lvl + i]!;
  let sd = (ZERO_SD_MARGIN * 1.2533 * dev) / pos;
  if (quantum !== Infinity && sd < quantum) sd = quantum;
  if (sd < 1e-9 * med) sd = 1e-9 * med;
  return (0.5 * (med * med)) / (sd * sd);
}

/** Timestamp deltas whose median sets the slot width (fewer if the slot ring is shorter). */
const DELTA_N = 24;
/** Fewer slots a day than this (sampling coarser than 3 hours): no daily view. */
const DAY_SLOTS_MIN = 8;

/**
 * The state: SCALARS doubles, then the float32 table p (read through `floatsOf`, from float
 * index `floatBase(f, o + SCALARS)`): [baseline window (ranked: ring + one-byte ranks, series/ranked.ts) | level run | residual window (ring only,
 * `ringPush`) | roughness run | yesterday slots | calibrators].
 */
export type NoveltyState = Float64Array;

/** Scratch for one update (no re-entrancy: used within one call). */
const Z = new Float64Array(VIEWS);
const Y5 = new Float64Array(5);
const DT = new Float64Array(DELTA_N);
const RS = new Float64Array(64); // the residual window, sorted when its median is asked (seasonalPoints <= 64)

const KERNELS = detectKernels();
const KERNEL = KERNELS === null ? null : KERNELS.novelty;
const KOUT = KERNELS === null ? new Float64Array(4) : KERNELS.out;

/**
 * Novelty's verdict for the point the kernel (asm/novelty.ts, alone or within the set's kernel)
 * has just judged in the block at f[o]: its output, and the reason read from the block.
 */
export function noveltyKernelVerdict(f: Float64Array, o: number, out: Verdict): Verdict {
  const m = KOUT[1];
  const sc = KOUT[2];
  const score = KOUT[0];
  const reason: Reason = score >= REPORT_MIN ? viewReason(KOUT[3], f[o + PEND_X], m) : 'normal';
  return verdict(out, score, m, m - BAND * sc, m + BAND * sc, reason);
}
/** The last value novelty judged in the block at f[o] (as it keeps values: float32). */
export function noveltyLastValue(f: Float64Array, o: number): number {
  return f[o + LAST_X];
}

/**
 * The arena offset of the last options array seen (a set's, which lives in a slab, or a
 * standalone state's own), or -1 outside the arena. Read directly, not through `arenaOffset`,
 * whose one-view memory is the series' state's.
 */
let lastG: Float64Array | null = null;
let lastGAt = -1;

/**
 * Calibrated novelty: how rare is this point, given what THIS series has shown? Four views of
 * each point, each up and down: the point against a robust baseline (rolling median of
 * `window` points; scale = max(1.4826 MAD, 0.63 x mean absolute deviation, the data's
 * resolution), the second for sparse or two-level series whose MAD is 0, the third (the
 * smallest step between consecutive values seen) for counts and coarse gauges, where one step
 * is never many spreads), the median of the last `levelPoints` against it
 * (level shifts, bumps), the same-time-yesterday residual smoothed over `seasonalPoints`
 * against its recent offset (a daily pattern that broke), and, when `roughPoints` > 0 (off by
 * default), the median step |x_t - x_t-1| over `roughPoints` against the baseline's spread (a
 * series that starts to flap, or goes stuck; a median ignores isolated spikes). Each deviation is calibrated against this
 * series' own history of that view (series/tail.ts): the surprise S = -log10 p says how rare
 * it is here, comparable across series of any scale and shape, and the score maps S to [0, 1]
 * (0.9 at `alertSurprise` decades). A deviation that itself reaches `alertSurprise` enters
 * the history at `rareWeight` only, so one anomaly does not make the next one ordinary; an
 * outage (exactly 0 on a positive series) is reported every time (see update).
 *
 * "Already explained": a continuing condition is not new information. The detector remembers
 * the surprise it last reported (held `hold` points, then halving every `explainHalfLife`);
 * only a point `margin` decades rarer than that is reported, once (optionally at its peak,
 * `peak` points after it stopped rising; off by default). Everything else scores 0: the alert stage keeps an opened alert
 * open. This lives here, not in fusion: it is memory of this series' surprises, and fusion is
 * stateless; the rules keep their absolute meaning beside it.
 *
 * Exactness where it pays (NAB dev, novelty alone): the exact mean absolute deviation instead
 * of an EWMA of |x - median| +5 points, the median step instead of a winsorised EWMA +4, the
 * exact value at this time yesterday instead of a 48-bucket EWMA profile +4. An exact rolling
 * window for the residual's offset instead of its EWMA: +1, within noise, for 1 KB: not kept.
 */
export const novelty = defineEmbedded<NoveltyConfig>({
  name: 'novelty',
  summary: 'How rare each point is given this series\u2019 own history (point, level, same-time-yesterday and optional roughness views), reported once per new condition.',
  kind: 'model',
  defaults: NOVELTY_DEFAULTS,
  parse(f, path, d) {
    const window = num(f, 'window', path, d.window, { min: 8, max: 1024, integer: true });
    return {
      window,
      levelPoints: num(f, 'levelPoints', path, d.levelPoints, { min: 2, max: window, integer: true }),
      seasonalPoints: num(f, 'seasonalPoints', path, d.seasonalPoints, { min: 1, max: 64, integer: true }),
      roughPoints: num(f, 'roughPoints', path, d.roughPoints, { min: 0, max: window - 1, integer: true }),
      dailySlots: num(f, 'dailySlots', path, d.dailySlots, { min: DAY_SLOTS_MIN, max: 1440, integer: true }),
      memory: num(f, 'memory', path, d.memory, { min: 100, max: 1e7 }),
      beta: num(f, 'beta', path, d.beta, { above: 0, max: 5 }),
      prior: num(f, 'prior', path, d.prior, { above: 0, max: 1000 }),
      hold: num(f, 'hold', path, d.hold, { min: 0, max: 1e6, integer: true }),
      explainHalfLife: num(f, 'explainHalfLife', path, d.explainHalfLife, { above: 0, max: 1e7 }),
      margin: num(f, 'margin', path, d.margin, { min: 0, max: 10 }),
      peak: num(f, 'peak', path, d.peak, { min: 0, max: 1000, integer: true }),
      alertSurprise: num(f, 'alertSurprise', path, d.alertSurprise, { above: 0, max: 100 }),
      rareWeight: num(f, 'rareWeight', path, d.rareWeight, { min: 0, max: 1 }),
    };
  },
  embed: {
    words: (c) => SCALARS + ((tableFloats(c) + 1) >> 1),
    options: OPTIONS,
    initAt(c, f, o) {
      f[o + W] = c.window;
      f[o + K2] = c.levelPoints;
      f[o + SK] = c.seasonalPoints;
      f[o + RK] = c.roughPoints;
      f[o + NS_MAX] = c.dailySlots;
      f[o + A_MEM] = 1 - 1 / c.memory;
      f[o + BETA] = c.beta;
      f[o + PRIOR] = c.prior;
      f[o + HOLD] = c.hold;
      f[o + DEC] = Math.pow(0.5, 1 / c.explainHalfLife);
      f[o + MARGIN] = c.margin;
      f[o + PEAK] = c.peak;
      f[o + ALERT_S] = c.alertSurprise;
      f[o + RARE_W] = c.rareWeight;
      f[o + INC] = 1;
      f[o + LAST_X] = NaN;
      f[o + LAST_T] = NaN;
      f[o + PEND_VIEW] = -1;
      f[o + Y_A] = NaN;
      f[o + LAYOUT] = LAYOUT_VERSION;
      f[o + QUANTUM] = Infinity;
      f[o + OUT_Z] = 0;
      f[o + OUT_LAST] = 0;
      for (let k = 0; k < ECHO_N; k++) {
        f[o + ECHO_T + k] = NaN;
        f[o + ECHO_S + k] = 0;
      }
      f[o + FINE_LOG] = 0;
      f[o + FINE_MEM] = 1 - 1 / c.memory;
      // The level and roughness runs keep no ring: what leaves them is read from the baseline's.
      const p = floatsOf(f);
      const pb = floatBase(f, o + SCALARS);
      const cal = pb + calAt(f, o);
      const views = viewsOf(f, o);
      rankedInit(p, pb, c.window);
      rollingInit(p, pb + resAt(f, o), c.seasonalPoints);
      // The calibrators are interleaved field by field (see tail.ts): calibrator v at cal + v, stride `views`.
      for (let v = 0; v < views; v++) tailInit(p, cal + v, views);
    },
    updateAt(f, o, t, x, out, g, go) {
      // The steady state runs compiled (asm/novelty.ts, the same steps on the same bytes) when
      // the state lives in the arena; the kernel declines, changing nothing, in every other case.
      const at = KERNEL === null ? -1 : arenaOffset(f);
      if (at >= 0) {
        if (g !== lastG) {
          lastG = g;
          lastGAt = inArena(g.buffer) ? g.byteOffset : -1;
        }
        if (lastGAt >= 0 && (KERNEL as NoveltyKernel).update(at + 8 * o, lastGAt + 8 * go, t, x) === 0) return noveltyKernelVerdict(f, o, out);
      }
      const p = floatsOf(f);
      const pb = floatBase(f, o + SCALARS);
      const w = g[go + W];
      const n = rollingCount(p, pb);
      const m = n > 0 ? rankedMedian(p, pb) : NaN;
      if (x !== x || x === Infinity || x === -Infinity) {
        if (n < w) return learning(out);
        return verdict(out, 0, m, NaN, NaN, 'normal');
      }
      // Values are kept as float32: judge the stored value, so what leaves the runs later
      // (recomputed from the baseline's ring) is exactly what entered.
      const xs = Math.fround(x);
      const lastX = f[o + LAST_X];
      const lastT = f[o + LAST_T];
      // The data's resolution, as known before this point (a first step is judged unfloored).
      const quantum = f[o + QUANTUM];
      f[o + QUANTUM] = finerResolution(quantum, lastX, xs);
      f[o + LAST_X] = xs;
      f[o + LAST_T] = t;
      // Same time yesterday (NaN until a day of slots is known), read before this point is kept.
      let y = yesterday(f, o, p, pb, t, lastT, x, g, go);
      if (y === y) y += yesterdaySlope(f, o, p, pb, t, g, go);
      // The level run: the last `levelPoints` values, including this one.
      const lvl = pb + lvlAt(g, go);
      const k2 = g[go + K2];
      const nl = f[o + N_LVL];
      if (nl < k2) {
        sortedInsert(p, lvl, nl, xs);
        f[o + N_LVL] = nl + 1;
      } else sortedReplace(p, lvl, nl, rollingRecent(p, pb, k2), xs);
      // The roughness run: the last `roughPoints` steps |x_t - x_t-1|, including this one.
      const rgh = pb + rghAt(g, go);
      const rk = g[go + RK];
      const nr = f[o + N_RGH];
      if (rk > 0 && lastX === lastX) {
        const step = Math.fround(xs > lastX ? xs - lastX : lastX - xs);
        if (nr < rk) {
          sortedInsert(p, rgh, nr, step);
          f[o + N_RGH] = nr + 1;
        } else {
          const a = rollingRecent(p, pb, rk);
          const b = rollingRecent(p, pb, rk + 1);
          sortedReplace(p, rgh, nr, Math.fround(a > b ? a - b : b - a), step);
        }
      }
      if (n < w) {
        rankedPushSums(p, pb, x, f, o + SUMS);
        return learning(out);
      }
      const floor = 0.6267 * rollingMeanAbsDev(p, pb, m, f, o + SUMS);
      // The exact MAD only if its cheap upper bound does not already lose to the floor.
      let sc = 1.4826 * rankedMadBound(p, pb, m);
      if (sc > floor) sc = 1.4826 * rankedMad(p, pb, m);
      if (sc < floor) sc = floor;
      // A step of one unit of the data's resolution is never many spreads: counts that are
      // mostly 0 (errors at night) have a MAD of 0 and a tiny mean deviation, and 2 errors
      // would otherwise read as z > 100, beyond anything the calibrator has seen, every night.
      if (sc < quantum && quantum !== Infinity) sc = quantum;
      const am = m < 0 ? -m : m;
      if (sc < 1e-9 * (am > 1 ? am : 1)) sc = 1e-9 * (am > 1 ? am : 1);
      // The views (signed), then calibrated per side.
      const zp = (xs - m) / sc;
      const zl = (sortedMedian(p, lvl, f[o + N_LVL]) - m) / sc;
      let zs = 0;
      let highNow = false;
      let seasonal = false;
      if (y === y) {
        // The residual against yesterday, its median over `seasonalPoints` against its recent
        // offset and spread (EWMAs over `window` points; not winsorised: clipping them scored
        // 2.6 NAB points worse, a broken pattern must move them).
        const r = x - y;
        const res = pb + resAt(g, go);
        ringPush(p, res, r);
        let rl = f[o + R_LONG];
        if (f[o + R_ABS] > 0) {
          const e = r - rl;
          f[o + R_ABS] += (1 / w) * ((e < 0 ? -e : e) - f[o + R_ABS]);
          rl += (1 / w) * e;
          let rsc = 1.2533 * f[o + R_ABS];
          if (rsc < 0.1 * sc) rsc = 0.1 * sc;
          zs = (ringMedian(p, res, RS) - rl) / rsc;
          // This time of day far above 0, by how closely yesterday foretells today (the residual's
          // own spread, not floored by the window's): see the outage rule.
          highNow = y + rl > BAND * 1.2533 * f[o + R_ABS];
          seasonal = rollingCount(p, res) >= g[go + SK];
        } else {
          rl = r;
          f[o + R_ABS] = sc; // a start in the baseline's spread, then learned
        }
        f[o + R_LONG] = rl;
      }
      const roughReady = rk > 0 && f[o + N_RGH] >= rk;
      let rr = roughReady ? sortedMedian(p, rgh, rk) : 0;
      if (rr < 1e-3 * sc) rr = 1e-3 * sc;
      Z[0] = zp > 0 ? zp : 0;
      Z[1] = zp < 0 ? -zp : 0;
      Z[2] = zl > 0 ? zl : 0;
      Z[3] = zl < 0 ? -zl : 0;
      Z[4] = zs > 0 ? zs : 0;
      Z[5] = zs < 0 ? -zs : 0;
      Z[6] = rr / sc;
      Z[7] = sc > rr ? sc / rr - 1 : 0;
      // Calibrate: decay by raising the increment, judge each view against its own history.
      const cal = pb + calAt(g, go);
      let inc = f[o + INC] / f[o + FINE_MEM];
      const beta = g[go + BETA];
      const prior = g[go + PRIOR];
      const rareW = g[go + RARE_W];
      const fine = f[o + FINE_LOG];
      const cut = g[go + ALERT_S] + fine;
      let S = 0;
      let best = -1;
      const age = f[o + AGE] + 1;
      f[o + AGE] = age;
      // age % REFRESH for a whole count below 2^53 (REFRESH a power of two divides 2^32), without
      // the floating-point remainder that `%` on a double compiles to.
      // Young calibrators (every one starts with no skip threshold) are refreshed at ages 1, 2,
      // 4, ... too, so the first REFRESH judged points do not each take the exact tail sum of every view.
      const refresh = (age & (REFRESH - 1)) === 0 || (age < REFRESH && (age & (age - 1)) === 0);
      const views = viewsOf(g, go);
      for (let v = 0; v < views; v++) {
        if ((v === 4 || v === 5) && !seasonal) continue;
        if (v >= 6 && !roughReady) continue;
        const co = cal + v;
        const warm = tailCount(p, co, inc) >= WARM;
        const sv = tailObserve(p, co, Z[v], inc, beta, prior, cut, rareW, views) - fine;
        if (refresh) tailRefresh(p, co, views, inc, prior);
        if (warm && sv > S) {
          S = sv;
          best = v;
        }
      }
      if (inc > 1e20) {
        for (let v = 0; v < views; v++) tailRenormalise(p, cal + v, inc, views);
        inc = 1;
      }
      f[o + INC] = inc;
      // An outage: exactly 0, from a value that was not, on a series none of whose last
      // `window` values was 0 or below but for the zeros of outages already reported (OUT_Z),
      // and that sits clearly above it (its band above 0, its window above a third of its
      // median: see ZERO_FLOOR, or this time yesterday, with the residual's offset, more than
      // BAND of the residual's spreads above 0: at 5-minute sampling the window spans the day,
      // and a night floor below a third of the day's median hid a qps outage at 3 a.m.).
      // Calibration alone cannot say so twice: one long outage teaches the down view that such
      // deviations happen, and the next one, days later, looks ordinary. A positive series
      // going to exactly 0 is news every time, also when an earlier outage is still in the
      // window (the service went down again hours later).
      // Where a zero can be chance, the outage is the run of zeros rare enough to reach the
      // alert surprise (`zeroRun` of `zeroUnits`: one zero where the series sits 10.4 units of
      // its noise above 0, six at 2 errors a minute), reported at its last zero. On counts (the
      // window's spread at most twice Poisson's in units of the data's resolution) Poisson says
      // how rare, whatever the gauge's tests above say: requests at 15 a minute going to 0 were
      // no outage (the band reaches 0, and Poisson counts go below a third of their median). On
      // a gauge the last few points' spread says it, the gauge's tests still required: an error
      // ratio at night, after a window of the day's traffic, paged its error-free intervals. Without
      // the run, an error count at ~2 a minute, after a chance window without a zero, paged each of
      // its zeros for hours: each one reported left the window without an unreported zero, so
      // the next was an outage too. And a series that spent a whole slot at 0 near this time
      // yesterday (`yesterdayLow`) is at its routine, not down: replicas scaled to zero every
      // night, a job that runs for hours and stops, paged an outage each time before.
      const outZ = age - f[o + OUT_LAST] >= w ? 0 : f[o + OUT_Z];
      let outage = false;
      let run = 0;
      if (xs === 0 && m > 0 && f[o + OUT_LAST] !== age - 1) {
        // The zeros in a row ending here (this one included), up to ZERO_RUN_MAX.
        run = 1;
        while (run < ZERO_RUN_MAX && run < w - 1 && rollingRecent(p, pb, run) === 0) run++;
        const count = quantum !== Infinity && sc * sc <= COUNT_DISPERSION * m * quantum;
        const need = zeroRun(zeroUnits(p, lvl, f[o + N_LVL], m, sc, quantum, count), g[go + ALERT_S]);
        const skip = outZ + run - 1;
        const low = rankedSelect(p, pb, skip < w - 1 ? skip : w - 1);
        outage = run >= need && low > 0 && !(yesterdayLow(f, o, p, pb, g, go) <= 0) && (count || m > BAND * sc || low > ZERO_FLOOR * m || highNow);
      }
      if (outage && S < g[go + ALERT_S] * ZERO_S) {
        S = g[go + ALERT_S] * ZERO_S;
        best = 1;
      }
      // Its zeros (the run so far and the ones that follow it) are counted until the last has left the window.
      if (xs === 0 && (outage || (outZ > 0 && f[o + OUT_LAST] === age - 1))) {
        f[o + OUT_Z] = outZ + (outage ? run : 1);
        f[o + OUT_LAST] = age;
      } else f[o + OUT_Z] = outZ;
      rankedPushSums(p, pb, x, f, o + SUMS);
      // Already explained: report only a clear escalation, once, at its peak.
      if (++f[o + SINCE] > g[go + HOLD]) f[o + EXPLAINED] *= g[go + DEC];
      if (S > f[o + EXPLAINED] + g[go + MARGIN] && S > f[o + PEND]) {
        f[o + PEND] = S;
        f[o + PEND_AGE] = 0;
        f[o + PEND_VIEW] = best;
        f[o + PEND_X] = x;
      } else if (f[o + PEND] > 0) f[o + PEND_AGE]++;
      let out0 = 0;
      let view = -1;
      if (f[o + PEND] > 0 && f[o + PEND_AGE] >= g[go + PEAK]) {
        out0 = f[o + PEND];
        view = f[o + PEND_VIEW];
        f[o + EXPLAINED] = out0;
        f[o + SINCE] = 0;
        f[o + PEND] = 0;
        if (out0 >= g[go + ALERT_S] / HILL_90 && weeklyEcho(f, o, t, view, out0, g[go + MARGIN], f[o + PEND_X] === 0 && m > 0)) out0 = 0;
      }
      const score = out0 > 0 ? hill(out0, g[go + ALERT_S] / HILL_90) : 0;
      const reason: Reason = score >= REPORT_MIN ? viewReason(view, f[o + PEND_X], m) : 'normal';
      return verdict(out, score, m, m - BAND * sc, m + BAND * sc, reason);
    },
    // On the JS path a point reads or writes most lines of this state (the sorted window's
    // binary searches and slides, the runs, the calibrators): fetched together up front, the
    // misses overlap instead of each load of a search waiting for the one before. All of it, in
    // order: touching only the lines a point is likely to use (the ring's head, the low bins)
    // measured 4% slower than this sequential sweep. With the kernel the sweep costs more than
    // it saves (10,000 series, the sets with and without it alternating on the same states:
    // 1.09-1.10x without), so the set touches nothing then.
    touches: KERNEL === null,
    hot(c) {
      // Floats of the table, as init lays it out: the window's header, ring and ranks (every
      // search reads a rank, then its value in the ring), the runs, yesterday's slots (read once
      // a slot), then the calibrators, whose totals, skip thresholds and low bins (interleaved
      // field by field: TAIL rows of `views`) most points read.
      const views = c.roughPoints > 0 ? VIEWS : VIEWS - 2;
      const day = rankedSize(c.window) + c.levelPoints + rollingSize(c.seasonalPoints) + c.roughPoints;
      const cal = day + (c.dailySlots > DELTA_N ? c.dailySlots : DELTA_N);
      const word = (float: number) => SCALARS + (float >> 1);
      return [0, word(day) + 1, word(cal), word(cal + HOT_ROWS * views) + 1];
    },
    checkAt(f, o, n, g, go) {
      const layout = f[o + LAYOUT];
      return n >= SCALARS && layout === LAYOUT_VERSION && n === SCALARS + ((calAt(g, go) + viewsOf(g, go) * TAIL_SIZE + 1) >> 1);
    },
    rescaleAt(f, o, factor, g, go) {
      const p = floatsOf(f);
      const pb = floatBase(f, o + SCALARS);
      rankedScale(p, pb, factor);
      for (let i = 0; i < f[o + N_LVL]; i++) p[pb + lvlAt(g, go) + i] *= factor;
      for (let i = 0; i < f[o + N_RGH]; i++) p[pb + rghAt(g, go) + i] *= factor;
      rollingScale(p, pb + resAt(g, go), factor);
      if (f[o + SLOT_W] > 0) for (let i = 0; i < f[o + SLOTS]; i++) p[pb + dayAt(g, go) + i] *= factor;
      f[o + SUMS] *= factor;
      f[o + SUMS + 1] *= factor;
      f[o + LAST_X] *= factor;
      f[o + QUANTUM] *= factor;
      f[o + R_LONG] *= factor;
      f[o + R_ABS] *= factor;
      f[o + SLOT_SUM] *= factor;
      f[o + PREV1] *= factor;
      f[o + PREV2] *= factor;
      f[o + Y_A] = NaN; // recomputed from the rescaled slots
    },
  },
});

/**
 * The same-time-yesterday memory: one slot per `24 h / slots` of the day, each holding the
 * mean of the points that fell in it the last time that time of day was seen. At 10-minute
 * or coarser sampling that is the exact value yesterday; finer sampling is averaged into
 * `dailySlots` slots (0.1 KB by default). Slots are indexed by wall-clock time, so a gap neither
 * shifts the day (as a point lag would) nor empties it: a slot missed yesterday keeps the
 * last value seen at that time. The slot width comes from the median of the first 24
 * sampling intervals (collected in the not yet used slots).
 * Returns the median of the five slots around this time yesterday (robust to a spike then),
 * or NaN until known; then adds `x` to this slot.
 */
function yesterday(f: Float64Array, o: number, p: Float32Array, pb: number, t: number, lastT: number, x: number, g: Float64Array, go: number): number {
  const day = pb + dayAt(g, go);
  let width = f[o + SLOT_W];
  if (width === 0) {
    const dt = t - lastT;
    if (dt > 0) p[day + f[o + DELTAS]++] = dt;
    if (f[o + DELTAS] < DELTA_N) return NaN;
    const d = DT;
    for (let i = 0; i < DELTA_N; i++) d[i] = p[day + i];
    d.sort();
    const perDay = Math.round(DAY_MS / d[DELTA_N >> 1]);
    fineSampling(f, o, d[DELTA_N >> 1], g, go);
    if (perDay < DAY_SLOTS_MIN) {
      f[o + SLOT_W] = -1;
      return NaN;
    }
    const ns = perDay < g[go + NS_MAX] ? perDay : g[go + NS_MAX];
    width = DAY_MS / ns;
    f[o + SLOT_W] = width;
    f[o + SLOTS] = ns;
    p.fill(NaN, day, day + ns);
    f[o + PREV1] = NaN;
    f[o + PREV2] = NaN;
    f[o + SLOT_A] = Math.floor(t / width);
  } else if (width < 0) return NaN;
  const ns = f[o + SLOTS];
  const a = Math.floor(t / width);
  let cur = f[o + SLOT_A];
  if (a < cur) return NaN; // out of order: ignored
  if (a > cur) {
    // Close the slot being accumulated; the two slots just passed keep yesterday's value aside.
    const stop = a - cur > ns ? cur + ns : a;
    for (let k = cur; k < stop; k++) {
      const i = day + (k % ns);
      f[o + PREV2] = f[o + PREV1];
      f[o + PREV1] = p[i];
      if (k === cur && f[o + SLOT_CNT] > 0) p[i] = f[o + SLOT_SUM] / f[o + SLOT_CNT];
    }
    f[o + SLOT_A] = cur = a;
    f[o + SLOT_SUM] = 0;
    f[o + SLOT_CNT] = 0;
  }
  f[o + SLOT_SUM] += x;
  f[o + SLOT_CNT]++;
  // The slots read below change only when a slot closes: one median per slot, not per point.
  if (a === f[o + Y_A]) return f[o + Y_MED];
  // Median of the known values among the slots a-2 .. a+2 yesterday (at least 3 needed).
  let k = 0;
  for (let j = -2; j <= 2; j++) {
    const v = slotYesterday(f, o, p, day, a, ns, j);
    if (v === v) {
      let i = k++;
      while (i > 0 && Y5[i - 1] > v) {
        Y5[i] = Y5[i - 1];
        i--;
      }
      Y5[i] = v;
    }
  }
  const med = k < 3 ? NaN : k & 1 ? Y5[k >> 1] : (Y5[(k >> 1) - 1] + Y5[k >> 1]) / 2;
  f[o + Y_A] = a;
  f[o + Y_MED] = med;
  return med;
}

/**
 * Sampling finer than a minute (Prometheus scrapes every 15 s): its points are `k` = 60 s /
 * interval to a minute (at most 60), and the profile's constants, in points, are tuned at a
 * minute. A deviation as rare per point as the alert surprise comes k times as often per day,
 * and the calibration spans k times less time (at 15 s, 12.5 hours: a daily log rotation or
 * restart was news every day). So log10(k) decades are taken off every view's surprise (the
 * same chance alerts per day as at a minute) and the calibration's memory is k times longer in
 * points (it still spans two days; this keeps records as rare, and detection as at a minute).
 * Clean shapes at 15 s (a log rotation, a daily restart, a nightly batch, ...: 13 shapes, 4
 * seeds, 14 days) raised 107 alerts before and 12 after (10 at a minute); the surprise alone
 * gave 12 but lost 6 of 33 spikes and 5 of 31 level shifts of three injected suites at 15 s, the
 * memory alone 99. Set once, from the interval the slot width is learned from (the JS path: the
 * kernel starts after it); a minute and coarser keep the options as they are.
 */
function fineSampling(f: Float64Array, o: number, interval: number, g: Float64Array, go: number): void {
  if (!(interval > 0) || interval >= FINE_MS) return;
  const k = FINE_MS / interval < FINE_MAX ? FINE_MS / interval : FINE_MAX;
  f[o + FINE_LOG] = Math.log10(k);
  f[o + FINE_MEM] = 1 - (1 - g[go + A_MEM]) / k;
}
/**
 * A report at the time of week of one a week ago (within ECHO_MS), in the same direction and no
 * clearer (its surprise at most `margin` decades above that one's), is the series' weekly routine,
 * not news: a business app whose traffic drops to a fifth at midnight on Saturday and comes back
 * at midnight on Monday was a seasonal break both times, every week (the calibration spans two
 * days, and the same time yesterday was a weekday). Kept from its second week on; an outage
 * (`outage`: exactly 0 from a positive baseline) is news every time. Records this report among
 * the last ECHO_N either way, so the third week is judged against the second. Returns whether
 * it is an echo.
 */
function weeklyEcho(f: Float64Array, o: number, t: number, view: number, S: number, margin: number, outage: boolean): boolean {
  const week = t - WEEK_MS;
  let echo = false;
  let slot = 0;
  for (let k = 0; k < ECHO_N; k++) {
    const e = f[o + ECHO_T + k];
    if (e === e) {
      const et = Math.floor(e / 8);
      const ev = e - et * 8; // its view: even up, odd down
      if ((ev & 1) === (view & 1) && et >= week - ECHO_MS && et <= week + ECHO_MS && S <= f[o + ECHO_S + k] + margin) echo = true;
    }
    // The slot to overwrite: an empty one, else the oldest.
    const cur = f[o + ECHO_T + slot];
    if (cur === cur && !(e >= cur)) slot = k;
  }
  f[o + ECHO_T + slot] = t * 8 + view;
  f[o + ECHO_S + slot] = S;
  return echo && !outage;
}
const WEEK_MS = 7 * DAY_MS;
const ECHO_MS = 30 * 60_000;

/** The sampling interval the profile's point counts are tuned at, and the most points to it that are judged as such. */
const FINE_MS = 60_000;
const FINE_MAX = 60;

/**
 * Yesterday's value of the slot `j` away from slot `a` (j in -2..2): the two slots just passed
 * were overwritten today, so theirs are kept aside (PREV2, PREV1); the others still hold it.
 */
function slotYesterday(f: Float64Array, o: number, p: Float32Array, day: number, a: number, ns: number, j: number): number {
  return j === -2 ? f[o + PREV2] : j === -1 ? f[o + PREV1] : p[day + ((a + j) % ns)]!;
}

/**
 * How far this time yesterday lies from the middle of its slot, along the day's slope: the slots
 * hold means of an hour (at the default 24 a day), so on a morning ramp the value at 09:05 and at
 * 09:55 differ by much of the hour's rise, and the median of the slots around 09:00 is right only
 * at 09:30. The slope is yesterday's central difference across this slot (the slots before and
 * after, per slot), 0 until both are known. `yesterday` has been called for this point. Without
 * it, the residual's spread on a steep ramp was the ramp's, not the noise's: a 50% drop of qps at
 * 09:07 at 1-minute points scored 0.44 on the seasonal view, and at 15 seconds a 5-minute 03:00
 * cron was a break every day.
 */
function yesterdaySlope(f: Float64Array, o: number, p: Float32Array, pb: number, t: number, g: Float64Array, go: number): number {
  const width = f[o + SLOT_W];
  const ns = f[o + SLOTS];
  const a = f[o + SLOT_A];
  const day = pb + dayAt(g, go);
  const next = slotYesterday(f, o, p, day, a, ns, 1);
  const prev = slotYesterday(f, o, p, day, a, ns, -1);
  if (!(width > 0) || next !== next || prev !== prev) return 0;
  return ((next - prev) / 2) * (t / width - a - 0.5);
}

/**
 * The lowest known value of the five slots around this time yesterday (those `yesterday`, called
 * first for this point, takes the median of), or NaN when none is known. At most 0: the
 * series spent a whole slot at 0 within two slots of this time yesterday, so 0 now is its routine
 * (replicas scaled to zero at night, a job that runs for hours and stops), not an outage.
 */
function yesterdayLow(f: Float64Array, o: number, p: Float32Array, pb: number, g: Float64Array, go: number): number {
  if (!(f[o + SLOT_W] > 0)) return NaN;
  const day = pb + dayAt(g, go);
  const ns = f[o + SLOTS];
  const a = f[o + SLOT_A];
  let low = NaN;
  for (let j = -2; j <= 2; j++) {
    const v = slotYesterday(f, o, p, day, a, ns, j);
    if (v === v && !(v >= low)) low = v; // the first known value, then any lower
  }
  return low;
}

/** The reason for a reported view; `x` is the point's value for the point view. */
function viewReason(view: number, x: number, m: number): Reason {
  // Any downward view that lands on exactly 0 from a positive baseline is an outage.
  if (x === 0 && m > 0 && (view === 1 || view === 3 || view === 5)) return 'drop_to_zero';
  switch (view) {
    case 0:
      return 'spike';
    case 1:
      return 'dip';
    case 2:
      return 'level_shift_up';
    case 3:
      return 'level_shift_down';
    case 4:
    case 5:
      return 'seasonal_break';
    default:
      return 'variance_change';
  }
}

