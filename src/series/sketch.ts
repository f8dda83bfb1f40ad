/**
 * Quantile sketches per time window, for latency-like metrics and histograms.
 *
 * DDSketch (@datadog/sketches-js) rather than t-digest or KLL: its error is relative to the
 * value (1% here), so p99 of a latency is right to 1% whether it is 2 ms or 20 s, where
 * t-digest and KLL bound the error in rank, which on a long tail can mean a p99 off by a
 * factor; two sketches built with the same accuracy merge exactly (bin counts add), so
 * windows merge into longer ones and nodes merge into a cluster view with no loss; and
 * inserting is a logarithm and an array increment. Memory is bounded by `binLimit` bins
 * per sign (the collapsing store folds the lowest bins, which only blurs the far low end,
 * never the tail we alert on): about 700 bins cover 1 ms .. 1000 s at 1%.
 *
 * The library's own serialisation (`toProto`) needs protobufjs, which it does not depend on,
 * so checkpoints carry `SketchData`: the bins as plain numbers, mergeable without the library.
 *
 * This is the one file of `series/` with a runtime dependency: the library has none of its
 * own and does only arithmetic, so the "no HTTP, database or bus code" rule still holds.
 */
import { LogCollapsingLowestDenseDDSketch } from '@datadog/sketches-js';

/** Relative accuracy of every sketch Tidemark builds: all of them merge with each other. */
export const SKETCH_ACCURACY = 0.01;
/** Bins per sign before the lowest are collapsed (2048 x 1% spans 17 decades). */
export const SKETCH_BIN_LIMIT = 2048;

type DD = LogCollapsingLowestDenseDDSketch;

/** One store's bins: `counts[i]` is the weight of key `minKey + i`. */
export interface StoreData {
  minKey: number;
  counts: number[];
}

/** A sketch as plain data (JSON-safe): what checkpoints and other nodes exchange. */
export interface SketchData {
  accuracy: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  zero: number;
  pos: StoreData;
  neg: StoreData;
}

/** A mergeable quantile sketch with a 1% relative-error guarantee. */
export class QuantileSketch {
  readonly #dd: DD;

  constructor() {
    this.#dd = new LogCollapsingLowestDenseDDSketch({ relativeAccuracy: SKETCH_ACCURACY, binLimit: SKETCH_BIN_LIMIT });
  }

  get count(): number {
    return this.#dd.count;
  }

  get min(): number {
    return this.#dd.min;
  }

  get max(): number {
    return this.#dd.max;
  }

  get sum(): number {
    return this.#dd.sum;
  }

  /** Adds a value (NaN and infinities are skipped: they have no quantile). */
  add(value: number, weight = 1): void {
    if (value - value !== 0 || !(weight > 0)) return;
    this.#dd.accept(value, weight);
  }

  /** The value at quantile q in [0, 1], within 1% of the exact one; NaN when empty. */
  quantile(q: number): number {
    return this.#dd.count === 0 ? NaN : this.#dd.getValueAtQuantile(q);
  }

  /** Adds every value of `other` to this sketch (exact: the bins add). */
  merge(other: QuantileSketch): void {
    const a = this.#dd;
    const b = other.#dd;
    if (b.count === 0) return;
    // Not `DDSketch.merge`: in 2.1.1 it drops the other sketch's negative values.
    a.store.merge(b.store);
    a.negativeStore.merge(b.negativeStore);
    a.zeroCount += b.zeroCount;
    a.count += b.count;
    a.sum += b.sum;
    if (b.min < a.min) a.min = b.min;
    if (b.max > a.max) a.max = b.max;
  }

  /**
   * The sorted bin centres and their weights, for distance computations (drift).
   * Negative values first, then zeros, then positive ones.
   */
  bins(): { values: Float64Array; weights: Float64Array } {
    const d = this.toData();
    const n = d.neg.counts.length + (d.zero > 0 ? 1 : 0) + d.pos.counts.length;
    const values = new Float64Array(n);
    const weights = new Float64Array(n);
    const m = this.#dd.mapping;
    let k = 0;
    for (let i = d.neg.counts.length - 1; i >= 0; i--) {
      values[k] = -m.value(d.neg.minKey + i);
      weights[k++] = d.neg.counts[i];
    }
    if (d.zero > 0) {
      values[k] = 0;
      weights[k++] = d.zero;
    }
    for (let i = 0; i < d.pos.counts.length; i++) {
      values[k] = m.value(d.pos.minKey + i);
      weights[k++] = d.pos.counts[i];
    }
    let j = 0;
    for (let i = 0; i < k; i++) {
      if (weights[i] === 0) continue;
      values[j] = values[i];
      weights[j++] = weights[i];
    }
    return { values: values.subarray(0, j), weights: weights.subarray(0, j) };
  }

  toData(): SketchData {
    const dd = this.#dd;
    return {
      accuracy: SKETCH_ACCURACY,
      count: dd.count,
      sum: dd.sum,
      // An empty sketch's min/max are +-Infinity, which JSON cannot carry.
      min: dd.count > 0 ? dd.min : 0,
      max: dd.count > 0 ? dd.max : 0,
      zero: dd.zeroCount,
      pos: storeData(dd.store),
      neg: storeData(dd.negativeStore),
    };
  }

  /** Rebuilds a sketch from `toData()` output (of this node or another). */
  static fromData(d: SketchData): QuantileSketch {
    if (d.accuracy !== SKETCH_ACCURACY) throw new Error(`sketch accuracy ${d.accuracy} does not match ${SKETCH_ACCURACY}; sketches of different accuracy do not merge`);
    const s = new QuantileSketch();
    const dd = s.#dd;
    for (let i = 0; i < d.pos.counts.length; i++) if (d.pos.counts[i] > 0) dd.store.add(d.pos.minKey + i, d.pos.counts[i]);
    for (let i = 0; i < d.neg.counts.length; i++) if (d.neg.counts[i] > 0) dd.negativeStore.add(d.neg.minKey + i, d.neg.counts[i]);
    dd.zeroCount = d.zero;
    dd.count = d.count;
    dd.sum = d.sum;
    if (d.count > 0) {
      dd.min = d.min;
      dd.max = d.max;
    }
    return s;
  }
}

function storeData(st: DD['store']): StoreData {
  if (st.count === 0 || st.minKey > st.maxKey) return { minKey: 0, counts: [] };
  const counts: number[] = [];
  for (let k = st.minKey; k <= st.maxKey; k++) counts.push(st.bins[k - st.offset] ?? 0);
  return { minKey: st.minKey, counts };
}

/** One closed window's derived quantiles: the points the univariate detectors watch. */
export interface WindowQuantiles {
  /** The window's end (ms), the timestamp of the derived points. */
  t: number;
  count: number;
  p50: number;
  p95: number;
  p99: number;
}

/** Plain-data state of `WindowedSketch` for checkpoints. */
export interface WindowedSketchData {
  windowMs: number;
  keep: number;
  /** Start (ms) of the open window; null before the first value. */
  openStart: number | null;
  open: SketchData;
  /** Closed windows, oldest first, with their start times. */
  closed: Array<{ start: number; sketch: SketchData }>;
}

/**
 * A series' values sketched per fixed window of `windowMs`, the last `keep` closed windows
 * kept for merging (baselines, longer ranges). `add` returns the quantiles of the window it
 * closed, if any: feed `p50`/`p95`/`p99` to a detector set as derived series.
 * @example const w = new WindowedSketch(60_000, 60); const closed = w.add(t, latencyMs); if (closed) set.update(s, closed.t, closed.p99, out);
 */
export class WindowedSketch {
  readonly windowMs: number;
  readonly keep: number;
  #openStart = NaN;
  #open = new QuantileSketch();
  readonly #closed: Array<{ start: number; sketch: QuantileSketch }> = [];

  constructor(windowMs: number, keep: number) {
    if (!(windowMs > 0) || !(keep >= 1)) throw new RangeError('windowMs must be positive and keep at least 1');
    this.windowMs = windowMs;
    this.keep = Math.floor(keep);
  }

  /** Adds a value at time t (ms). Values older than the open window are added to it (late points). */
  add(t: number, value: number): WindowQuantiles | undefined {
    const start = t - (((t % this.windowMs) + this.windowMs) % this.windowMs);
    let closed: WindowQuantiles | undefined;
    if (this.#openStart !== this.#openStart) this.#openStart = start;
    else if (start > this.#openStart) {
      closed = this.close();
      this.#openStart = start;
    }
    this.#open.add(value);
    return closed;
  }

  /** Closes the open window now (e.g. on a clock tick with no new value); undefined when it is empty. */
  close(): WindowQuantiles | undefined {
    const open = this.#open;
    const start = this.#openStart;
    this.#open = new QuantileSketch();
    if (open.count === 0) return undefined;
    this.#closed.push({ start, sketch: open });
    if (this.#closed.length > this.keep) this.#closed.shift();
    return { t: start + this.windowMs, count: open.count, p50: open.quantile(0.5), p95: open.quantile(0.95), p99: open.quantile(0.99) };
  }

  /** The merge of closed windows whose start is in [from, to): a baseline or a longer range. */
  merged(from = -Infinity, to = Infinity): QuantileSketch {
    const out = new QuantileSketch();
    for (const w of this.#closed) if (w.start >= from && w.start < to) out.merge(w.sketch);
    return out;
  }

  /** The window still filling (read-only use: it is replaced when it closes). */
  get open(): QuantileSketch {
    return this.#open;
  }

  toData(): WindowedSketchData {
    return {
      windowMs: this.windowMs,
      keep: this.keep,
      openStart: this.#openStart === this.#openStart ? this.#openStart : null,
      open: this.#open.toData(),
      closed: this.#closed.map((w) => ({ start: w.start, sketch: w.sketch.toData() })),
    };
  }

  static fromData(d: WindowedSketchData): WindowedSketch {
    const w = new WindowedSketch(d.windowMs, d.keep);
    w.#openStart = d.openStart ?? NaN;
    w.#open = QuantileSketch.fromData(d.open);
    for (const c of d.closed) w.#closed.push({ start: c.start, sketch: QuantileSketch.fromData(c.sketch) });
    return w;
  }
}
