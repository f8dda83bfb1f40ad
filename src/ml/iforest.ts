/**
 * Isolation Forest (Liu, Ting, Zhou 2008) built for streaming use: a forest is fitted on a
 * sample of normal feature vectors and then scores one vector at a time, on the ingest path.
 *
 * - Trees are flattened into typed arrays shared by the whole forest (feature, split value,
 *   children), and each leaf stores its finished path length (depth + c(leaf size)), so
 *   scoring a vector is a tight loop of compare-and-jump with no allocation and no recursion.
 * - Fitting follows scikit-learn's IsolationForest (sub-sample of `sampleSize` without
 *   replacement, a random non-constant feature per node, a uniform split between its min and
 *   max, depth limited to ceil(log2(sampleSize)), score 2^(-E[h(x)] / c(sampleSize))), so the
 *   two agree on rankings; the benchmark checks it.
 * - Randomness comes from a seeded mulberry32, so a forest is a function of its data and seed.
 * - `ForestBuilder` fits a few trees per call, so a refit can be spread over many ingest
 *   batches instead of stalling one of them.
 * - A forest is plain data (`toJSON` / `fromJSON`): checkpoints and other workers carry it.
 */
import { mulberry32 } from '../series/prng.ts';

const EULER = 0.5772156649015329;

/** Average path length of an unsuccessful search in a binary search tree of n points, c(n). */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER) - (2 * (n - 1)) / n;
}

export interface ForestOptions {
  /** Number of trees. */
  readonly trees: number;
  /** Vectors each tree is built on (fewer when the data has fewer). */
  readonly sampleSize: number;
  readonly seed: number;
}

export const DEFAULT_FOREST_OPTIONS: ForestOptions = Object.freeze({
  trees: 100, // as scikit-learn
  sampleSize: 256, // as scikit-learn and the paper: more rarely helps, costs depth
  seed: 1,
});

/** A fitted forest as plain data. `feature[n] < 0` marks a leaf whose path length is `value[n]`. */
export interface ForestData {
  dims: number;
  sampleSize: number;
  /** Node index of each tree's root. */
  roots: number[];
  feature: number[];
  value: number[];
  left: number[];
  right: number[];
}

/**
 * A fitted Isolation Forest. `score(x)` is in (0, 1): about 0.5 or below for ordinary
 * vectors, near 1 for vectors isolated in few splits.
 */
export class IsolationForest {
  readonly dims: number;
  readonly sampleSize: number;
  readonly #roots: Int32Array;
  /**
   * Node n at [3n, 3n + 3): feature (-1: leaf), split value (a leaf: its path length), right
   * child. The left child is always n + 1 (nodes are laid out depth first), so a step down the
   * tree reads one 24-byte record: the whole forest stays in cache.
   */
  readonly #nodes: Float64Array;
  readonly #data: ForestData;
  /** -1 / (trees x c(sampleSize)): score = 2^(sum of path lengths x this). */
  readonly #norm: number;

  constructor(d: ForestData) {
    this.dims = d.dims;
    this.sampleSize = d.sampleSize;
    this.#roots = Int32Array.from(d.roots);
    const n = d.feature.length;
    const nodes = new Float64Array(3 * n);
    for (let i = 0; i < n; i++) {
      if (d.feature[i] >= 0 && d.left[i] !== i + 1) throw new RangeError(`forest node ${i}: left child must follow its parent`);
      nodes[3 * i] = d.feature[i];
      nodes[3 * i + 1] = d.value[i];
      nodes[3 * i + 2] = d.right[i];
    }
    this.#nodes = nodes;
    this.#data = d;
    const c = averagePathLength(d.sampleSize);
    this.#norm = -1 / (d.roots.length * (c > 0 ? c : 1));
  }

  get trees(): number {
    return this.#roots.length;
  }

  /** The path lengths of `x` summed over the trees (leaves hold h plus c(size)). */
  #pathSum(x: ArrayLike<number>, offset: number): number {
    const roots = this.#roots;
    const nodes = this.#nodes;
    let sum = 0;
    for (let t = 0; t < roots.length; t++) {
      let p = 3 * roots[t];
      let f = nodes[p] | 0;
      while (f >= 0) {
        p = x[offset + f] < nodes[p + 1] ? p + 3 : (3 * nodes[p + 2]) | 0;
        f = nodes[p] | 0;
      }
      sum += nodes[p + 1];
    }
    return sum;
  }

  /** Mean path length of `x` over the trees: E[h(x)]. */
  pathLength(x: ArrayLike<number>, offset = 0): number {
    return this.#pathSum(x, offset) / this.#roots.length;
  }

  /** The anomaly score of one vector (read from `x[offset .. offset + dims)`). */
  score(x: ArrayLike<number>, offset = 0): number {
    return 2 ** (this.#pathSum(x, offset) * this.#norm);
  }

  toJSON(): ForestData {
    const d = this.#data;
    return { dims: d.dims, sampleSize: d.sampleSize, roots: d.roots.slice(), feature: d.feature.slice(), value: d.value.slice(), left: d.left.slice(), right: d.right.slice() };
  }

  static fromJSON(d: ForestData): IsolationForest {
    return new IsolationForest(d);
  }
}

/**
 * Fits a forest a few trees at a time: `step(k)` builds up to k trees and returns true once
 * all are built; `forest()` then returns the result. The data is copied at construction, so
 * the caller may keep changing its own buffer meanwhile.
 */
export class ForestBuilder {
  readonly #data: Float64Array;
  readonly #rows: number;
  readonly #dims: number;
  readonly #psi: number;
  readonly #trees: number;
  readonly #rand: () => number;
  readonly #maxDepth: number;
  /** Row indices of the current tree's sample, partitioned in place while building. */
  readonly #idx: Int32Array;
  readonly #all: Int32Array;
  readonly #out: ForestData;
  #built = 0;

  /** `data` holds `rows` vectors of `dims` values, row after row. */
  constructor(data: ArrayLike<number>, rows: number, dims: number, options: Partial<ForestOptions> = {}) {
    const o = { ...DEFAULT_FOREST_OPTIONS, ...options };
    if (!(rows >= 1) || !(dims >= 1)) throw new RangeError('a forest needs at least one row and one feature');
    this.#data = Float64Array.from({ length: rows * dims }, (_, i) => data[i]);
    this.#rows = rows;
    this.#dims = dims;
    this.#psi = Math.min(o.sampleSize, rows);
    this.#trees = o.trees;
    this.#rand = mulberry32(o.seed);
    this.#maxDepth = Math.max(1, Math.ceil(Math.log2(Math.max(2, this.#psi))));
    this.#idx = new Int32Array(this.#psi);
    this.#all = new Int32Array(rows);
    for (let i = 0; i < rows; i++) this.#all[i] = i;
    this.#out = { dims, sampleSize: this.#psi, roots: [], feature: [], value: [], left: [], right: [] };
  }

  get done(): boolean {
    return this.#built >= this.#trees;
  }

  /** Trees built so far: a builder made again from the same data and seed, stepped this far, is in the same state. */
  get built(): number {
    return this.#built;
  }

  /** Builds up to `k` more trees; true when the forest is complete. */
  step(k = Infinity): boolean {
    for (let i = 0; i < k && this.#built < this.#trees; i++) this.#tree();
    return this.done;
  }

  forest(): IsolationForest {
    if (!this.done) this.step();
    return new IsolationForest(this.#out);
  }

  #tree(): void {
    // A partial Fisher-Yates shuffle picks the sample without replacement.
    const all = this.#all;
    const rand = this.#rand;
    const n = this.#rows;
    for (let i = 0; i < this.#psi; i++) {
      const j = i + Math.floor(rand() * (n - i));
      const tmp = all[i];
      all[i] = all[j];
      all[j] = tmp;
      this.#idx[i] = all[i];
    }
    this.#out.roots.push(this.#node(0, this.#psi, 0));
    this.#built++;
  }

  /** Builds the node for sample rows idx[lo..hi) at `depth`; returns its index. */
  #node(lo: number, hi: number, depth: number): number {
    const o = this.#out;
    const id = o.feature.length;
    o.feature.push(-1);
    o.value.push(0);
    o.left.push(-1);
    o.right.push(-1);
    const size = hi - lo;
    if (size <= 1 || depth >= this.#maxDepth) {
      o.value[id] = depth + averagePathLength(size);
      return id;
    }
    const data = this.#data;
    const dims = this.#dims;
    const idx = this.#idx;
    const rand = this.#rand;
    // A random feature that is not constant here; try each feature at most once, in random order.
    let f = -1;
    let min = 0;
    let max = 0;
    const start = Math.floor(rand() * dims);
    for (let k = 0; k < dims; k++) {
      const c = (start + k) % dims;
      let mn = Infinity;
      let mx = -Infinity;
      for (let i = lo; i < hi; i++) {
        const v = data[idx[i] * dims + c];
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      if (mx > mn) {
        f = c;
        min = mn;
        max = mx;
        break;
      }
    }
    if (f < 0) {
      // Every feature is constant: these rows cannot be told apart.
      o.value[id] = depth + averagePathLength(size);
      return id;
    }
    let split = min + rand() * (max - min);
    if (!(split > min)) split = max; // keep both sides non-empty: min goes left, max right
    let a = lo;
    let b = hi - 1;
    while (a <= b) {
      if (data[idx[a] * dims + f] < split) a++;
      else {
        const tmp = idx[a];
        idx[a] = idx[b];
        idx[b--] = tmp;
      }
    }
    o.feature[id] = f;
    o.value[id] = split;
    const l = this.#node(lo, a, depth + 1);
    o.left[id] = l;
    o.right[id] = this.#node(a, hi, depth + 1);
    return id;
  }
}

/**
 * Fits a forest at once on `rows` vectors of `dims` values (row after row).
 * @example const f = fitForest(data, 1000, 8); f.score(vector)
 */
export function fitForest(data: ArrayLike<number>, rows: number, dims: number, options: Partial<ForestOptions> = {}): IsolationForest {
  return new ForestBuilder(data, rows, dims, options).forest();
}

/** One feature's share in a vector's anomaly score (see `contributions`). */
export interface Contribution {
  feature: number;
  /** Score drop when this feature alone is set to its typical value; >= 0 means it mattered. */
  gain: number;
  /** Robust z of the value against the typical one: its direction and size. */
  z: number;
}

/**
 * Per-feature contributions to the score of `x`: for each feature i, how much the score falls
 * when x[i] is replaced by the feature's median (the other features kept), sorted by gain.
 *
 * Chosen over depth-weighted split attribution (crediting the features split on along x's
 * path), because that credits whatever feature happened to be split early, including the ones
 * that are perfectly normal, and cannot tell "latency is high for this QPS" from "QPS is
 * ordinary": replacing a normal QPS with its median changes nothing, replacing the odd latency
 * makes the vector ordinary. It is counterfactual and names what to look at, costs d + 1
 * scorings (only for vectors that scored high), and works with any model.
 * `median` and `scale` (a MAD or similar, > 0) describe the training data per feature.
 */
export function contributions(forest: IsolationForest, x: ArrayLike<number>, median: ArrayLike<number>, scale: ArrayLike<number>): Contribution[] {
  const d = forest.dims;
  const v = Float64Array.from({ length: d }, (_, i) => x[i]);
  const base = forest.score(v);
  const out: Contribution[] = [];
  for (let i = 0; i < d; i++) {
    const keep = v[i];
    v[i] = median[i];
    const s = forest.score(v);
    v[i] = keep;
    const sc = scale[i] > 0 ? scale[i] : 1;
    out.push({ feature: i, gain: base - s, z: (keep - median[i]) / sc });
  }
  out.sort((a, b) => b.gain - a.gain || Math.abs(b.z) - Math.abs(a.z));
  return out;
}

/** Median and MAD (scaled to a normal's sigma, floored) of each feature of `rows` vectors. */
export function featureStats(data: ArrayLike<number>, rows: number, dims: number): { median: Float64Array; scale: Float64Array } {
  const median = new Float64Array(dims);
  const scale = new Float64Array(dims);
  const col = new Float64Array(rows);
  for (let f = 0; f < dims; f++) {
    for (let r = 0; r < rows; r++) col[r] = data[r * dims + f];
    col.sort();
    const m = rows === 0 ? NaN : rows % 2 ? col[rows >> 1] : (col[rows / 2 - 1] + col[rows / 2]) / 2;
    for (let r = 0; r < rows; r++) col[r] = Math.abs(col[r] - m);
    col.sort();
    const mad = rows === 0 ? 0 : col[rows >> 1] * 1.4826;
    median[f] = m;
    scale[f] = Math.max(mad, 1e-9 * Math.abs(m), 1e-12);
  }
  return { median, scale };
}
