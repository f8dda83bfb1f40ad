/**
 * An Isolation Forest per entity for streaming use: it learns from a reservoir of the
 * entity's recent normal vectors, refits on a schedule a few trees per vector (so no ingest
 * batch waits for a whole fit), and scores every new vector on the detector scale
 * (0.5 unusual, 0.9 clearly anomalous).
 *
 * Whitening: the forest splits one feature at a time, so a vector whose every value is
 * ordinary but whose combination is not (latency of peak hours at night-time QPS) is isolated
 * late, no sooner than an ordinary vector at the edge of the data. Each vector is therefore
 * given to the forest with its whitened coordinates appended (L^-1 (x - mean), L the Cholesky
 * factor of the training covariance), in which such a combination is an extreme value of one
 * coordinate. Explanations still speak of the original features.
 */
import { hill } from '../detect/define.ts';
import { type Contribution, contributions, type ForestData, ForestBuilder, featureStats, IsolationForest } from './iforest.ts';

export interface StreamingForestOptions {
  /** Normal vectors kept (the most recent ones: older behaviour ages out). */
  readonly reservoir: number;
  /** Vectors needed before the first fit; until then every vector scores as learning (NaN). */
  readonly minFit: number;
  /** Vectors between refits. */
  readonly refitEvery: number;
  /** Trees built per observed vector while a refit is under way. */
  readonly treesPerStep: number;
  readonly trees: number;
  readonly sampleSize: number;
  readonly seed: number;
  /** Append whitened coordinates to each vector (see above). */
  readonly whiten: boolean;
}

export const DEFAULT_STREAMING_OPTIONS: StreamingForestOptions = Object.freeze({
  reservoir: 2048, // vectors: 34 h of 1 min steps
  minFit: 1440, // vectors: a day of 1 min steps, so the first forest has seen a whole daily cycle
  refitEvery: 256, // vectors
  treesPerStep: 10, // a 100-tree refit spans 10 vectors, ~1 ms of work each
  trees: 100,
  sampleSize: 256,
  seed: 1,
  whiten: true,
});

/** Calibrated score below which a vector is taken as normal and may join the reservoir. */
const NORMAL_MAX = 0.3;
/** One in this many unusual vectors joins the reservoir anyway (see `observe`). */
const ADMIT_UNUSUAL = 10;
/** The training score quantile that calibrates to 0.5 ("unusual"). */
const CALIBRATION_Q = 0.995;
/** Reservoir rows scored to calibrate a new forest. */
const CALIBRATION_ROWS = 512;

/**
 * Plain-data state of a StreamingForest. A refit under way is kept as its training rows and
 * the number of trees built: the builder is seeded, so building that many again from the same
 * rows puts it where it was, and a restored forest scores exactly as the original would have.
 */
export interface StreamingForestData {
  dims: number;
  options: StreamingForestOptions;
  rows: number[];
  count: number;
  next: number;
  sinceFit: number;
  fits: number;
  unusual: number;
  forest: ForestData | null;
  mean: number[];
  chol: number[];
  median: number[];
  scale: number[];
  centre: number;
  spread: number;
  /** The refit under way (absent in state written before refits were kept: it restarts). */
  refit?: { rows: number[]; built: number } | null;
}

export class StreamingForest {
  readonly dims: number;
  readonly options: StreamingForestOptions;
  readonly #rows: Float64Array;
  #count = 0;
  #next = 0;
  #sinceFit = 0;
  #fits = 0;
  #unusual = 0;
  #forest: IsolationForest | null = null;
  #builder: ForestBuilder | null = null;
  #pendingRows: Float64Array | null = null;
  #pendingMean: Float64Array | null = null;
  #pendingChol: Float64Array | null = null;
  /** Training mean and the Cholesky factor L of its covariance (row-major, lower). */
  #mean: Float64Array;
  #chol: Float64Array;
  /** The vector as the forest sees it: the features, then (whitening on) their whitened coordinates. */
  readonly #aug: Float64Array;
  readonly #probe: Float64Array;
  #median: Float64Array;
  #scale: Float64Array;
  /** Median raw score of the training vectors, and p99.5 minus it: the calibration. */
  #centre = 0.5;
  #spread = 0.05;

  constructor(dims: number, options: Partial<StreamingForestOptions> = {}) {
    this.dims = dims;
    this.options = Object.freeze({ ...DEFAULT_STREAMING_OPTIONS, ...options });
    this.#rows = new Float64Array(this.options.reservoir * dims);
    this.#median = new Float64Array(dims);
    this.#scale = new Float64Array(dims).fill(1);
    this.#mean = new Float64Array(dims);
    this.#chol = new Float64Array(dims * dims);
    this.#aug = new Float64Array(this.options.whiten ? 2 * dims : dims);
    this.#probe = new Float64Array(dims);
  }

  /** The forest in use (null until the first fit completes). */
  get forest(): IsolationForest | null {
    return this.#forest;
  }

  get fits(): number {
    return this.#fits;
  }

  get refitting(): boolean {
    return this.#builder !== null;
  }

  /** Raw Isolation Forest score of `x` (NaN before the first fit). */
  rawScore(x: ArrayLike<number>): number {
    return this.#forest === null ? NaN : this.#forest.score(this.#augment(x, this.#mean, this.#chol, this.#aug, 0));
  }

  /** Score of `x` on the detector scale: 0.5 at the 99.5th percentile of training vectors. NaN before the first fit. */
  score(x: ArrayLike<number>): number {
    if (this.#forest === null) return NaN;
    const over = this.#forest.score(this.#augment(x, this.#mean, this.#chol, this.#aug, 0)) - this.#centre;
    return over > 0 ? hill(over, this.#spread) : 0;
  }

  /**
   * Scores `x`, then learns: a normal vector joins the reservoir, and the refit schedule
   * advances (a refit under way builds `treesPerStep` more trees). Returns the score (NaN
   * while learning). `x` is read, never kept.
   */
  observe(x: ArrayLike<number>): number {
    const s = this.score(x);
    // An unusual vector joins the reservoir only one time in ADMIT_UNUSUAL: a short incident
    // barely teaches the forest, while a lasting new normal is learned, ten times slower.
    if (!(s >= NORMAL_MAX) || ++this.#unusual % ADMIT_UNUSUAL === 0) this.#remember(x);
    this.advance();
    return s;
  }

  /**
   * Moves the refit schedule one vector on without scoring anything: the cascade calls it for
   * vectors it did not evaluate, so models keep learning on schedule.
   */
  advance(): void {
    this.#sinceFit++;
    if (this.#builder !== null) {
      if (this.#builder.step(this.options.treesPerStep)) this.#install();
      return;
    }
    const ready = this.#forest === null ? this.#count >= this.options.minFit : this.#sinceFit >= this.options.refitEvery;
    if (ready) this.#startFit();
  }

  /** Adds a vector the caller knows is normal (warm start from history). */
  learn(x: ArrayLike<number>): void {
    this.#remember(x);
    this.advance();
  }

  /** Per-feature contributions to x's score, highest first (empty before the first fit). */
  explain(x: ArrayLike<number>): Contribution[] {
    const f = this.#forest;
    if (f === null) return [];
    if (!this.options.whiten) return contributions(f, x, this.#median, this.#scale);
    // The same counterfactual as `contributions`, on the original features: each replaced by
    // its median, the whitened coordinates recomputed.
    const d = this.dims;
    const v = this.#probe;
    for (let i = 0; i < d; i++) v[i] = x[i];
    const base = f.score(this.#augment(v, this.#mean, this.#chol, this.#aug, 0));
    const out: Contribution[] = [];
    for (let i = 0; i < d; i++) {
      v[i] = this.#median[i];
      const s = f.score(this.#augment(v, this.#mean, this.#chol, this.#aug, 0));
      v[i] = x[i];
      out.push({ feature: i, gain: base - s, z: (x[i] - this.#median[i]) / this.#scale[i] });
    }
    out.sort((a, b) => b.gain - a.gain || Math.abs(b.z) - Math.abs(a.z));
    return out;
  }

  /** Writes the forest's view of x (from x[from]) into out: x, then L^-1 (x - mean) when whitening. */
  #augment(x: ArrayLike<number>, mean: Float64Array, chol: Float64Array, out: Float64Array, at: number, from = 0): Float64Array {
    const d = this.dims;
    for (let i = 0; i < d; i++) out[at + i] = x[from + i];
    if (!this.options.whiten) return out;
    // Forward substitution: z_i = (x_i - mean_i - sum_{j<i} L_ij z_j) / L_ii.
    for (let i = 0; i < d; i++) {
      let r = x[from + i] - mean[i];
      for (let j = 0; j < i; j++) r -= chol[i * d + j] * out[at + d + j];
      out[at + d + i] = r / chol[i * d + i];
    }
    return out;
  }

  #remember(x: ArrayLike<number>): void {
    const d = this.dims;
    for (let i = 0; i < d; i++) if (x[i] - x[i] !== 0) return; // a vector with a gap teaches nothing
    const at = this.#next * d;
    for (let i = 0; i < d; i++) this.#rows[at + i] = x[i];
    this.#next = (this.#next + 1) % this.options.reservoir;
    if (this.#count < this.options.reservoir) this.#count++;
  }

  /** Starts a refit on the reservoir (or, restoring a refit under way, on its training rows). */
  #startFit(from?: Float64Array): void {
    const d = this.dims;
    const rows = from ?? this.#rows.slice(0, this.#count * d);
    const n = rows.length / d;
    const { mean, chol } = whitening(rows, n, d);
    const w = this.#aug.length;
    const aug = new Float64Array(n * w);
    for (let r = 0; r < n; r++) this.#augment(rows, mean, chol, aug, r * w, r * d);
    this.#pendingRows = rows;
    this.#pendingMean = mean;
    this.#pendingChol = chol;
    this.#builder = new ForestBuilder(aug, n, w, { trees: this.options.trees, sampleSize: this.options.sampleSize, seed: this.options.seed + this.#fits });
    this.#sinceFit = 0;
  }

  #install(): void {
    const f = this.#builder!.forest();
    const rows = this.#pendingRows!;
    const n = rows.length / this.dims;
    this.#builder = null;
    this.#pendingRows = null;
    this.#mean = this.#pendingMean!;
    this.#chol = this.#pendingChol!;
    const { median, scale } = featureStats(rows, n, this.dims);
    // Calibrate on (up to) the newest training rows: their score spread is this entity's normal.
    const m = Math.min(n, CALIBRATION_ROWS);
    const scores = new Float64Array(m);
    for (let i = 0; i < m; i++) scores[i] = f.score(this.#augment(rows, this.#mean, this.#chol, this.#aug, 0, (n - 1 - i) * this.dims));
    scores.sort();
    const centre = scores[m >> 1];
    const p99 = scores[Math.min(m - 1, Math.floor(CALIBRATION_Q * (m - 1)))];
    this.#forest = f;
    this.#median = median;
    this.#scale = scale;
    this.#centre = centre;
    this.#spread = Math.max(p99 - centre, 0.02);
    this.#fits++;
  }

  toJSON(): StreamingForestData {
    return {
      dims: this.dims,
      options: this.options,
      rows: Array.from(this.#rows.subarray(0, this.#count * this.dims)),
      count: this.#count,
      next: this.#next,
      sinceFit: this.#sinceFit,
      fits: this.#fits,
      unusual: this.#unusual,
      forest: this.#forest?.toJSON() ?? null,
      mean: Array.from(this.#mean),
      chol: Array.from(this.#chol),
      median: Array.from(this.#median),
      scale: Array.from(this.#scale),
      centre: this.#centre,
      spread: this.#spread,
      refit: this.#builder !== null ? { rows: Array.from(this.#pendingRows!), built: this.#builder.built } : null,
    };
  }

  static fromJSON(d: StreamingForestData): StreamingForest {
    const s = new StreamingForest(d.dims, d.options);
    s.#rows.set(d.rows);
    s.#count = d.count;
    s.#next = d.next;
    s.#sinceFit = d.sinceFit;
    s.#fits = d.fits;
    s.#unusual = d.unusual;
    s.#forest = d.forest ? IsolationForest.fromJSON(d.forest) : null;
    s.#mean = Float64Array.from(d.mean);
    s.#chol = Float64Array.from(d.chol);
    s.#median = Float64Array.from(d.median);
    s.#scale = Float64Array.from(d.scale);
    s.#centre = d.centre;
    s.#spread = d.spread;
    if (d.refit) {
      s.#startFit(Float64Array.from(d.refit.rows));
      s.#sinceFit = d.sinceFit;
      s.#builder!.step(d.refit.built);
    }
    return s;
  }
}

/**
 * Mean and Cholesky factor of the covariance of `n` rows of `d` values, with a small ridge on
 * the diagonal so that a constant or collinear feature still factors.
 */
export function whitening(rows: ArrayLike<number>, n: number, d: number): { mean: Float64Array; chol: Float64Array } {
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) mean[i] += rows[r * d + i] / n;
  const cov = new Float64Array(d * d);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < d; i++) {
      const a = rows[r * d + i] - mean[i];
      for (let j = 0; j <= i; j++) cov[i * d + j] += (a * (rows[r * d + j] - mean[j])) / n;
    }
  }
  for (let i = 0; i < d; i++) cov[i * d + i] += Math.max(1e-6 * cov[i * d + i], 1e-12 * mean[i] * mean[i], 1e-12);
  const L = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = cov[i * d + j];
      for (let k = 0; k < j; k++) sum -= L[i * d + k] * L[j * d + k];
      if (i === j) L[i * d + i] = Math.sqrt(Math.max(sum, 1e-12 * cov[i * d + i] + 1e-300));
      else L[i * d + j] = sum / L[j * d + j];
    }
  }
  return { mean, chol: L };
}
