/**
 * Distribution drift: the recent window of a series against the baseline that preceded it,
 * by three distances, each calibrated to [0, 1] and fused by their median (one distance alone
 * has blind spots: KS misses a moved tail, Wasserstein over-reacts to one huge value, PSI to
 * sparse bins; two of three agreeing is drift):
 * - Kolmogorov-Smirnov: the largest gap between the two CDFs;
 * - Wasserstein-1: the area between the CDFs (how far mass moved), in baseline standard
 *   deviations;
 * - Population stability index over the baseline's deciles.
 * Each scores 0.5 where sampling alone puts it once in a hundred comparisons of these sizes,
 * or at `minEffect` if larger (0.9 at 1.73x that).
 *
 * Cascade: the distances cost a sort of both windows, so they run only every `every` points,
 * or at once when a cheap check (the window mean's z against the baseline, or its variance
 * ratio) suspects something. Between evaluations the verdict holds the last score. The number
 * of evaluations is kept in the state (`driftEvaluations`) so the saving can be measured.
 */
import { TidemarkError } from '../errors.ts';
import { doubles } from '../series/index.ts';
import type { QuantileSketch } from '../series/sketch.ts';
import { num } from './config.ts';
import { REPORT_MIN, defineDetector, hill, learning, verdict } from './define.ts';

export interface DriftConfig {
  /** Points in the current window. */
  readonly window: number;
  /** Points in the baseline (the points before the current window). */
  readonly baseline: number;
  /** Baseline points needed before judging. */
  readonly minBaseline: number;
  /** Points between scheduled evaluations of the distances (1: every point, no cascade). */
  readonly every: number;
  /** |z| of the window mean against the baseline at which the distances run at once (0: never early). */
  readonly suspect: number;
  /**
   * The smallest move worth a look, however large the samples: the KS gap (share of the mass
   * moved), Wasserstein-1 in baseline sigmas and PSI that score at least 0.5. Raise it for a
   * series that grows steadily, whose distribution moves a little every week by design.
   */
  readonly minEffect: number;
}

/** The three distances of one comparison. */
export interface DriftDistances {
  /** Kolmogorov-Smirnov statistic, in [0, 1]. */
  ks: number;
  /** Wasserstein-1 distance, in the data's unit. */
  w1: number;
  /** Population stability index over the baseline's deciles. */
  psi: number;
}

const WINDOW = 0;
const BASE = 1;
const MIN_BASE = 2;
const EVERY = 3;
const SUSPECT = 4;
const N_CUR = 5;
const CUR_HEAD = 6;
const N_BASE = 7;
const BASE_HEAD = 8;
const SINCE = 9;
const SCORE = 10;
const EVALS = 11;
const POINTS = 12;
const SUM_C = 13;
const SQ_C = 14;
const SUM_B = 15;
const SQ_B = 16;
const KS = 17;
const W1 = 18;
const PSI = 19;
const EXP = 20;
const LO = 21;
const HI = 22;
const EFFECT = 23;
const HEAD = 24; // the current window's ring starts here, the baseline's right after it

const PSI_BINS = 10;
/** KS 1% critical value coefficient: c(0.01) = 1.628. */
const KS_C01 = 1.628;
/** W1 (in baseline sigmas) per unit of sqrt(1/nb + 1/nc) that noise reaches 1% of the time. */
const W1_NOISE = 2.7;
/** PSI per (bins - 1)(1/nb + 1/nc) that noise reaches 1% of the time. */
const PSI_NOISE = 2.4;

// Sort buffers shared by every series: a point's evaluation is over before the next starts.
let scratchCur = new Float64Array(64);
let scratchBase = new Float64Array(1024);

export const drift = defineDetector<DriftConfig, number[]>({
  name: 'drift',
  summary: 'The recent window\'s distribution against the baseline before it (KS, Wasserstein-1, PSI); reason drift.',
  kind: 'model',
  defaults: {
    window: 60, // points: an hour of 1 min points
    baseline: 600, // points: the ten hours before it
    minBaseline: 120, // points
    every: 15, // points between scheduled evaluations
    suspect: 3, // window-mean z that evaluates at once
    minEffect: 0.1, // a tenth of the mass moved, or a tenth of a sigma
  },
  parse(f, path, d) {
    const window = num(f, 'window', path, d.window, { min: 8, max: 100_000, integer: true });
    const baseline = num(f, 'baseline', path, d.baseline, { min: 8, max: 100_000, integer: true });
    const minBaseline = num(f, 'minBaseline', path, Math.min(d.minBaseline, baseline), { min: 8, max: 100_000, integer: true });
    if (minBaseline > baseline) throw new TidemarkError('TM_ERR_CONFIG', `must be at most baseline (${baseline}), got ${minBaseline}`, `${path}.minBaseline`);
    const every = num(f, 'every', path, d.every, { min: 1, max: 100_000, integer: true });
    const suspect = num(f, 'suspect', path, d.suspect, { min: 0, max: 100 });
    const minEffect = num(f, 'minEffect', path, d.minEffect, { min: 0, max: 1 });
    return { window, baseline, minBaseline, every, suspect, minEffect };
  },
  init(c) {
    const s = doubles(HEAD + c.window + c.baseline);
    s[WINDOW] = c.window;
    s[BASE] = c.baseline;
    s[MIN_BASE] = c.minBaseline;
    s[EVERY] = c.every;
    s[SUSPECT] = c.suspect;
    s[EFFECT] = c.minEffect;
    s[EXP] = NaN;
    s[LO] = NaN;
    s[HI] = NaN;
    return s;
  },
  update(s, _t, x, out) {
    if (x !== x || x === Infinity || x === -Infinity) {
      return s[N_BASE] < s[MIN_BASE] ? learning(out) : verdict(out, 0, s[EXP], s[LO], s[HI], 'normal');
    }
    push(s, x);
    s[POINTS]++;
    if (s[N_BASE] < s[MIN_BASE] || s[N_CUR] < s[WINDOW]) return learning(out);
    s[SINCE]++;
    if (s[SINCE] >= s[EVERY] || s[EXP] !== s[EXP] || suspicious(s)) evaluate(s);
    const score = s[SCORE];
    return verdict(out, score, s[EXP], s[LO], s[HI], score >= REPORT_MIN ? 'drift' : 'normal');
  },
  rescale(s, factor) {
    const w = s[WINDOW];
    const b = s[BASE];
    for (let i = HEAD; i < HEAD + w + b; i++) s[i] *= factor;
    s[SUM_C] *= factor;
    s[SQ_C] *= factor * factor;
    s[SUM_B] *= factor;
    s[SQ_B] *= factor * factor;
    s[EXP] *= factor;
    s[LO] *= factor;
    s[HI] *= factor;
    s[W1] *= Math.abs(factor);
  },
});

/** Scheduled plus early evaluations of the distances so far, and points judged (for the cascade's saving). */
export function driftEvaluations(state: unknown): { evaluations: number; points: number } {
  const s = state as number[];
  return { evaluations: s[EVALS], points: s[POINTS] };
}

/** The distances behind the last verdict (NaN before the first evaluation). */
export function driftDistances(state: unknown): DriftDistances {
  const s = state as number[];
  return s[EVALS] > 0 ? { ks: s[KS], w1: s[W1], psi: s[PSI] } : { ks: NaN, w1: NaN, psi: NaN };
}

/** The new point joins the window; the window's oldest moves to the baseline, whose oldest leaves. */
function push(s: number[], x: number): void {
  const w = s[WINDOW];
  const b = s[BASE];
  const nc = s[N_CUR];
  let head = s[CUR_HEAD];
  if (nc < w) {
    s[HEAD + ((head + nc) % w)] = x;
    s[N_CUR] = nc + 1;
  } else {
    const old = s[HEAD + head];
    s[HEAD + head] = x;
    s[CUR_HEAD] = head = (head + 1) % w;
    s[SUM_C] -= old;
    s[SQ_C] -= old * old;
    const o = HEAD + w;
    const nb = s[N_BASE];
    const bh = s[BASE_HEAD];
    if (nb < b) {
      s[o + ((bh + nb) % b)] = old;
      s[N_BASE] = nb + 1;
    } else {
      const gone = s[o + bh];
      s[o + bh] = old;
      s[BASE_HEAD] = (bh + 1) % b;
      s[SUM_B] -= gone;
      s[SQ_B] -= gone * gone;
    }
    s[SUM_B] += old;
    s[SQ_B] += old * old;
  }
  s[SUM_C] += x;
  s[SQ_C] += x * x;
}

/** The cheap check: the window's mean or spread is off the baseline's. */
function suspicious(s: number[]): boolean {
  const z = s[SUSPECT];
  if (z <= 0) return false;
  const nc = s[N_CUR];
  const nb = s[N_BASE];
  const mc = s[SUM_C] / nc;
  const mb = s[SUM_B] / nb;
  const vb = Math.max(s[SQ_B] / nb - mb * mb, 1e-12 * (mb * mb + 1));
  const vc = Math.max(s[SQ_C] / nc - mc * mc, 0);
  const d = mc - mb;
  return d * d * nc > z * z * vb || vc > 4 * vb || 4 * vc < vb;
}

function evaluate(s: number[]): void {
  const w = s[WINDOW];
  const nc = s[N_CUR];
  const nb = s[N_BASE];
  if (scratchCur.length < nc) scratchCur = new Float64Array(nc);
  if (scratchBase.length < nb) scratchBase = new Float64Array(nb);
  const cur = scratchCur.subarray(0, nc);
  const base = scratchBase.subarray(0, nb);
  let sc = 0;
  let qc = 0;
  for (let i = 0; i < nc; i++) {
    const v = s[HEAD + i];
    cur[i] = v;
    sc += v;
    qc += v * v;
  }
  let sb = 0;
  let qb = 0;
  for (let i = 0; i < nb; i++) {
    const v = s[HEAD + w + i];
    base[i] = v;
    sb += v;
    qb += v * v;
  }
  // Exact sums now and then, so the running ones never wander.
  s[SUM_C] = sc;
  s[SQ_C] = qc;
  s[SUM_B] = sb;
  s[SQ_B] = qb;
  cur.sort();
  base.sort();
  const d = distances(base, null, cur, null);
  const mb = sb / nb;
  const sdB = Math.sqrt(Math.max(qb / nb - mb * mb, 0));
  const scale = Math.max(sdB, 1e-6 * Math.abs(mb), 1e-12);
  s[KS] = d.ks;
  s[W1] = d.w1;
  s[PSI] = d.psi;
  s[SCORE] = driftScore(d, scale, nb, nc, s[EFFECT]);
  s[EXP] = base[nb >> 1];
  s[LO] = base[Math.floor(0.05 * (nb - 1))];
  s[HI] = base[Math.ceil(0.95 * (nb - 1))];
  s[SINCE] = 0;
  s[EVALS]++;
}

/**
 * The fused drift score of three distances between a baseline of effective size `nb` and a
 * window of `nc`, `scale` being the baseline's spread (standard deviation) for Wasserstein.
 */
export function driftScore(d: DriftDistances, scale: number, nb: number, nc: number, minEffect = 0.1): number {
  // Each distance's half point is where sampling alone puts it once in a hundred comparisons
  // of these sizes (measured on normal data), or `minEffect` if larger: large samples make any
  // difference significant, and a small one is not worth a look. Two of three must agree, so
  // noise rarely passes 0.5 (its 99.9th percentile is about 0.6).
  const noise = Math.sqrt(1 / nb + 1 / nc);
  const ks = hill(d.ks, Math.max(KS_C01 * noise, minEffect));
  const w1 = hill(d.w1 / scale, Math.max(W1_NOISE * noise, minEffect));
  const psi = hill(d.psi, Math.max(PSI_NOISE * (PSI_BINS - 1) * noise * noise, minEffect));
  // Median of three.
  return Math.max(Math.min(ks, w1), Math.min(Math.max(ks, w1), psi));
}

/**
 * KS, Wasserstein-1 and PSI between two sorted samples, optionally weighted (sketch bins:
 * values are bin centres, weights their counts). PSI's bins are the baseline's deciles.
 */
export function distances(base: ArrayLike<number>, baseW: ArrayLike<number> | null, cur: ArrayLike<number>, curW: ArrayLike<number> | null): DriftDistances {
  const nb = base.length;
  const nc = cur.length;
  let tb = 0;
  let tc = 0;
  for (let i = 0; i < nb; i++) tb += baseW === null ? 1 : baseW[i];
  for (let i = 0; i < nc; i++) tc += curW === null ? 1 : curW[i];
  if (nb === 0 || nc === 0 || !(tb > 0) || !(tc > 0)) return { ks: NaN, w1: NaN, psi: NaN };
  // One walk over the union of both samples in order: F_base and F_cur step at each value.
  let i = 0;
  let j = 0;
  let fb = 0;
  let fc = 0;
  let ks = 0;
  let w1 = 0;
  let prev = NaN;
  while (i < nb || j < nc) {
    const x = j >= nc || (i < nb && base[i] <= cur[j]) ? base[i] : cur[j];
    if (prev === prev) w1 += Math.abs(fb - fc) * (x - prev);
    while (i < nb && base[i] === x) {
      fb += (baseW === null ? 1 : baseW[i]) / tb;
      i++;
    }
    while (j < nc && cur[j] === x) {
      fc += (curW === null ? 1 : curW[j]) / tc;
      j++;
    }
    const g = Math.abs(fb - fc);
    if (g > ks) ks = g;
    prev = x;
  }
  // Decile edges of the baseline: the value where its CDF reaches k/10; bin m holds values in
  // (edges[m-1], edges[m]]. Repeated edges (ties) merge their bins, so weights and expanded
  // samples bin alike.
  const edges: number[] = [];
  let acc = 0;
  let k = 1;
  for (let a = 0; a < nb && k < PSI_BINS; a++) {
    acc += baseW === null ? 1 : baseW[a];
    while (k < PSI_BINS && acc >= (k * tb) / PSI_BINS) {
      const e = base[a];
      if (edges.length === 0 || e > edges[edges.length - 1]) edges.push(e);
      k++;
    }
  }
  const bins = edges.length + 1;
  const pb = new Float64Array(bins);
  const pc = new Float64Array(bins);
  binInto(base, baseW, edges, pb);
  binInto(cur, curW, edges, pc);
  // Counts smoothed by half a point per bin: an empty bin in a small window is sampling, and
  // an unsmoothed log of it would swamp the index.
  let psi = 0;
  for (let m = 0; m < bins; m++) {
    const p = (pc[m] + 0.5) / (tc + 0.5 * bins);
    const q = (pb[m] + 0.5) / (tb + 0.5 * bins);
    psi += (p - q) * Math.log(p / q);
  }
  return { ks, w1, psi };
}

/** Weight of a sorted sample per bin: bin m holds values in (edges[m-1], edges[m]]. */
function binInto(xs: ArrayLike<number>, w: ArrayLike<number> | null, edges: number[], out: Float64Array): void {
  let m = 0;
  for (let i = 0; i < xs.length; i++) {
    while (m < edges.length && xs[i] > edges[m]) m++;
    out[m] += w === null ? 1 : w[i];
  }
}

/**
 * Drift between two quantile sketches (a histogram metric's baseline windows merged, and its
 * current window): the same distances and score over the sketches' bins.
 * @example sketchDrift(windows.merged(from, to), windows.open)
 */
export function sketchDrift(base: QuantileSketch, cur: QuantileSketch): DriftDistances & { score: number } {
  const b = base.bins();
  const c = cur.bins();
  const d = distances(b.values, b.weights, c.values, c.weights);
  let mean = 0;
  for (let i = 0; i < b.values.length; i++) mean += (b.values[i] * b.weights[i]) / base.count;
  let v = 0;
  for (let i = 0; i < b.values.length; i++) v += (b.weights[i] * (b.values[i] - mean) ** 2) / base.count;
  const scale = Math.max(Math.sqrt(v), 1e-6 * Math.abs(mean), 1e-12);
  return { ...d, score: d.ks === d.ks ? driftScore(d, scale, base.count, cur.count) : 0 };
}
