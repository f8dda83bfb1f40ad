/**
 * Test helpers for detectors: seeded series generators, anomaly injection, and runners that
 * stream a series through a detector or a set. Used by the tests beside each detector and by
 * the benchmarks; not part of the folder's front door.
 */
import { Rng } from '../series/index.ts';
import { createDetectorSet } from './fusion.ts';
import { getDetector } from './registry.ts';
import { restoreState, snapshotState } from './state.ts';
import type { DetectorEntry, Reason, Verdict } from './types.ts';
import { newFusedVerdict, newVerdict } from './types.ts';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/** A Monday, 00:00 UTC. */
export const T0 = Date.UTC(2026, 0, 5);

export interface Series {
  t: Float64Array;
  v: Float64Array;
}

export interface SeasonalOptions {
  days: number;
  seed: number;
  /** Sampling interval (ms); 5 minutes by default. */
  step?: number;
  level?: number;
  /** Relative noise (sigma as a fraction of the value). */
  noise?: number;
  /** Relative amplitude of the daily cycle. */
  daily?: number;
  /** Weekend multiplier (1 = no weekly pattern). */
  weekend?: number;
  /** Relative growth per week. */
  trendPerWeek?: number;
}

/** Weekend multiplier at `day` (days since a Monday 00:00), easing in and out over 6 hours. */
function weekendFactor(day: number, low: number): number {
  const w = ((day % 7) + 7) % 7;
  // Ramps centred on Saturday 00:00 (w = 5) and Monday 00:00 (w = 7 = 0).
  const ramp = 0.125;
  let inWeekend: number;
  if (w >= 5 - ramp && w < 5 + ramp) inWeekend = (w - (5 - ramp)) / (2 * ramp);
  else if (w >= 5 + ramp && w < 7 - ramp) inWeekend = 1;
  else if (w >= 7 - ramp) inWeekend = 1 - (w - (7 - ramp)) / (2 * ramp);
  else if (w < ramp) inWeekend = 1 - (w + ramp) / (2 * ramp);
  else inWeekend = 0;
  return 1 + (low - 1) * inWeekend;
}

/** The noiseless shape: level x trend x weekend x (1 + daily sine), peak at 18:00 UTC. */
export function seasonalShape(t: number, o: SeasonalOptions): number {
  const day = (t - T0) / DAY;
  const level = o.level ?? 100;
  const weekend = weekendFactor(day, o.weekend ?? 0.7);
  return level * (1 + (o.trendPerWeek ?? 0.1) * (day / 7)) * weekend * (1 + (o.daily ?? 0.3) * Math.sin(2 * Math.PI * (day - 0.5)));
}

/** Clean seasonal noise with trend: the data every detector must stay quiet on. */
export function seasonal(o: SeasonalOptions): Series {
  const step = o.step ?? 5 * MINUTE;
  const n = Math.round((o.days * DAY) / step);
  const r = new Rng(o.seed);
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    t[i] = T0 + i * step;
    v[i] = seasonalShape(t[i], o) * (1 + (o.noise ?? 0.03) * r.normal());
  }
  return { t, v };
}

/** Stationary noise around a level. */
export function flat(n: number, seed: number, level = 100, noise = 5, step = 5 * MINUTE): Series {
  const r = new Rng(seed);
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    t[i] = T0 + i * step;
    v[i] = level + noise * r.normal();
  }
  return { t, v };
}

/**
 * Event counts per `step` (errors, requests of a quiet service): Poisson with a mean of `peak`
 * at 18:00 UTC and `peak` x `night` at 06:00, so the nights are mostly 0 with the odd 1 or 2.
 */
export function counts(days: number, seed: number, peak = 3, night = 0.03, step = MINUTE): Series {
  const r = new Rng(seed);
  const n = Math.round((days * DAY) / step);
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    t[i] = T0 + i * step;
    const phase = (1 + Math.sin(2 * Math.PI * ((t[i] - T0) / DAY - 0.5))) / 2;
    // Knuth's method: fine for means this small.
    const limit = Math.exp(-peak * (night + (1 - night) * phase));
    let k = 0;
    for (let p = r.next(); p > limit; p *= r.next()) k++;
    v[i] = k;
  }
  return { t, v };
}

export function copy(s: Series): Series {
  return { t: s.t.slice(), v: s.v.slice() };
}

/** Index of the first point at or after `days` from the start. */
export function at(s: Series, days: number): number {
  const t = s.t[0] + days * DAY;
  let i = 0;
  while (i < s.t.length && s.t[i] < t) i++;
  return i;
}

export interface Run {
  scores: Float64Array;
  reasons: Reason[];
  expected: Float64Array;
}

/** Streams a series through one detector (config as a user would write it). */
export function runDetector(name: string, config: unknown, s: Series): Run {
  const d = getDetector(name);
  const c = d.parseConfig(config, 'test');
  const state = d.init(c);
  const out = newVerdict();
  const n = s.v.length;
  const run: Run = { scores: new Float64Array(n), reasons: new Array(n), expected: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    d.update(state, s.t[i], s.v[i], out);
    run.scores[i] = out.score;
    run.reasons[i] = out.reason;
    run.expected[i] = out.expected;
  }
  return run;
}

/** Streams a series through a detector set; reasons are the fused verdict's first reason. */
export function runSet(entries: DetectorEntry[] | undefined, s: Series): Run {
  const set = createDetectorSet(entries);
  const state = set.init();
  const out = newFusedVerdict();
  const n = s.v.length;
  const run: Run = { scores: new Float64Array(n), reasons: new Array(n), expected: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    set.update(state, s.t[i], s.v[i], out);
    run.scores[i] = out.score;
    run.reasons[i] = out.reasons[0];
    run.expected[i] = out.expected;
  }
  return run;
}

export function maxIn(a: Float64Array, from: number, to = a.length): { max: number; at: number } {
  let max = -Infinity;
  let idx = -1;
  for (let i = Math.max(0, from); i < Math.min(to, a.length); i++) {
    if (a[i] > max) {
      max = a[i];
      idx = i;
    }
  }
  return { max, at: idx };
}

/** The reasons seen at points scoring at least `min` in [from, to). */
export function reasonsIn(run: Run, from: number, to: number, min: number): Set<Reason> {
  const out = new Set<Reason>();
  for (let i = from; i < Math.min(to, run.scores.length); i++) if (run.scores[i] >= min) out.add(run.reasons[i]);
  return out;
}

/**
 * Streams `s` through two states of one detector; at point `cut` the second is rescaled by
 * `factor` (a unit change) and from there sees every value times `factor`. `each` hears both
 * verdicts at every point: a detector that rescales all it learned judges the two alike.
 */
export function rescaledPair(name: string, s: Series, cut: number, factor: number, each: (k: number, a: Verdict, b: Verdict) => void): void {
  const d = getDetector(name);
  const c = d.parseConfig(undefined, 'test');
  const a = d.init(c);
  const b = d.init(c);
  const va = newVerdict();
  const vb = newVerdict();
  for (let k = 0; k < s.v.length; k++) {
    if (k === cut) d.rescale!(b, factor);
    d.update(a, s.t[k], s.v[k], va);
    d.update(b, s.t[k], k >= cut ? s.v[k] * factor : s.v[k], vb);
    each(k, va, vb);
  }
}

/**
 * Streams the first `split` points, checkpoints through JSON text, restores, and streams the
 * rest through both the original and the restored state; returns the first point where any
 * verdict field differs (-1 when none). Checks a single detector or, with name undefined,
 * a whole set given as entries.
 */
export function checkpointDivergence(name: string | undefined, config: unknown, s: Series, split: number): number {
  if (name === undefined) {
    const set = createDetectorSet(config as DetectorEntry[] | undefined);
    const a = set.init();
    const out = newFusedVerdict();
    for (let i = 0; i < split; i++) set.update(a, s.t[i], s.v[i], out);
    const b = restoreState(JSON.stringify(snapshotState(a))) as unknown[];
    const ob = newFusedVerdict();
    for (let i = split; i < s.v.length; i++) {
      set.update(a, s.t[i], s.v[i], out);
      set.update(b, s.t[i], s.v[i], ob);
      const same = Object.is(out.score, ob.score) && Object.is(out.expected, ob.expected) && Object.is(out.lower, ob.lower) && Object.is(out.upper, ob.upper) && out.learning === ob.learning && out.reasons.join() === ob.reasons.join() && out.sources.join() === ob.sources.join();
      if (!same) return i;
    }
    return -1;
  }
  const d = getDetector(name);
  const c = d.parseConfig(config, 'test');
  const a = d.init(c);
  const out = newVerdict();
  for (let i = 0; i < split; i++) d.update(a, s.t[i], s.v[i], out);
  const b = restoreState(JSON.stringify(snapshotState(a)));
  const ob = newVerdict();
  for (let i = split; i < s.v.length; i++) {
    d.update(a, s.t[i], s.v[i], out);
    d.update(b, s.t[i], s.v[i], ob);
    if (!(Object.is(out.score, ob.score) && Object.is(out.expected, ob.expected) && Object.is(out.lower, ob.lower) && Object.is(out.upper, ob.upper) && out.reason === ob.reason)) return i;
  }
  return -1;
}
