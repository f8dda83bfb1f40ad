/**
 * An exact rolling median and MAD over the last `w` points.
 *
 * Structure: a ring buffer of the last `w` values (to know which one leaves) beside the same
 * values kept sorted. A push finds the leaving value by binary search and slides the new one
 * from that position to its place, so the work is O(log w + d), d being how far the new value
 * lands from the old one in rank (about w/3 for stationary data), never a re-sort. Selection
 * is O(1); the median is one or two reads.
 *
 * Why not a tree: an order-statistic treap over the ring (O(log w) per push) was built first
 * and measured 5-10x slower at w <= 254, because every step is a dependent load and a branch
 * miss, while the slide here is a short run of sequential moves. `rolling.bench.ts` keeps
 * that treap as the baseline and prints both rates.
 *
 * MAD: the absolute deviations from the median form two sorted runs, the lower half read
 * downwards (m - x) and the upper half read upwards (x - m); the median deviation is the k-th
 * smallest of their union, found by a binary search over how many come from each run:
 * O(log w) per point, exact (robust_z's band is reproducible against a brute-force reference).
 *
 * Layout: the window lives inside a caller's number array `f`, from offset `o`:
 * [capacity, count, head, ring (w values), sorted (w values)], `rollingSize(w)` slots, so a
 * detector keeps its own scalars in the same array and each series costs one object
 * (see `doubles`). Values must be finite.
 */
import { doubles } from './prng.ts';

/** Where a window lives: a detector's number array, or a Float32Array (half the bytes; values are stored rounded to float32, which keeps their order). */
export type Slots = number[] | Float32Array | Float64Array;

const CAP = 0;
const COUNT = 1;
const HEAD = 2;
const HEADER = 3;

/** Number of slots of `f` a window of `w` points uses. */
export function rollingSize(w: number): number {
  return HEADER + 2 * w;
}

/** Initialises an empty window of `w` points at `f[o]`. */
export function rollingInit(f: Slots, o: number, w: number): void {
  if (!(w >= 1 && Number.isInteger(w))) throw new RangeError(`rolling window must hold at least 1 point, got ${w}`);
  f[o + CAP] = w;
  f[o + COUNT] = 0;
  f[o + HEAD] = 0;
  for (let i = 0; i < 2 * w; i++) f[o + HEADER + i] = 0;
}

/** A standalone window, for callers that do not embed it. */
export function rollingCreate(w: number): number[] {
  const f = doubles(rollingSize(w));
  rollingInit(f, 0, w);
  return f;
}

/** Points currently held (at most the capacity). */
export function rollingCount(f: Slots, o: number): number {
  return f[o + COUNT];
}

/** Adds a finite value, evicting the oldest once the window is full. */
export function rollingPush(f: Slots, o: number, v: number): void {
  const w = f[o + CAP] | 0;
  const n = f[o + COUNT] | 0;
  if (n === w) replaceAt(f, o, w, lowerBound(f, o + HEADER + w, n, f[o + HEADER + (f[o + HEAD] | 0)]), v);
  else {
    const s = o + HEADER + w; // sorted values occupy f[s .. s + n)
    let i = n;
    while (i > 0 && f[s + i - 1] > v) {
      f[s + i] = f[s + i - 1];
      i--;
    }
    f[s + i] = v;
    f[o + COUNT] = n + 1;
    advance(f, o, w, v);
  }
}

/** The first index of the sorted run of `n` values at `f[s]` holding a value >= `x`. */
function lowerBound(f: Slots, s: number, n: number, x: number): number {
  // Halving without a data-dependent branch (a select), which mispredicts less than lo/hi.
  let b = s;
  let len = n;
  while (len > 1) {
    const half = len >> 1;
    b = f[b + half - 1] < x ? b + half : b;
    len -= half;
  }
  return b - s;
}

/**
 * In a full window, replaces the leaving value (found at sorted index `i`: any copy, equal
 * values are interchangeable) by `v`, sliding the hole to its place; returns where it landed.
 */
function replaceAt(f: Slots, o: number, w: number, i: number, v: number): number {
  const s = o + HEADER + w;
  const old = f[s + i];
  if (v > old) {
    while (i + 1 < w && f[s + i + 1] < v) {
      f[s + i] = f[s + i + 1];
      i++;
    }
  } else {
    while (i > 0 && f[s + i - 1] > v) {
      f[s + i] = f[s + i - 1];
      i--;
    }
  }
  f[s + i] = v;
  advance(f, o, w, v);
  return i;
}

/** Writes `v` at the ring's head and moves the head on. */
function advance(f: Slots, o: number, w: number, v: number): void {
  const head = f[o + HEAD] | 0;
  f[o + HEADER + head] = v;
  f[o + HEAD] = head + 1 === w ? 0 : head + 1;
}

/** The k-th smallest value (0-based) of the window; k must be below the count. */
export function rollingSelect(f: Slots, o: number, rank: number): number {
  return f[o + HEADER + (f[o + CAP] | 0) + rank];
}

/** The median of the window (mean of the two middle values for an even count); NaN if empty. */
export function rollingMedian(f: Slots, o: number): number {
  const n = f[o + COUNT] | 0;
  if (n === 0) return NaN;
  const s = o + HEADER + (f[o + CAP] | 0);
  const h = n >> 1;
  if (n & 1) return f[s + h];
  return (f[s + h - 1] + f[s + h]) / 2;
}

/**
 * The median absolute deviation from `med` (which must be the window's median), unscaled;
 * for an even count, the mean of the two middle deviations. NaN if empty.
 */
export function rollingMad(f: Slots, o: number, med: number): number {
  const n = f[o + COUNT] | 0;
  if (n === 0) return NaN;
  const s = o + HEADER + (f[o + CAP] | 0);
  const h = n >> 1; // ranks [0, h) are <= med, ranks [h, n) are >= med
  const q = n - h;
  const kk = (n - 1) >> 1; // 0-based rank of the (lower) middle deviation
  // A(j) = med - x[h-1-j] and B(j) = x[h+j] - med both ascend in j. Take i from A and
  // j = kk + 1 - i from B; find the smallest i with A(i) >= B(j - 1).
  let lo = kk + 1 - q > 0 ? kk + 1 - q : 0;
  let hi = kk + 1 < h ? kk + 1 : h;
  while (lo < hi) {
    const i = (lo + hi) >> 1;
    if (f[s + h + kk - i] - med > med - f[s + h - 1 - i]) lo = i + 1;
    else hi = i;
  }
  const i = lo;
  const j = kk + 1 - i;
  const a1 = i > 0 ? med - f[s + h - i] : -Infinity;
  const b1 = j > 0 ? f[s + h + j - 1] - med : -Infinity;
  const kth = a1 > b1 ? a1 : b1;
  if (n & 1) return kth;
  const a2 = i < h ? med - f[s + h - 1 - i] : Infinity;
  const b2 = j < q ? f[s + h + j] - med : Infinity;
  return (kth + (a2 < b2 ? a2 : b2)) / 2;
}

/**
 * A cheap upper bound of `rollingMad` (same `med`, count >= 4): the farther of the two sorted
 * values that enclose the median and the kk + 2 values around it, so at least the two middle
 * deviations are within it. Two reads instead of a search: a caller whose scale has a floor
 * skips the exact MAD when even this bound is below it.
 */
export function rollingMadBound(f: Slots, o: number, med: number): number {
  const n = f[o + COUNT] | 0;
  const s = o + HEADER + (f[o + CAP] | 0);
  const c = ((n - 1) >> 1) + 2;
  const a = (n >> 1) - (c >> 1);
  const lo = med - f[s + a];
  const hi = f[s + a + c - 1] - med;
  return lo > hi ? lo : hi;
}

/** Multiplies every value by `factor` (> 0), which keeps their order. */
export function rollingScale(f: Slots, o: number, factor: number): void {
  const n = f[o + COUNT] | 0;
  const ring = o + HEADER;
  const s = ring + (f[o + CAP] | 0);
  for (let i = 0; i < n; i++) {
    f[ring + i] *= factor;
    f[s + i] *= factor;
  }
}

/**
 * `rollingPush` that also keeps, at `sums[so]` and `sums[so + 1]`, the total of the window and
 * the sum of its `count >> 1` smallest values (`sums[so + 2]` counts pushes since they were
 * last re-summed: three slots), so `rollingMeanAbsDev` is O(1). The sums are
 * updated from where the leaving and the new value sit in the sorted run (no re-scan), and
 * re-summed every 4096 pushes so rounding cannot accumulate. `sums` is a double array.
 */
export function rollingPushSums(f: Slots, o: number, v: number, sums: number[] | Float64Array, so: number): void {
  const w = f[o + CAP] | 0;
  const n = f[o + COUNT] | 0;
  const s = o + HEADER + w;
  if (n < w || ++sums[so + 2] >= 4096) {
    rollingPush(f, o, v);
    resum(f, o, sums, so);
    return;
  }
  const k = n >> 1;
  const old = f[o + HEADER + (f[o + HEAD] | 0)];
  const from = lowerBound(f, s, n, old);
  // Where the new value landed: the window moved only between `from` and there.
  const nv = f[s + replaceAt(f, o, w, from, v)];
  sums[so] += nv - old;
  // Lower half = the first k. An old value from it is replaced by the new one if that landed
  // there, else by the value that slid down to k - 1; an old value from the upper half lets
  // the new one in (pushing the former k - 1, now at k, out) only if it landed below k.
  if (from < k) sums[so + 1] += (nv < f[s + k - 1] ? nv : f[s + k - 1]) - old;
  else if (nv < f[s + k]) sums[so + 1] += nv - f[s + k];
}

function resum(f: Slots, o: number, sums: number[] | Float64Array, so: number): void {
  const n = f[o + COUNT] | 0;
  const s = o + HEADER + (f[o + CAP] | 0);
  const k = n >> 1;
  let tot = 0;
  let low = 0;
  for (let i = 0; i < n; i++) {
    if (i < k) low += f[s + i];
    tot += f[s + i];
  }
  sums[so] = tot;
  sums[so + 1] = low;
  sums[so + 2] = 0;
}

/** Mean absolute deviation from `med` (the window's median), O(1) from `rollingPushSums`' sums; NaN if empty. */
export function rollingMeanAbsDev(f: Slots, o: number, med: number, sums: number[] | Float64Array, so: number): number {
  const n = f[o + COUNT] | 0;
  if (n === 0) return NaN;
  const d = (sums[so] - 2 * sums[so + 1] - med * (n - 2 * (n >> 1))) / n;
  return d > 0 ? d : 0;
}

/**
 * A sorted run of `n` values at `f[o]` whose leaving values the caller knows (they can be
 * recomputed from another window), so it needs no ring of its own: replaces one copy of `old`
 * by `v` and keeps the run sorted. If `old` is absent (rounding after a rescale), the value
 * nearest above it leaves.
 */
export function sortedReplace(f: Slots, o: number, n: number, old: number, v: number): void {
  let i = lowerBound(f, o, n, old);
  if (v > f[o + i]) {
    while (i + 1 < n && f[o + i + 1] < v) {
      f[o + i] = f[o + i + 1];
      i++;
    }
  } else {
    while (i > 0 && f[o + i - 1] > v) {
      f[o + i] = f[o + i - 1];
      i--;
    }
  }
  f[o + i] = v;
}

/** Inserts `v` into the sorted run of `n` values at `f[o]` (which has room for n + 1). */
export function sortedInsert(f: Slots, o: number, n: number, v: number): void {
  let i = n;
  while (i > 0 && f[o + i - 1] > v) {
    f[o + i] = f[o + i - 1];
    i--;
  }
  f[o + i] = v;
}

/** The median of the sorted run of `n` values at `f[o]` (NaN if empty). */
export function sortedMedian(f: Slots, o: number, n: number): number {
  if (n === 0) return NaN;
  const h = n >> 1;
  return n & 1 ? f[o + h] : (f[o + h - 1] + f[o + h]) / 2;
}

/** The k-th most recent value of a rolling window (k = 1: the last pushed); k <= count. */
export function rollingRecent(f: Slots, o: number, k: number): number {
  const w = f[o + CAP] | 0;
  let i = (f[o + HEAD] | 0) - k;
  if (i < 0) i += w;
  return f[o + HEADER + i];
}

/**
 * A short window kept as a ring only (same layout as `rollingInit`'s, the sorted half unused):
 * for a few points, sorting a copy when the median is asked is cheaper than keeping them sorted.
 */
export function ringPush(f: Slots, o: number, v: number): void {
  const w = f[o + CAP] | 0;
  const n = f[o + COUNT] | 0;
  if (n < w) f[o + COUNT] = n + 1;
  advance(f, o, w, v);
}

/** The median of a `ringPush` window (as `rollingMedian`), sorting into `scratch` (room for the capacity). */
export function ringMedian(f: Slots, o: number, scratch: Float64Array): number {
  const n = f[o + COUNT] | 0;
  if (n === 0) return NaN;
  const ring = o + HEADER;
  if (n === 5) return median5(f[ring], f[ring + 1], f[ring + 2], f[ring + 3], f[ring + 4]);
  for (let k = 0; k < n; k++) {
    const v = f[ring + k];
    let i = k;
    while (i > 0 && scratch[i - 1] > v) {
      scratch[i] = scratch[i - 1];
      i--;
    }
    scratch[i] = v;
  }
  const h = n >> 1;
  return n & 1 ? scratch[h] : (scratch[h - 1] + scratch[h]) / 2;
}

/**
 * The median of five values in six comparisons (novelty's residual window): order the pairs
 * (a, b) and (c, d); the smaller of the two minima has three values above it, so it is one of
 * the two smallest and the median is the second smallest of the other four: one ordered pair
 * and two singles, which ordered make a second pair.
 */
export function median5(a: number, b: number, c: number, d: number, e: number): number {
  let t: number;
  if (b < a) {
    t = a;
    a = b;
    b = t;
  }
  if (d < c) {
    t = c;
    c = d;
    d = t;
  }
  let p: number;
  let q: number;
  let x: number;
  if (c < a) {
    p = a;
    q = b;
    x = d;
  } else {
    p = c;
    q = d;
    x = b;
  }
  if (e < x) {
    t = x;
    x = e;
    e = t;
  }
  // Pairs p <= q and x <= e: the second smallest of the four.
  if (p <= x) return q < x ? q : x;
  return e < p ? e : p;
}
