/**
 * A ranked window: `rolling.ts`'s exact rolling median and MAD over the last `w` points, in a
 * Float32Array, with the sorted half kept as ring-slot numbers instead of values.
 *
 * Layout at float `o` of a Float32Array `p` that spans its whole buffer (a detector region's
 * float alias, see `floatsOf`): [capacity, count, head, ring (w float32 values), ranks], where
 * ranks are w ring-slot numbers in ascending order of their values, one byte each (w <= 256)
 * or two (w <= 65536). The value of rank r is ring[rank[r]]. For 128 points that is 640 bytes
 * instead of the 1,024 of a ring beside a sorted copy: 384 bytes a series (384 MB of a million
 * series) for novelty's baseline.
 *
 * Every search, slide and reader makes the same comparisons on the same values in the same
 * order as `rolling.ts` (`rankedMatchesRolling` in the tests checks it over random streams with
 * ties), so detectors that move from one to the other keep bit-identical verdicts. The price is
 * one dependent load per probe (the rank, then the value; both in the region's few cache lines).
 *
 * Why not one-byte tags beside the sorted values (tried): the leaving value's tag then has to
 * be found by a linear scan, and every slide moves two arrays; it measured 22% slower for the
 * whole default profile. Here the leaving value is found by a binary search on its value, as
 * in `rolling.ts`, and a slide moves bytes only.
 */
import { bytesOf, halvesOf } from './slab.ts';

// The header and the ring are rolling.ts' layout: rollingCount, rollingRecent and
// rollingMeanAbsDev read a ranked window as they read a rolling one.
const CAP = 0;
const COUNT = 1;
const HEAD = 2;
const HEADER = 3;

/** Most points of a ranked window (two-byte ranks above 256). */
export const RANKED_MAX = 65536;

type Ranks = Uint8Array<ArrayBufferLike> | Uint16Array<ArrayBufferLike>;

/** Floats of the rank area of a `w`-point window. */
function rankFloats(w: number): number {
  return w <= 256 ? (w + 3) >> 2 : (w + 1) >> 1;
}

/** Floats of a ranked window of `w` points. */
export function rankedSize(w: number): number {
  return HEADER + w + rankFloats(w);
}

/** The rank array over `p`'s buffer for a window of `w` points. */
function ranksOf(p: Float32Array, w: number): Ranks {
  return w <= 256 ? bytesOf(p) : halvesOf(p);
}

/** Index in `ranksOf(p, w)` of the first rank of the window at float `o` (`p` starts at byte 0: see check). */
function rankBase(o: number, w: number): number {
  const bytes = 4 * (o + HEADER + w);
  return w <= 256 ? bytes : bytes >> 1;
}

function check(p: Float32Array): void {
  if (p.byteOffset !== 0 || p.length * 4 !== p.buffer.byteLength) throw new RangeError('a ranked window lives in a Float32Array over its whole buffer (floatsOf)');
}

/** Initialises an empty window of `w` points at `p[o]`. */
export function rankedInit(p: Float32Array, o: number, w: number): void {
  if (!(w >= 1 && w <= RANKED_MAX && Number.isInteger(w))) throw new RangeError(`a ranked window holds 1 to ${RANKED_MAX} points, got ${w}`);
  check(p);
  p[o + CAP] = w;
  p[o + COUNT] = 0;
  p[o + HEAD] = 0;
  p.fill(0, o + HEADER, o + rankedSize(w));
}

/** The first rank (from 0) among `n` whose value is >= `x`, branch-free halving as `rolling.ts`' lowerBound. */
function lowerBound(p: Float32Array, ring: number, r: Ranks, rb: number, n: number, x: number): number {
  let b = 0;
  let len = n;
  while (len > 1) {
    const half = len >> 1;
    b = p[ring + r[rb + b + half - 1]] < x ? b + half : b;
    len -= half;
  }
  return b;
}

/** Steps of a slide taken one rank at a time before the rest is searched for (see `replace`). */
const SHORT_SLIDE = 4;

/** The first rank in [lo, hi) whose value is at least x (hi if none): values ascend over ranks. */
function firstAtLeast(p: Float32Array, ring: number, r: Ranks, rb: number, lo: number, hi: number, x: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (p[ring + r[rb + mid]] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first rank in [lo, hi) whose value is above x (hi if none). */
function firstAbove(p: Float32Array, ring: number, r: Ranks, rb: number, lo: number, hi: number, x: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (p[ring + r[rb + mid]] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * In a full window: the leaving value (ring slot `head`) leaves from the first rank holding
 * its value (equal values are interchangeable, as in `rolling.ts`), `v` takes slot `head` and
 * slides to its place. Returns the rank where `v` landed; `from` (by FROM) where the old left.
 */
function replace(p: Float32Array, o: number, w: number, r: Ranks, rb: number, v: number): number {
  const ring = o + HEADER;
  const head = p[o + HEAD] | 0;
  const old = p[ring + head];
  let i = lowerBound(p, ring, r, rb, w, old);
  FROM = i;
  // The rank that names slot `head` (the first copy's, unless an equal value entered earlier):
  // it takes over the first copy's slot, which holds the same value, and the first copy's rank
  // becomes the hole that `v` slides from.
  if (r[rb + i] !== head) {
    let k = i + 1;
    while (r[rb + k] !== head) k++;
    r[rb + k] = r[rb + i];
  }
  p[ring + head] = v;
  // The slide: a few steps one rank at a time (most moves are short), then the rest found by a
  // binary search and moved as one block (each step of the slide is a rank load and a dependent
  // value load; a long move, common on a trending series, cost more than the rest of the push).
  let steps = SHORT_SLIDE;
  if (v > old) {
    while (i + 1 < w && p[ring + r[rb + i + 1]] < v) {
      if (--steps < 0) {
        // Ranks i+1 .. j-1 hold values below v (j: the first at or above it): one rank down each.
        const j = firstAtLeast(p, ring, r, rb, i + 2, w, v);
        r.copyWithin(rb + i, rb + i + 1, rb + j);
        i = j - 1;
        break;
      }
      r[rb + i] = r[rb + i + 1];
      i++;
    }
  } else {
    while (i > 0 && p[ring + r[rb + i - 1]] > v) {
      if (--steps < 0) {
        // Ranks j .. i-1 hold values above v (j: the first above it): one rank up each.
        const j = firstAbove(p, ring, r, rb, 0, i - 1, v);
        r.copyWithin(rb + j + 1, rb + j, rb + i);
        i = j;
        break;
      }
      r[rb + i] = r[rb + i - 1];
      i--;
    }
  }
  r[rb + i] = head;
  p[o + HEAD] = head + 1 === w ? 0 : head + 1;
  return i;
}
let FROM = 0;

/** Adds a finite value, evicting the oldest once the window is full. */
export function rankedPush(p: Float32Array, o: number, v: number): void {
  const w = p[o + CAP] | 0;
  const n = p[o + COUNT] | 0;
  const r = ranksOf(p, w);
  const rb = rankBase(o, w);
  if (n === w) {
    replace(p, o, w, r, rb, v);
    return;
  }
  const ring = o + HEADER;
  const head = p[o + HEAD] | 0;
  let i = n;
  while (i > 0 && p[ring + r[rb + i - 1]] > v) {
    r[rb + i] = r[rb + i - 1];
    i--;
  }
  r[rb + i] = head;
  p[ring + head] = v;
  p[o + COUNT] = n + 1;
  p[o + HEAD] = head + 1 === w ? 0 : head + 1;
}

/** The k-th smallest value (0-based); k must be below the count. */
export function rankedSelect(p: Float32Array, o: number, k: number): number {
  const w = p[o + CAP] | 0;
  return p[o + HEADER + ranksOf(p, w)[rankBase(o, w) + k]];
}

/** The median (mean of the two middle values for an even count); NaN if empty. */
export function rankedMedian(p: Float32Array, o: number): number {
  const n = p[o + COUNT] | 0;
  if (n === 0) return NaN;
  const w = p[o + CAP] | 0;
  const r = ranksOf(p, w);
  const rb = rankBase(o, w);
  const ring = o + HEADER;
  const h = n >> 1;
  if (n & 1) return p[ring + r[rb + h]];
  return (p[ring + r[rb + h - 1]] + p[ring + r[rb + h]]) / 2;
}

/** `rollingMad` on a ranked window: the exact median absolute deviation from `med` (the median). */
export function rankedMad(p: Float32Array, o: number, med: number): number {
  const n = p[o + COUNT] | 0;
  if (n === 0) return NaN;
  const w = p[o + CAP] | 0;
  const r = ranksOf(p, w);
  const rb = rankBase(o, w);
  const ring = o + HEADER;
  const h = n >> 1;
  const q = n - h;
  const kk = (n - 1) >> 1;
  let lo = kk + 1 - q > 0 ? kk + 1 - q : 0;
  let hi = kk + 1 < h ? kk + 1 : h;
  while (lo < hi) {
    const i = (lo + hi) >> 1;
    if (p[ring + r[rb + h + kk - i]] - med > med - p[ring + r[rb + h - 1 - i]]) lo = i + 1;
    else hi = i;
  }
  const i = lo;
  const j = kk + 1 - i;
  const a1 = i > 0 ? med - p[ring + r[rb + h - i]] : -Infinity;
  const b1 = j > 0 ? p[ring + r[rb + h + j - 1]] - med : -Infinity;
  const kth = a1 > b1 ? a1 : b1;
  if (n & 1) return kth;
  const a2 = i < h ? med - p[ring + r[rb + h - 1 - i]] : Infinity;
  const b2 = j < q ? p[ring + r[rb + h + j]] - med : Infinity;
  return (kth + (a2 < b2 ? a2 : b2)) / 2;
}

/** `rollingMadBound` on a ranked window (count >= 4). */
export function rankedMadBound(p: Float32Array, o: number, med: number): number {
  const n = p[o + COUNT] | 0;
  const w = p[o + CAP] | 0;
  const r = ranksOf(p, w);
  const rb = rankBase(o, w);
  const ring = o + HEADER;
  const c = ((n - 1) >> 1) + 2;
  const a = (n >> 1) - (c >> 1);
  const lo = med - p[ring + r[rb + a]];
  const hi = p[ring + r[rb + a + c - 1]] - med;
  return lo > hi ? lo : hi;
}

/** Multiplies every value by `factor` (> 0), which keeps their order (ties may form; ranks stay valid). */
export function rankedScale(p: Float32Array, o: number, factor: number): void {
  const n = p[o + COUNT] | 0;
  const ring = o + HEADER;
  for (let i = 0; i < n; i++) p[ring + i] *= factor;
}

/**
 * `rollingPushSums` on a ranked window: also keeps, at `sums[so]`, `sums[so + 1]`, the total
 * and the sum of the `count >> 1` smallest values (`sums[so + 2]` counts pushes since they
 * were re-summed), with the same updates and re-sums as `rolling.ts`, so `rollingMeanAbsDev`
 * (which reads only the count and the sums) serves both.
 */
export function rankedPushSums(p: Float32Array, o: number, v: number, sums: Float64Array, so: number): void {
  const w = p[o + CAP] | 0;
  const n = p[o + COUNT] | 0;
  if (n < w || ++sums[so + 2] >= 4096) {
    rankedPush(p, o, v);
    resum(p, o, sums, so);
    return;
  }
  const r = ranksOf(p, w);
  const rb = rankBase(o, w);
  const ring = o + HEADER;
  const k = n >> 1;
  const old = p[ring + (p[o + HEAD] | 0)];
  const at = replace(p, o, w, r, rb, v);
  const from = FROM;
  const nv = p[ring + r[rb + at]];
  sums[so] += nv - old;
  if (from < k) {
    const below = p[ring + r[rb + k - 1]];
    sums[so + 1] += (nv < below ? nv : below) - old;
  } else {
    const kth = p[ring + r[rb + k]];
    if (nv < kth) sums[so + 1] += nv - kth;
  }
}

function resum(p: Float32Array, o: number, sums: Float64Array, so: number): void {
  const n = p[o + COUNT] | 0;
  const w = p[o + CAP] | 0;
  const r = ranksOf(p, w);
  const rb = rankBase(o, w);
  const ring = o + HEADER;
  const k = n >> 1;
  let tot = 0;
  let low = 0;
  for (let i = 0; i < n; i++) {
    const x = p[ring + r[rb + i]];
    if (i < k) low += x;
    tot += x;
  }
  sums[so] = tot;
  sums[so + 1] = low;
  sums[so + 2] = 0;
}
