/**
 * Multi-dimensional root-cause localisation by minimum description length.
 *
 * The model. A leaf is normal when its observed value sits on its forecast, up to a relative
 * noise whose scale is estimated robustly: most leaves are normal, so 1.4826 * the median
 * absolute deviation of their symmetric relative errors 2(v-f)/(|v|+|f|) is the noise; once an
 * explanation is found, the scale is re-estimated on the leaves it leaves normal, and the search
 * repeated until the explanation is stable. A root cause is an
 * element (one value for each of a few dimensions, e.g. `dc=eu&version=v2`) whose leaves all
 * moved by one common factor `r` (the ripple effect: a fault scales what flows through it).
 * Residuals are scored with a Student-t log-likelihood with 4 degrees of freedom (the robust
 * default of Lange, Little & Taylor, JASA 1989): near-Gaussian for ordinary noise, but a single
 * odd leaf (a rounded small count, an overlap with another cause) costs a logarithmic amount
 * instead of dominating the fit.
 *
 * The search. Greedily add the element whose explanation saves the most nats of residual
 * code length, net of what it costs to name it: log(#layers) + log(#cuboids in its layer) +
 * log(#possible elements in its cuboid) + 1/2 log(n) for its fitted factor (the two-part MDL /
 * BIC price). Stop when nothing pays for itself. This needs no per-dataset threshold: a parent
 * element is rejected because its unaffected leaves fit badly, a child because it explains
 * fewer leaves at a higher naming cost, and noise because it cannot beat the naming cost.
 * Evidence above the cost, in nats, is the log posterior odds of the element; its logistic is
 * the reported confidence.
 */
import { TidemarkError } from '../errors.ts';
import type { LeafTable } from './table.ts';

/** Tuning knobs; the defaults are the documented model, not fitted to any dataset. */
export interface LocalizeOptions {
  /** Deepest element searched, in dimensions. Default min(#dimensions, 4): the search grows as 2^dims. */
  readonly maxLayer?: number;
  /** Most elements reported. Default 10. */
  readonly maxElements?: number;
  /** Report elements only while their confidence is at least this. Default 0.5 (evidence pays its cost). */
  readonly minConfidence?: number;
  /**
   * The values are event counts (requests, errors): add Poisson variance to the relative
   * forecast noise, so that leaves with a handful of events weigh little. Default false: noise
   * purely relative, which needs no unit and suits sums of any positive quantity.
   */
  readonly counts?: boolean;
}

export interface DimensionValue {
  readonly dimension: string;
  readonly value: string;
}

/** One suspected root cause. */
export interface RootCauseElement {
  /** `dimension=value` pairs in the table's dimension order. */
  readonly pairs: readonly DimensionValue[];
  /** Number of dimensions fixed by the element (1 = a single label value). */
  readonly layer: number;
  /** Sum of observed values over the element's leaves. */
  readonly real: number;
  /** Sum of forecasts over the element's leaves. */
  readonly predict: number;
  /** Fitted common factor real/predict of the leaves this element explains. */
  readonly ratio: number;
  /** real - predict over the leaves attributed to this element (overlaps go to the first found). */
  readonly delta: number;
  /** delta / (total real - total predict); may exceed 1 or be negative when other leaves' noise cancels. */
  readonly share: number;
  /** Log posterior odds in nats: residual code length saved minus the cost of naming the element. */
  readonly evidence: number;
  /** logistic(evidence), in (0, 1). */
  readonly confidence: number;
}

export interface RootCauseResult {
  /** Suspects, strongest evidence first. Empty when nothing explains more than it costs. */
  readonly elements: readonly RootCauseElement[];
  readonly totalReal: number;
  readonly totalPredict: number;
  /**
   * Relative noise scale of the leaves left normal: 1.4826 * MAD of their symmetric relative
   * errors, or for counts the relative part beside Poisson noise.
   */
  readonly noise: number;
  /** Sum of the elements' deltas over the total delta. */
  readonly explained: number;
  /** Leaves in the table, and those with a non-zero real or forecast value. */
  readonly leaves: number;
  readonly informativeLeaves: number;
}

/** Formats an element as `a=a1&b=b2` (the benchmark notation). */
export function formatElement(pairs: readonly DimensionValue[]): string {
  return pairs.map((p) => `${p.dimension}=${p.value}`).join('&');
}

// Numerical floor of the noise scale: a table whose normal leaves match their forecast exactly
// would otherwise give infinite z-scores.
const MIN_NOISE = 1e-6;
// Degrees of freedom of the Student-t residual model, and its per-leaf code length in nats
// (up to terms that cancel between hypotheses): (nu+1)/2 * ln(1 + z^2/nu).
const NU = 4;
const HALF_NU1 = (NU + 1) / 2;
const INV_NU = 1 / NU;

// A cuboid with more possible elements than this many per informative leaf gets its keys
// renumbered densely, so buffers stay proportional to the leaves present, not to the product
// of cardinalities.
const DENSE_PER_LEAF = 4;

interface Cuboid {
  readonly dims: readonly number[];
  /** Element id per informative leaf. */
  readonly keys: Int32Array;
  /** Number of element ids. */
  readonly size: number;
  /** Nats to name an element of this cuboid. */
  readonly cost: number;
}

function checkTable(t: LeafTable): void {
  const n = t.real.length;
  if (t.dimensions.length === 0) throw new TidemarkError('TM_ERR_INPUT', 'a leaf table needs at least one dimension');
  if (t.predict.length !== n) throw new TidemarkError('TM_ERR_INPUT', `real has ${n} leaves but predict has ${t.predict.length}`);
  if (t.codes.length !== t.dimensions.length || t.values.length !== t.dimensions.length) {
    throw new TidemarkError('TM_ERR_INPUT', `a leaf table needs codes and values for each of its ${t.dimensions.length} dimensions`);
  }
  for (let d = 0; d < t.codes.length; d++) {
    const codes = t.codes[d];
    if (codes.length !== n) {
      throw new TidemarkError('TM_ERR_INPUT', `dimension '${t.dimensions[d]}' has ${codes.length} codes for ${n} leaves`);
    }
    const card = t.values[d].length;
    for (let i = 0; i < n; i++) {
      if (!(codes[i] >= 0 && codes[i] < card)) {
        throw new TidemarkError('TM_ERR_INPUT', `leaf ${i} has code ${codes[i]} in dimension '${t.dimensions[d]}', which has ${card} values`);
      }
    }
  }
}

function lnChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

function median(xs: Float64Array): number {
  if (xs.length === 0) return 0;
  const s = xs.slice().sort();
  const h = s.length >> 1;
  return s.length % 2 === 1 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** Replaces each key by its rank of first appearance; returns the number of distinct keys. */
function renumber(key: Float64Array): number {
  const seen = new Map<number, number>();
  for (let i = 0; i < key.length; i++) {
    let k = seen.get(key[i]);
    if (k === undefined) {
      k = seen.size;
      seen.set(key[i], k);
    }
    key[i] = k;
  }
  return Math.max(1, seen.size);
}

/** Element ids of one cuboid for the informative leaves `idx`, renumbered densely if needed. */
function cuboidKeys(t: LeafTable, idx: Int32Array, dims: readonly number[]): { keys: Int32Array; size: number } {
  const m = idx.length;
  const limit = Math.max(DENSE_PER_LEAF * m, 4096);
  const key = new Float64Array(m);
  let size = 1;
  for (const d of dims) {
    const card = Math.max(1, t.values[d].length);
    // Renumber before the product outgrows the limit; at most m keys exist, so it stays exact.
    if (size * card > limit) size = renumber(key);
    const codes = t.codes[d];
    for (let i = 0; i < m; i++) key[i] = key[i] * card + codes[idx[i]];
    size *= card;
  }
  if (size > limit) size = renumber(key);
  return { keys: Int32Array.from(key), size };
}

// Rounds of the noise / explanation alternation; it settles in two on realistic tables.
const MAX_ROUNDS = 4;

interface Leaves {
  readonly v: Float64Array;
  readonly f: Float64Array;
  /** Symmetric relative error per leaf, (v-f)/mag. */
  readonly dev: Float64Array;
  /** Leaf magnitude (|v|+|f|)/2: the unit of relative noise. */
  readonly mag: Float64Array;
  /** Whether the noise has a Poisson part (see LocalizeOptions.counts). */
  readonly counts: boolean;
  /** Scratch, filled per noise scale: inverse noise scale, and code length under "normal". */
  readonly invS: Float64Array;
  readonly base: Float64Array;
}

interface SearchBuffers {
  readonly sumV: Float64Array;
  readonly sumF: Float64Array;
  readonly count: Float64Array;
  readonly gain: Float64Array;
  readonly ratio: Float64Array;
  readonly rep: Int32Array;
}

interface Found {
  readonly cuboid: Cuboid;
  readonly element: number;
  /** An informative leaf of the element, to name its values. */
  readonly leaf: number;
  readonly ratio: number;
  readonly evidence: number;
}

/** 1.4826 * MAD of xs, floored. */
function madScale(xs: Float64Array): number {
  const center = median(xs);
  const abs = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) abs[i] = Math.abs(xs[i] - center);
  return Math.max(1.4826 * median(abs), MIN_NOISE);
}

/** Noise sd of leaf i for relative scale `sigma`: sigma*mag, plus Poisson variance mag for counts. */
function leafScale(leaves: Leaves, i: number, sigma: number): number {
  const a = leaves.mag[i];
  return leaves.counts ? Math.sqrt(sigma * sigma * a * a + a) : sigma * a;
}

/**
 * The relative noise scale, estimated on the leaves with owner -1 (all when `owner` is
 * undefined): 1.4826 * MAD of their relative errors. For counts, the sigma at which the
 * standardised residuals (v-f)/sqrt(sigma^2 mag^2 + mag) have that robust scale 1, found by
 * bisection (the scale falls as sigma grows); 0 (floored) if Poisson noise alone explains them.
 */
function robustScale(leaves: Leaves, owner: Int32Array | undefined): number {
  const { dev, v, f } = leaves;
  const idx: number[] = [];
  for (let i = 0; i < dev.length; i++) if (!owner || owner[i] < 0) idx.push(i);
  const xs = new Float64Array(idx.length);
  if (!leaves.counts) {
    for (let j = 0; j < idx.length; j++) xs[j] = dev[idx[j]];
    return madScale(xs);
  }
  const zScale = (sigma: number): number => {
    for (let j = 0; j < idx.length; j++) xs[j] = (v[idx[j]] - f[idx[j]]) / leafScale(leaves, idx[j], sigma);
    return madScale(xs);
  };
  if (zScale(0) <= 1) return MIN_NOISE;
  let lo = MIN_NOISE;
  let hi = 1;
  while (zScale(hi) > 1 && hi < 1e6) hi *= 4;
  for (let k = 0; k < 40 && hi / lo > 1.001; k++) {
    const mid = Math.sqrt(lo * hi);
    if (zScale(mid) > 1) lo = mid;
    else hi = mid;
  }
  return hi;
}

function sameElements(a: readonly Found[], b: readonly Found[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i].cuboid !== b[i].cuboid || a[i].element !== b[i].element) return false;
  return true;
}

/** Greedy MDL search at a given noise scale; `owner[i]` is the index of the element that explains leaf i, or -1. */
function search(
  leaves: Leaves,
  cuboids: readonly Cuboid[],
  buf: SearchBuffers,
  noise: number,
  limits: { maxElements: number; minEvidence: number },
): { found: Found[]; owner: Int32Array } {
  const { v, f, invS, base } = leaves;
  const { sumV, sumF, count, gain, ratio, rep } = buf;
  const m = v.length;
  for (let i = 0; i < m; i++) {
    invS[i] = 1 / leafScale(leaves, i, noise);
    const z = (v[i] - f[i]) * invS[i];
    base[i] = HALF_NU1 * Math.log1p(z * z * INV_NU);
  }
  const owner = new Int32Array(m).fill(-1);
  let open = new Int32Array(m);
  for (let i = 0; i < m; i++) open[i] = i;
  const found: Found[] = [];

  while (found.length < limits.maxElements && open.length > 0) {
    let best: Found | undefined;
    const no = open.length;
    for (const cub of cuboids) {
      const keys = cub.keys;
      const size = cub.size;
      sumV.fill(0, 0, size);
      sumF.fill(0, 0, size);
      count.fill(0, 0, size);
      gain.fill(0, 0, size);
      for (let j = 0; j < no; j++) {
        const i = open[j];
        const e = keys[i];
        if (count[e] === 0) rep[e] = i;
        sumV[e] += v[i];
        sumF[e] += f[i];
        count[e]++;
        gain[e] += base[i];
      }
      // An element is fitted by one factor r = sum(real)/sum(forecast) over its open leaves.
      // Its gain is at most the code length of its leaves under "normal" (now in gain[]), so an
      // element whose bound cannot beat the best so far is skipped: exact pruning.
      const cost = cub.cost;
      const bar = best === undefined ? -Infinity : best.evidence;
      for (let e = 0; e < size; e++) {
        ratio[e] = sumF[e] > 0 && gain[e] - cost - 0.5 * Math.log(count[e]) > bar ? sumV[e] / sumF[e] : NaN;
      }
      for (let j = 0; j < no; j++) {
        const i = open[j];
        const e = keys[i];
        const r = ratio[e];
        if (r !== r) continue;
        const z = (v[i] - r * f[i]) * invS[i];
        gain[e] -= HALF_NU1 * Math.log1p(z * z * INV_NU);
      }
      for (let e = 0; e < size; e++) {
        if (ratio[e] !== ratio[e]) continue;
        const ev = gain[e] - cost - 0.5 * Math.log(count[e]);
        if (best === undefined || ev > best.evidence) {
          best = { cuboid: cub, element: e, leaf: rep[e], ratio: ratio[e], evidence: ev };
        }
      }
    }
    if (best === undefined || best.evidence < limits.minEvidence) break;
    const k = found.length;
    found.push(best);
    const keys = best.cuboid.keys;
    let w = 0;
    for (let j = 0; j < no; j++) {
      const i = open[j];
      if (keys[i] === best.element) owner[i] = k;
      else open[w++] = i;
    }
    open = open.subarray(0, w);
  }
  return { found, owner };
}

function* subsets(n: number, k: number): Generator<number[]> {
  const c = Array.from({ length: k }, (_, i) => i);
  while (true) {
    yield c.slice();
    let i = k - 1;
    while (i >= 0 && c[i] === n - k + i) i--;
    if (i < 0) return;
    c[i]++;
    for (let j = i + 1; j < k; j++) c[j] = c[j - 1] + 1;
  }
}

/**
 * Finds the few elements that explain how `table.real` departs from `table.predict`, for an
 * additive metric. Pure computation, no I/O.
 *
 * Example: `localize(table).elements.map((e) => formatElement(e.pairs))` -> `['dc=eu&version=v2']`.
 */
export function localize(table: LeafTable, opts: LocalizeOptions = {}): RootCauseResult {
  checkTable(table);
  const D = table.dimensions.length;
  const maxLayer = Math.min(D, opts.maxLayer ?? 4);
  const maxElements = opts.maxElements ?? 10;
  const minConfidence = opts.minConfidence ?? 0.5;
  if (!(maxLayer >= 1) || !Number.isInteger(maxLayer)) throw new TidemarkError('TM_ERR_CONFIG', `must be an integer >= 1, got ${opts.maxLayer}`, 'maxLayer');
  if (!(maxElements >= 0) || !Number.isInteger(maxElements)) throw new TidemarkError('TM_ERR_CONFIG', `must be an integer >= 0, got ${opts.maxElements}`, 'maxElements');
  if (!(minConfidence > 0 && minConfidence < 1)) throw new TidemarkError('TM_ERR_CONFIG', `must be in (0, 1), got ${opts.minConfidence}`, 'minConfidence');
  // Stop when the best element's evidence falls below logit(minConfidence).
  const minEvidence = Math.log(minConfidence / (1 - minConfidence));

  const n = table.real.length;
  let totalReal = 0;
  let totalPredict = 0;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const v = table.real[i];
    const f = table.predict[i];
    if (!Number.isFinite(v) || !Number.isFinite(f)) {
      // Missing is not zero: the caller must drop or fill a leaf without data, knowingly.
      throw new TidemarkError('TM_ERR_INPUT', `leaf ${i} has real ${v} and predict ${f}; both must be finite numbers`);
    }
    totalReal += v;
    totalPredict += f;
    if (v !== 0 || f !== 0) m++;
  }
  // Leaves that are 0 in both real and forecast carry no evidence either way; drop them once.
  const idx = new Int32Array(m);
  const v = new Float64Array(m);
  const f = new Float64Array(m);
  for (let i = 0, j = 0; i < n; i++) {
    if (table.real[i] !== 0 || table.predict[i] !== 0) {
      idx[j] = i;
      v[j] = table.real[i];
      f[j] = table.predict[i];
      j++;
    }
  }

  // Symmetric relative error 2(v-f)/(|v|+|f|): bounded, defined when either side is 0.
  const mag = new Float64Array(m);
  const dev = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    mag[i] = (Math.abs(v[i]) + Math.abs(f[i])) / 2;
    dev[i] = (v[i] - f[i]) / mag[i];
  }

  const cuboids: Cuboid[] = [];
  let maxSize = 1;
  const lnLayers = Math.log(maxLayer);
  for (let k = 1; k <= maxLayer; k++) {
    const lnCuboids = lnChoose(D, k);
    for (const dims of subsets(D, k)) {
      let lnElements = 0;
      for (const d of dims) lnElements += Math.log(Math.max(1, table.values[d].length));
      const { keys, size } = cuboidKeys(table, idx, dims);
      cuboids.push({ dims, keys, size, cost: lnLayers + lnCuboids + lnElements });
      if (size > maxSize) maxSize = size;
    }
  }
  const buffers: SearchBuffers = {
    sumV: new Float64Array(maxSize),
    sumF: new Float64Array(maxSize),
    count: new Float64Array(maxSize),
    gain: new Float64Array(maxSize),
    ratio: new Float64Array(maxSize),
    rep: new Int32Array(maxSize),
  };
  const leaves: Leaves = { v, f, dev, mag, counts: opts.counts ?? false, invS: new Float64Array(m), base: new Float64Array(m) };
  const limits = { maxElements, minEvidence };

  // Alternate: noise from the leaves the current explanation calls normal, explanation given
  // the noise, until the explanation is stable. The first scale uses every leaf; it is inflated
  // when causes cover many leaves, which would hide smaller causes beside them.
  let noise = robustScale(leaves, undefined);
  let run = search(leaves, cuboids, buffers, noise, limits);
  for (let round = 1; round < MAX_ROUNDS && run.found.length > 0; round++) {
    const next = robustScale(leaves, run.owner);
    if (next === noise) break;
    const again = search(leaves, cuboids, buffers, next, limits);
    const stable = sameElements(run.found, again.found);
    noise = next;
    run = again;
    if (stable) break;
  }
  const { found, owner } = run;

  const totalDelta = totalReal - totalPredict;
  const elements: RootCauseElement[] = found.map((fd, k) => {
    const keys = fd.cuboid.keys;
    let real = 0;
    let predict = 0;
    let delta = 0;
    for (let i = 0; i < m; i++) {
      if (keys[i] !== fd.element) continue;
      real += v[i];
      predict += f[i];
      if (owner[i] === k) delta += v[i] - f[i];
    }
    const leaf = idx[fd.leaf];
    const pairs = fd.cuboid.dims.map((d) => ({ dimension: table.dimensions[d], value: table.values[d][table.codes[d][leaf]] }));
    return {
      pairs,
      layer: pairs.length,
      real,
      predict,
      ratio: fd.ratio,
      delta,
      share: totalDelta !== 0 ? delta / totalDelta : 0,
      evidence: fd.evidence,
      confidence: 1 / (1 + Math.exp(-fd.evidence)),
    };
  });
  elements.sort((a, b) => b.evidence - a.evidence);
  let explainedDelta = 0;
  for (const e of elements) explainedDelta += e.delta;
  return {
    elements,
    totalReal,
    totalPredict,
    noise,
    explained: totalDelta !== 0 ? explainedDelta / totalDelta : 0,
    leaves: n,
    informativeLeaves: m,
  };
}

/**
 * Localises the change of a derived ratio metric (e.g. errors / requests) given the additive
 * tables of its numerator and denominator, with the same leaves in the same order.
 *
 * The ratio changed in a leaf when its numerator departs from what the forecast rate predicts
 * for the denominator actually observed: expected numerator = real denominator * (forecast
 * numerator / forecast denominator). That turns the question into an additive one, so a
 * traffic drop that keeps the error rate is not a cause, while a rate jump is. Leaves without a
 * forecast denominator use the table's overall forecast rate. Deltas and shares are in
 * numerator units ("excess errors"); `ratio` is the element's observed rate over its expected rate.
 */
export function localizeRatio(numerator: LeafTable, denominator: LeafTable, opts: LocalizeOptions = {}): RootCauseResult {
  checkTable(numerator);
  checkTable(denominator);
  const n = numerator.real.length;
  if (denominator.real.length !== n) {
    throw new TidemarkError('TM_ERR_INPUT', `numerator has ${n} leaves but denominator has ${denominator.real.length}; both must list the same leaves`);
  }
  const dimsSame =
    numerator.dimensions.length === denominator.dimensions.length &&
    numerator.dimensions.every((d, i) => d === denominator.dimensions[i]);
  if (!dimsSame) {
    throw new TidemarkError('TM_ERR_INPUT', `numerator dimensions (${numerator.dimensions.join(',')}) differ from denominator's (${denominator.dimensions.join(',')})`);
  }
  for (let d = 0; d < numerator.dimensions.length; d++) {
    const a = numerator.codes[d];
    const b = denominator.codes[d];
    const va = numerator.values[d];
    const vb = denominator.values[d];
    for (let i = 0; i < n; i++) {
      if (va[a[i]] !== vb[b[i]]) {
        throw new TidemarkError('TM_ERR_INPUT', `leaf ${i} differs between numerator and denominator in dimension '${numerator.dimensions[d]}'; list the same leaves in the same order`);
      }
    }
  }
  let numF = 0;
  let denF = 0;
  for (let i = 0; i < n; i++) {
    numF += numerator.predict[i];
    denF += denominator.predict[i];
  }
  const overallRate = denF > 0 ? numF / denF : 0;
  const expected = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const fd = denominator.predict[i];
    const rate = fd > 0 ? numerator.predict[i] / fd : overallRate;
    expected[i] = denominator.real[i] * rate;
  }
  return localize({ ...numerator, predict: expected }, opts);
}
