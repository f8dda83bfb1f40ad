/**
 * Rolling median + MAD per point: the sorted-array window (rolling.ts) against the two
 * designs it replaced, on the same data in the same run.
 *   - treap: an order-statistic treap over the ring buffer, O(log w) push, O(log^2 w) MAD;
 *   - naive: copy and sort the window twice per point (median, then deviations).
 * Run: node --import tsx src/series/rolling.bench.ts
 */
import { pathToFileURL } from 'node:url';
import { Rng, doubles } from './prng.ts';
import { rollingCreate, rollingMad, rollingMedian, rollingPush } from './rolling.ts';

const CAP = 0;
const COUNT = 1;
const HEAD = 2;
const ROOT = 3;
const HEADER = 4;
const NIL = 255;

// The O(log w) treap the sorted array replaced, kept here as the baseline.
/** Treap priorities per slot: a fixed hash, so the tree shape is deterministic. */
const PRIO = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let h = (i + 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  PRIO[i] = (h ^ (h >>> 16)) >>> 0;
}

/** Number of slots of `f` a window of `w` points uses. */
function tSize(w: number): number {
  return HEADER + w;
}

/** The link array for a window of `w` points: left, right and size per slot. */
function tLinks(w: number): Uint8Array {
  if (!(w >= 1 && w <= 254 && Number.isInteger(w))) {
    throw new RangeError(`rolling window must hold 1..${254} points, got ${w}`);
  }
  return new Uint8Array(3 * w);
}

/** Initialises an empty window of `w` points at `f[o]`. */
function tInit(f: number[], o: number, w: number): void {
  f[o + CAP] = w;
  f[o + COUNT] = 0;
  f[o + HEAD] = 0;
  f[o + ROOT] = NIL;
  for (let i = 0; i < w; i++) f[o + HEADER + i] = 0;
}

/** A standalone window, for callers that do not embed it: `{f, k}`. */
function tCreate(w: number): { f: number[]; k: Uint8Array } {
  const k = tLinks(w);
  const f = doubles(tSize(w));
  tInit(f, 0, w);
  return { f, k };
}


// The recursive tree edits read these instead of passing five arguments down every call.
// They are set by the public entry points and never outlive one call (no re-entrancy).
let V: number[] = [];
let B = 0; // index of slot 0's value in V
let K: Uint8Array = new Uint8Array(0);
let R = 0; // offset of the right links in K
let S = 0; // offset of the sizes in K

function less(a: number, b: number): boolean {
  const va = V[B + a];
  const vb = V[B + b];
  return va < vb || (va === vb && a < b);
}

function size(n: number): number {
  return n === NIL ? 0 : K[S + n];
}

function fix(n: number): void {
  K[S + n] = size(K[n]) + size(K[R + n]) + 1;
}

function insert(node: number, s: number): number {
  if (node === NIL) {
    K[s] = NIL;
    K[R + s] = NIL;
    K[S + s] = 1;
    return s;
  }
  K[S + node]++;
  if (less(s, node)) {
    const c = insert(K[node], s);
    K[node] = c;
    if (PRIO[c] > PRIO[node]) {
      // Rotate right: c becomes the subtree root.
      K[node] = K[R + c];
      K[R + c] = node;
      K[S + c] = K[S + node];
      fix(node);
      return c;
    }
  } else {
    const c = insert(K[R + node], s);
    K[R + node] = c;
    if (PRIO[c] > PRIO[node]) {
      K[R + node] = K[c];
      K[c] = node;
      K[S + c] = K[S + node];
      fix(node);
      return c;
    }
  }
  return node;
}

/** Joins two treaps where every key of `a` is below every key of `b`. */
function merge(a: number, b: number): number {
  if (a === NIL) return b;
  if (b === NIL) return a;
  if (PRIO[a] > PRIO[b]) {
    K[R + a] = merge(K[R + a], b);
    fix(a);
    return a;
  }
  K[b] = merge(a, K[b]);
  fix(b);
  return b;
}

function remove(node: number, s: number): number {
  if (node === s) return merge(K[s], K[R + s]);
  K[S + node]--;
  if (less(s, node)) K[node] = remove(K[node], s);
  else K[R + node] = remove(K[R + node], s);
  return node;
}

/** Adds a finite value, evicting the oldest once the window is full. */
function tPush(f: number[], o: number, k: Uint8Array, v: number): void {
  const w = f[o + CAP];
  V = f;
  B = o + HEADER;
  K = k;
  R = w;
  S = 2 * w;
  const n = f[o + COUNT];
  const head = f[o + HEAD];
  let root = f[o + ROOT];
  if (n === w) root = remove(root, head);
  else f[o + COUNT] = n + 1;
  f[B + head] = v;
  f[o + ROOT] = insert(root, head);
  f[o + HEAD] = head + 1 === w ? 0 : head + 1;
}

/** The k-th smallest value (0-based) of the window; k must be below the count. */
function tSelect(f: number[], o: number, k: Uint8Array, rank: number): number {
  const w = f[o + CAP];
  const r = w;
  const s = 2 * w;
  const base = o + HEADER;
  let node = f[o + ROOT];
  for (;;) {
    const l = k[node];
    const ls = l === NIL ? 0 : k[s + l];
    if (rank < ls) node = l;
    else if (rank === ls) return f[base + node];
    else {
      rank -= ls + 1;
      node = k[r + node];
    }
  }
}

/** The median of the window (mean of the two middle values for an even count); NaN if empty. */
function tMedian(f: number[], o: number, k: Uint8Array): number {
  const n = f[o + COUNT];
  if (n === 0) return NaN;
  const h = n >> 1;
  if (n & 1) return tSelect(f, o, k, h);
  return (tSelect(f, o, k, h - 1) + tSelect(f, o, k, h)) / 2;
}

/**
 * The median absolute deviation from `med` (which must be the window's median), unscaled;
 * for an even count, the mean of the two middle deviations. NaN if empty.
 */
function tMad(f: number[], o: number, k: Uint8Array, med: number): number {
  const n = f[o + COUNT];
  if (n === 0) return NaN;
  const h = n >> 1; // ranks [0, h) are <= med, ranks [h, n) are >= med
  const p = h;
  const q = n - h;
  const kk = (n - 1) >> 1; // 0-based rank of the (lower) middle deviation
  // A(j) = med - x[h-1-j] (ascending in j), B(j) = x[h+j] - med (ascending in j).
  let lo = kk + 1 - q > 0 ? kk + 1 - q : 0;
  let hi = kk + 1 < p ? kk + 1 : p;
  while (lo < hi) {
    const i = (lo + hi) >> 1;
    const j = kk + 1 - i;
    const a = med - tSelect(f, o, k, h - 1 - i);
    const b = tSelect(f, o, k, h + j - 1) - med;
    if (b > a) lo = i + 1;
    else hi = i;
  }
  const i = lo;
  const j = kk + 1 - i;
  const a1 = i > 0 ? med - tSelect(f, o, k, h - i) : -Infinity;
  const b1 = j > 0 ? tSelect(f, o, k, h + j - 1) - med : -Infinity;
  const kth = a1 > b1 ? a1 : b1;
  if (n & 1) return kth;
  const a2 = i < p ? med - tSelect(f, o, k, h - 1 - i) : Infinity;
  const b2 = j < q ? tSelect(f, o, k, h + j) - med : Infinity;
  return (kth + (a2 < b2 ? a2 : b2)) / 2;
}


function naive(win: number[]): number {
  const s = win.slice().sort((a, b) => a - b);
  const m = s[s.length >> 1];
  const d = s.map((x) => Math.abs(x - m)).sort((a, b) => a - b);
  return m + d[d.length >> 1];
}

export interface RollingBenchResult {
  name: 'series.rolling';
  window: number;
  sorted_ns_per_point: number;
  treap_ns_per_point: number;
  naive_ns_per_point: number;
  treap_ratio: number;
  naive_ratio: number;
}

/** Median and MAD of the window before each push, then the push; best of `rounds`. */
export function runRollingBench(opts: { window?: number; series?: number; points?: number; rounds?: number } = {}): RollingBenchResult {
  const w = opts.window ?? 48;
  const nS = opts.series ?? 1000;
  const nP = opts.points ?? 300;
  const rounds = opts.rounds ?? 5;
  const r = new Rng(1);
  const data = new Float64Array(nS * nP);
  for (let i = 0; i < data.length; i++) data[i] = 100 + 10 * r.normal();
  let sink = 0;
  const time = (fn: () => void): number => {
    let best = Infinity;
    for (let k = 0; k < rounds; k++) {
      const t0 = process.hrtime.bigint();
      fn();
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / (nS * nP));
    }
    return best;
  };
  const sorted = time(() => {
    const ws = Array.from({ length: nS }, () => rollingCreate(w));
    for (let p = 0; p < nP; p++) {
      for (let s = 0; s < nS; s++) {
        const f = ws[s];
        const m = rollingMedian(f, 0);
        if (m === m) sink += rollingMad(f, 0, m);
        rollingPush(f, 0, data[p * nS + s]);
      }
    }
  });
  const treapNs = time(() => {
    const ws = Array.from({ length: nS }, () => tCreate(w));
    for (let p = 0; p < nP; p++) {
      for (let s = 0; s < nS; s++) {
        const x = ws[s];
        const m = tMedian(x.f, 0, x.k);
        if (m === m) sink += tMad(x.f, 0, x.k, m);
        tPush(x.f, 0, x.k, data[p * nS + s]);
      }
    }
  });
  const naiveNs = time(() => {
    const ws: number[][] = Array.from({ length: nS }, () => []);
    for (let p = 0; p < nP; p++) {
      for (let s = 0; s < nS; s++) {
        const win = ws[s];
        if (win.length) sink += naive(win);
        win.push(data[p * nS + s]);
        if (win.length > w) win.shift();
      }
    }
  });
  if (sink === -1) console.log(sink);
  return {
    name: 'series.rolling',
    window: w,
    sorted_ns_per_point: Number(sorted.toFixed(1)),
    treap_ns_per_point: Number(treapNs.toFixed(1)),
    naive_ns_per_point: Number(naiveNs.toFixed(1)),
    treap_ratio: Number((treapNs / sorted).toFixed(2)),
    naive_ratio: Number((naiveNs / sorted).toFixed(2)),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const window of [48, 128]) console.log(JSON.stringify(runRollingBench({ window })));
}
