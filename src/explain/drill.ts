/**
 * Hierarchical drill-down: an aggregate is anomalous; which of its child series carry the
 * change? The children at the anomaly time become a leaf table (observed value against what
 * the detectors expected), and the localiser names the few segments, single label values or
 * combinations, that explain most of the delta, each with its share.
 *
 * Bounded memory. Each dimension's values pass through a Space-Saving summary weighted by
 * |observed - expected|: the values that carry the most change are kept exactly, the rest are
 * folded into one `(other)` value. A label with exploding cardinality (a pod id) thus costs K
 * values, not millions, and the table never needs every combination.
 *
 * No single cause. When every segment moved by the same factor (a seasonal surge, a global
 * outage), the localiser can only list every value of some dimension. The drill compares that
 * with the one-parameter explanation "everything scaled by R": if scaling the expectations by
 * R leaves fewer suspects, the change is reported as global and only the segments that depart
 * from the common factor are named.
 *
 * Pure: no I/O. The engine (src/engine/triage.ts) reads the children from the store.
 */
import { TidemarkError } from '../errors.ts';
import { SpaceSaving } from './heavy.ts';
import { localize, localizeRatio, type DimensionValue, type RootCauseResult } from './localize.ts';
import { LeafTableBuilder, type LeafTable } from './table.ts';

/** The value standing for every value a dimension's sketch did not keep. */
export const OTHER_VALUE = '(other)';
/** The value of a dimension a child does not carry. */
export const NONE_VALUE = '(none)';
/** Confidence a segment needs by default (see DrillOptions.minConfidence). */
export const DEFAULT_MIN_CONFIDENCE = 0.99;

/** One child series at the anomaly time. */
export interface ChildObservation {
  readonly labels: Readonly<Record<string, string>>;
  /** What it did (last value, or its increase over the incident window for counters). */
  readonly real: number;
  /** What its detectors expected (band `expected`), or 0 for a series that did not exist. */
  readonly expected: number;
}

/** One child of a ratio metric: numerator (errors) and denominator (requests) of one leaf. */
export interface RatioChildObservation {
  readonly labels: Readonly<Record<string, string>>;
  readonly numerator: { readonly real: number; readonly expected: number };
  readonly denominator: { readonly real: number; readonly expected: number };
}

export interface DrillOptions {
  /** Label names fixed by the parent (its scope); they are not dimensions. */
  readonly exclude?: readonly string[];
  /** Values kept per dimension by the Space-Saving sketch; the rest fold into `(other)`. Default 32. */
  readonly maxValuesPerDimension?: number;
  /** Dimensions searched at most (the search grows as 2^dims); the most concentrated win. Default 6. */
  readonly maxDimensions?: number;
  /** Segments reported at most. Default 5. */
  readonly maxSegments?: number;
  /** Values are event counts (adds Poisson noise; see LocalizeOptions.counts). Default false. */
  readonly counts?: boolean;
  /** Heavy hitters listed per dimension. Default 5. */
  readonly topValues?: number;
  /**
   * Segments need at least this confidence. Default 0.99 (4.6 nats of evidence): the leaves of
   * one aggregate are few, their robust noise scale is rough, and a noise outlier named as the
   * cause costs the on-call more than a cause left for them to find.
   */
  readonly minConfidence?: number;
}

export interface Segment {
  readonly pairs: readonly DimensionValue[];
  /** `region=eu-west-1 & app_version=v2.3.1`. */
  readonly text: string;
  readonly observed: number;
  readonly expected: number;
  /** observed - expected over the segment's leaves it explains. */
  readonly delta: number;
  /** delta / total delta of the aggregate (may exceed 1 when other leaves moved the other way). */
  readonly share: number;
  /** Fitted factor observed/expected (for ratios: observed rate over expected rate). */
  readonly ratio: number;
  /** The localiser's confidence, logistic of its evidence in nats. */
  readonly confidence: number;
}

export interface HeavyValue {
  readonly value: string;
  readonly delta: number;
  readonly share: number;
}

export interface DrillResult {
  /** `ratio`: deltas are excess numerator units (errors) at the observed denominator (requests). */
  readonly mode: 'additive' | 'ratio';
  readonly dimensions: readonly string[];
  /** Children read, and leaves in the table after folding. */
  readonly children: number;
  readonly leaves: number;
  readonly observed: number;
  readonly expected: number;
  /** Suspects, strongest first; empty when nothing stands out. */
  readonly segments: readonly Segment[];
  /** Set when the aggregate moved as a whole by `ratio`: then no single segment is the cause. */
  readonly global: { readonly ratio: number; readonly text: string } | null;
  /** Per dimension, the values carrying the most change (signed). */
  readonly heavyHitters: Readonly<Record<string, readonly HeavyValue[]>>;
  /** Per dimension, how many distinct values (at least) were folded into `(other)`. */
  readonly folded: Readonly<Record<string, number>>;
  /** Relative noise of the leaves left normal. */
  readonly noise: number;
}

interface Row {
  readonly labels: Readonly<Record<string, string>>;
  readonly real: number;
  readonly expected: number;
  /** Ratio mode: the denominator's real and expected. */
  readonly denReal: number;
  readonly denExpected: number;
}

/**
 * Drills an additive aggregate (a sum of its children) into its top contributing segments.
 * @example drill([{ labels: { region: 'eu' }, real: 30, expected: 10 }, { labels: { region: 'us' }, real: 10, expected: 10 }])
 */
export function drill(children: readonly ChildObservation[], opts: DrillOptions = {}): DrillResult {
  const rows: Row[] = children.map((c) => ({ labels: c.labels, real: c.real, expected: c.expected, denReal: 0, denExpected: 0 }));
  return run(rows, 'additive', opts);
}

/**
 * Drills a ratio (errors / requests) into the segments whose rate moved, given each leaf's
 * numerator and denominator; a traffic shift that keeps every rate is no cause.
 */
export function drillRatio(children: readonly RatioChildObservation[], opts: DrillOptions = {}): DrillResult {
  const rows: Row[] = children.map((c) => ({
    labels: c.labels, real: c.numerator.real, expected: c.numerator.expected, denReal: c.denominator.real, denExpected: c.denominator.expected,
  }));
  return run(rows, 'ratio', opts);
}

function checkFinite(rows: readonly Row[]): void {
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (!Number.isFinite(r.real) || !Number.isFinite(r.expected) || !Number.isFinite(r.denReal) || !Number.isFinite(r.denExpected)) {
      throw new TidemarkError('TM_ERR_INPUT', `child ${i} (${JSON.stringify(r.labels)}) has a non-finite value; drop children without data first`);
    }
  }
}

/** Expected numerator per leaf in ratio mode: its real denominator at its forecast rate (as localizeRatio). */
function ratioExpectations(rows: readonly Row[]): Float64Array {
  let numF = 0;
  let denF = 0;
  for (const r of rows) {
    numF += r.expected;
    denF += r.denExpected;
  }
  const overall = denF > 0 ? numF / denF : 0;
  const out = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    out[i] = r.denReal * (r.denExpected > 0 ? r.expected / r.denExpected : overall);
  }
  return out;
}

function run(rows: readonly Row[], mode: 'additive' | 'ratio', opts: DrillOptions): DrillResult {
  checkFinite(rows);
  const K = opts.maxValuesPerDimension ?? 32;
  const maxDims = opts.maxDimensions ?? 6;
  const maxSegments = opts.maxSegments ?? 5;
  const topValues = opts.topValues ?? 5;
  const exclude = new Set(opts.exclude ?? []);
  // The change each leaf carries, in the units the localiser will attribute.
  const expectedOf = mode === 'ratio' ? ratioExpectations(rows) : Float64Array.from(rows, (r) => r.expected);
  let observed = 0;
  let expected = 0;
  for (let i = 0; i < rows.length; i++) {
    observed += rows[i].real;
    expected += expectedOf[i];
  }
  const totalDelta = observed - expected;

  // Pass 1: candidate dimensions and, per dimension, the values carrying the most |delta|.
  const names = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r.labels)) if (!exclude.has(k)) names.add(k);
  const sketches = new Map<string, SpaceSaving<string>>();
  const distinct = new Map<string, Set<string>>();
  for (const d of names) {
    sketches.set(d, new SpaceSaving<string>(K));
    distinct.set(d, new Set());
  }
  for (let i = 0; i < rows.length; i++) {
    const w = Math.abs(rows[i].real - expectedOf[i]);
    for (const d of names) {
      const v = rows[i].labels[d] ?? NONE_VALUE;
      // A leaf with no change still makes the value exist; a tiny weight keeps it countable.
      sketches.get(d)!.offer(v, w > 0 ? w : Number.MIN_VALUE);
      const seen = distinct.get(d)!;
      if (seen.size <= 4 * K) seen.add(v); // enough to tell "constant" and to count folds roughly
    }
  }
  // A dimension with one value says nothing; the rest are ranked by how concentrated their
  // change is (the top value's |delta| over the total), Adtributor's surprise in one number.
  const ranked: { d: string; conc: number }[] = [];
  for (const d of names) {
    if (distinct.get(d)!.size < 2) continue;
    const s = sketches.get(d)!;
    const top = s.top(1)[0];
    ranked.push({ d, conc: s.total > 0 && top ? (top.count - top.error) / s.total : 0 });
  }
  ranked.sort((a, b) => b.conc - a.conc || (a.d < b.d ? -1 : 1));
  const folded: Record<string, number> = {};
  const keep = new Map<string, Set<string>>();
  const dims: string[] = [];
  for (const { d } of ranked) {
    if (dims.length >= maxDims) break;
    const s = sketches.get(d)!;
    // Only values whose guaranteed weight (count - error) beats any unmonitored value's bound
    // (the smallest count) are kept: a late arrival inherits the evicted minimum as its count
    // and is monitored without having earned it. While the sketch is not full it is exact.
    const floor = s.minCount;
    const kept = new Set(s.top().filter((h) => s.size < s.capacity || h.count - h.error >= floor).map((h) => h.key));
    const n = distinct.get(d)!.size;
    if (n > kept.size) folded[d] = n - kept.size;
    // Nothing stands out: every value folds into one, and the dimension says nothing.
    if (kept.size === 0) continue;
    keep.set(d, kept);
    dims.push(d);
  }
  dims.sort();

  // Pass 2: the folded table (leaves with equal folded labels merge) and exact heavy-hitter deltas.
  const merged = new Map<string, { labels: string[]; real: number; exp: number; denReal: number; denExp: number }>();
  const hh = new Map<string, Map<string, number>>(dims.map((d) => [d, new Map()]));
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const labels = dims.map((d) => {
      const v = r.labels[d] ?? NONE_VALUE;
      return keep.get(d)!.has(v) ? v : OTHER_VALUE;
    });
    const delta = r.real - expectedOf[i];
    dims.forEach((d, j) => {
      const m = hh.get(d)!;
      m.set(labels[j], (m.get(labels[j]) ?? 0) + delta);
    });
    const key = labels.join('\u0000');
    const m = merged.get(key);
    if (m) {
      m.real += r.real;
      m.exp += r.expected;
      m.denReal += r.denReal;
      m.denExp += r.denExpected;
    } else merged.set(key, { labels, real: r.real, exp: r.expected, denReal: r.denReal, denExp: r.denExpected });
  }
  const heavyHitters: Record<string, HeavyValue[]> = {};
  for (const d of dims) {
    heavyHitters[d] = [...hh.get(d)!.entries()]
      .map(([value, delta]) => ({ value, delta, share: totalDelta !== 0 ? delta / totalDelta : 0 }))
      .sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta) || (a.value < b.value ? -1 : 1))
      .slice(0, topValues);
  }

  const empty: DrillResult = {
    mode, dimensions: dims, children: rows.length, leaves: merged.size, observed, expected, segments: [], global: null, heavyHitters, folded, noise: 0,
  };
  if (dims.length === 0 || merged.size === 0) return empty;

  const num = new LeafTableBuilder(dims, merged.size);
  const den = new LeafTableBuilder(dims, merged.size);
  for (const m of merged.values()) {
    num.add(m.labels, m.real, m.exp);
    den.add(m.labels, m.denReal, m.denExp);
  }
  const numT = num.build();
  const lopts = { counts: opts.counts ?? false, maxElements: maxSegments, minConfidence: opts.minConfidence ?? DEFAULT_MIN_CONFIDENCE };
  const direct = mode === 'ratio' ? localizeRatio(numT, den.build(), lopts) : localize(numT, lopts);
  // Expectations the localiser compared against (ratio mode: real denominator at forecast rate).
  const base = mode === 'ratio' ? ratioExpectationsOfTable(numT, den.build()) : numT.predict;

  // The global alternative: every leaf scaled by one common factor R, the expectation-weighted
  // median of the leaves' factors (a median, so one broken segment does not drag R towards it).
  const R = weightedMedianRatio(numT.real, base);
  let chosen: RootCauseResult = direct;
  let global: DrillResult['global'] = null;
  let scale = 1;
  if (direct.elements.length > 0 && Number.isFinite(R) && R > 0) {
    const scaled = Float64Array.from(base, (f) => f * R);
    const alt = localize({ ...numT, predict: scaled }, lopts);
    if (alt.elements.length < direct.elements.length) {
      chosen = alt;
      scale = R;
      global = {
        ratio: R,
        text: alt.elements.length === 0
          ? `the whole aggregate moved ${describeFactor(R)}: every segment together, no single one stands out`
          : `the whole aggregate moved ${describeFactor(R)}; the segments listed depart from that common move`,
      };
    }
  }

  const segments: Segment[] = chosen.elements.map((e) => {
    // Deltas against the original expectations, so shares add up to the aggregate's delta.
    const obs = e.real;
    const exp = e.predict / scale;
    const delta = scale === 1 ? e.delta : e.real - e.predict; // beyond the common factor
    return {
      pairs: e.pairs,
      text: e.pairs.map((p) => `${p.dimension}=${p.value}`).join(' & '),
      observed: obs,
      expected: exp,
      delta,
      share: totalDelta !== 0 ? delta / totalDelta : 0,
      ratio: scale === 1 ? e.ratio : e.ratio * R,
      confidence: e.confidence,
    };
  });
  return { ...empty, segments, global, noise: chosen.noise };
}

/** Median of real[i]/base[i] over leaves with base > 0, weighted by base[i]; NaN when none. */
function weightedMedianRatio(real: Float64Array, base: Float64Array): number {
  const idx: number[] = [];
  let total = 0;
  for (let i = 0; i < base.length; i++) {
    if (base[i] > 0) {
      idx.push(i);
      total += base[i];
    }
  }
  if (idx.length === 0) return NaN;
  idx.sort((a, b) => real[a] / base[a] - real[b] / base[b]);
  let acc = 0;
  for (const i of idx) {
    acc += base[i];
    if (acc >= total / 2) return real[i] / base[i];
  }
  return real[idx[idx.length - 1]] / base[idx[idx.length - 1]];
}

function ratioExpectationsOfTable(num: LeafTable, den: LeafTable): Float64Array {
  const rows: Row[] = [];
  for (let i = 0; i < num.real.length; i++) rows.push({ labels: {}, real: num.real[i], expected: num.predict[i], denReal: den.real[i], denExpected: den.predict[i] });
  return ratioExpectations(rows);
}

/** `up ×1.50` / `down to ×0.40 of expected`. */
export function describeFactor(r: number): string {
  return r >= 1 ? `up ×${r.toFixed(2)}` : `down to ×${r.toFixed(2)} of expected`;
}
