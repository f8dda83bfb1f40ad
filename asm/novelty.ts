/**
 * Novelty's judging of one point in WebAssembly (AssemblyScript): the steady state of
 * `src/detect/novelty.ts`' `updateAt`, step for step, over the same bytes.
 *
 * Why by hand in WebAssembly: novelty is about 0.8 µs of the default set's ~1.3 µs a point,
 * and the same algorithm runs 1.5-1.6x faster here than in V8's JIT (no typed-array bounds
 * checks, no float-to-int index conversions, no boxed doubles: docs/research/detect-throughput.md).
 * The detector's state stays where it is (a series' region in a slab); the slabs are carved
 * from one shared WebAssembly memory (src/series/arena.ts), so this code reads and writes the
 * region in place, at the byte address JS hands it.
 *
 * Bit-identical to the JS path, which stays for every other case (learning, non-finite values,
 * the interval still being learned, roughness views on, states in other buffers): the same
 * operations in the same order on the same float32/float64 values, and the transcendental
 * functions imported from JS (V8's fdlibm), since AssemblyScript's own may differ in the last
 * bit. `src/detect/novelty-kernel.test.ts` holds the two paths to equal verdicts and states.
 *
 * Returns 1, having changed nothing, when the point is not in the steady state it handles; the
 * caller then runs the JS path. Returns 0 when judged: OUT holds score, median, scale, view.
 */
@external('env', 'log1p') declare function jlog1p(x: f64): f64;
@external('env', 'exp') declare function jexp(x: f64): f64;
@external('env', 'expm1') declare function jexpm1(x: f64): f64;
@external('env', 'log10') declare function jlog10(x: f64): f64;
@external('env', 'log') declare function jlog(x: f64): f64;

/** Fixed addresses in the arena's reserved first 64 KiB (src/series/arena.ts writes Z_EDGE). */
export const OUT: usize = 1024; // 4 doubles: score, median, scale, reported view
export const Z_EDGE: usize = 1088; // 21 doubles: tail.ts' bin edges, computed by JS
const RS: usize = 1280; // 64 doubles: the residual window sorted (ringMedian's scratch)
const Y5: usize = 1856; // 5 doubles: yesterday's median of five
const ZV: usize = 1904; // 6 doubles: the views' deviations
const TOUCHED: usize = 1952; // 1 double: where the up-front loads' sum goes, so that they are kept

// novelty.ts' scalars (doubles from the block's address F; options at G).
const W = 0;
const K2 = 1;
const SK = 2;
const RK = 3;
const NS_MAX = 4;
const BETA = 6;
const PRIOR = 7;
const HOLD = 8;
const DEC = 9;
const MARGIN = 10;
const PEAK = 11;
const ALERT_S = 12;
const RARE_W = 13;
const INC = 14;
const AGE = 15;
const SUMS = 16;
const N_LVL = 19;
const LAST_X = 21;
const LAST_T = 22;
const R_LONG = 23;
const R_ABS = 24;
const EXPLAINED = 25;
const SINCE = 26;
const PEND = 27;
const PEND_AGE = 28;
const PEND_VIEW = 29;
const PEND_X = 30;
const SLOT_W = 31;
const SLOTS = 32;
const SLOT_A = 33;
const SLOT_SUM = 34;
const SLOT_CNT = 35;
const PREV1 = 37;
const PREV2 = 38;
const Y_A = 39;
const Y_MED = 40;
const LAYOUT = 41;
const LAYOUT_VERSION: f64 = 12;
const QUANTUM = 42;
const OUT_Z = 43;
const OUT_LAST = 44;
const FINE_LOG = 45;
const FINE_MEM = 46;
const ECHO_T = 47;
const ECHO_S = 55;
const ECHO_N = 8;
const SCALARS = 63;
const WEEK_MS: f64 = 7 * 86_400_000;
const ECHO_MS: f64 = 30 * 60_000;

const VIEWS = 6; // roughness off (roughPoints 0): the only case handled here
const WARM: f64 = 20;
const REFRESH: i64 = 64;
const BAND: f64 = 4;
const ZERO_S: f64 = 1.1;
const ZERO_FLOOR: f64 = 1.0 / 3;
const ZERO_RUN_MAX: i32 = 16;
const COUNT_DISPERSION: f64 = 4;
const ZERO_SD_MARGIN: f64 = 1.25;

/** novelty.ts `zeroRun`: the zeros in a row that make an outage of a count at a median of `units` units. */
function zeroRun(units: f64, alertSurprise: f64): i32 {
  const surprise = alertSurprise * Math.LN10;
  if (!(units > 0) || units >= surprise) return 1;
  const run = <i32>Math.ceil(surprise / units);
  return run < ZERO_RUN_MAX ? run : ZERO_RUN_MAX;
}

/** novelty.ts `zeroUnits`: how far above 0, in units whose e^(-units) bounds a zero's chance. */
function zeroUnits(lvl: usize, n: i32, m: f64, sc: f64, quantum: f64, count: bool): f64 {
  const window = (0.5 * (m * m)) / (sc * sc);
  if (count) return m / quantum < window ? m / quantum : window;
  let k = 0;
  while (k < n && fl(lvl, k) <= 0) k++;
  const pos = n - k;
  if (pos * 2 < n || pos < 2) return window;
  const med = (fl(lvl, k + ((pos - 1) >> 1)) + fl(lvl, k + (pos >> 1))) / 2;
  let dev: f64 = 0;
  for (let i = k; i < n; i++) {
    const v = fl(lvl, i);
    dev += v > med ? v - med : med - v;
  }
  let spread = (ZERO_SD_MARGIN * 1.2533 * dev) / <f64>pos;
  if (quantum != Infinity && spread < quantum) spread = quantum;
  if (spread < 1e-9 * med) spread = 1e-9 * med;
  return (0.5 * (med * med)) / (spread * spread);
}

const DELTA_N: f64 = 24;
export const HILL_90: f64 = 1.7320508075688772;

// tail.ts
const TAIL_BINS = 20;
const TAIL_BW: f64 = 0.25;
/** tail.ts TYPICAL_Z and PRIOR_SCALE_MIN. */
const TYPICAL_Z: f64 = 0.6745;
const PRIOR_SCALE_MIN: f64 = 0.5;
const TOT = 0;
const SKIP = 1;
const OPEN_MAX = 2;
const H = 3;
const TAIL_SIZE = 3 + TAIL_BINS;

// ranked.ts / rolling.ts window header (floats)
const CAP = 0;
const COUNT = 1;
const HEAD = 2;
const HEADER = 3;
const SHORT_SLIDE = 4;

/** Double k of the block at F (shared with ./set.ts). */
@inline export function sd(F: usize, k: i32): f64 {
  return load<f64>(F + (<usize>k << 3));
}
@inline export function setd(F: usize, k: i32, v: f64): void {
  store<f64>(F + (<usize>k << 3), v);
}
/** Float i of the table at byte address `b`, widened. */
@inline function fl(b: usize, i: i32): f64 {
  return <f64>load<f32>(b + (<usize>i << 2));
}
/** Stores `v` rounded to float32 (as a Float32Array store does). */
@inline function setfl(b: usize, i: i32, v: f64): void {
  store<f32>(b + (<usize>i << 2), <f32>v);
}
@inline function rank(rb: usize, i: i32): i32 {
  return <i32>load<u8>(rb + <usize>i);
}
@inline function setRank(rb: usize, i: i32, v: i32): void {
  store<u8>(rb + <usize>i, <u8>v);
}
/** The value of rank i of a ranked window (ring at `ring`, ranks at `rb`). */
@inline function val(ring: usize, rb: usize, i: i32): f64 {
  return fl(ring, rank(rb, i));
}
@inline function dz(i: i32): f64 {
  return load<f64>(Z_EDGE + (<usize>i << 3));
}

// ---- ranked.ts (one-byte ranks: w <= 256) ----

function lowerBound(ring: usize, rb: usize, n: i32, x: f64): i32 {
  let b = 0;
  let len = n;
  while (len > 1) {
    const half = len >> 1;
    b = val(ring, rb, b + half - 1) < x ? b + half : b;
    len -= half;
  }
  return b;
}

function firstAtLeast(ring: usize, rb: usize, lo: i32, hi: i32, x: f64): i32 {
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (val(ring, rb, mid) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function firstAbove(ring: usize, rb: usize, lo: i32, hi: i32, x: f64): i32 {
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (val(ring, rb, mid) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

let FROM = 0;

/** ranked.ts' replace: the window at table address `tb` is full. */
function replace(tb: usize, w: i32, rb: usize, v: f64): i32 {
  const ring = tb + (HEADER << 2);
  const head = <i32>fl(tb, HEAD);
  const old = fl(ring, head);
  let i = lowerBound(ring, rb, w, old);
  FROM = i;
  if (rank(rb, i) != head) {
    let k = i + 1;
    while (rank(rb, k) != head) k++;
    setRank(rb, k, rank(rb, i));
  }
  setfl(ring, head, v);
  let steps = SHORT_SLIDE;
  if (v > old) {
    while (i + 1 < w && val(ring, rb, i + 1) < v) {
      if (--steps < 0) {
        const j = firstAtLeast(ring, rb, i + 2, w, v);
        memory.copy(rb + <usize>i, rb + <usize>(i + 1), <usize>(j - i - 1));
        i = j - 1;
        break;
      }
      setRank(rb, i, rank(rb, i + 1));
      i++;
    }
  } else {
    while (i > 0 && val(ring, rb, i - 1) > v) {
      if (--steps < 0) {
        const j = firstAbove(ring, rb, 0, i - 1, v);
        memory.copy(rb + <usize>(j + 1), rb + <usize>j, <usize>(i - j));
        i = j;
        break;
      }
      setRank(rb, i, rank(rb, i - 1));
      i--;
    }
  }
  setRank(rb, i, head);
  setfl(tb, HEAD, head + 1 == w ? 0 : head + 1);
  return i;
}

function rankedMedian(ring: usize, rb: usize, n: i32): f64 {
  const h = n >> 1;
  if (n & 1) return val(ring, rb, h);
  return (val(ring, rb, h - 1) + val(ring, rb, h)) / 2;
}

function rankedMad(ring: usize, rb: usize, n: i32, med: f64): f64 {
  const h = n >> 1;
  const q = n - h;
  const kk = (n - 1) >> 1;
  let lo = kk + 1 - q > 0 ? kk + 1 - q : 0;
  let hi = kk + 1 < h ? kk + 1 : h;
  while (lo < hi) {
    const i = (lo + hi) >> 1;
    if (val(ring, rb, h + kk - i) - med > med - val(ring, rb, h - 1 - i)) lo = i + 1;
    else hi = i;
  }
  const i = lo;
  const j = kk + 1 - i;
  const a1 = i > 0 ? med - val(ring, rb, h - i) : -Infinity;
  const b1 = j > 0 ? val(ring, rb, h + j - 1) - med : -Infinity;
  const kth = a1 > b1 ? a1 : b1;
  if (n & 1) return kth;
  const a2 = i < h ? med - val(ring, rb, h - 1 - i) : Infinity;
  const b2 = j < q ? val(ring, rb, h + j) - med : Infinity;
  return (kth + (a2 < b2 ? a2 : b2)) / 2;
}

function rankedMadBound(ring: usize, rb: usize, n: i32, med: f64): f64 {
  const c = ((n - 1) >> 1) + 2;
  const a = (n >> 1) - (c >> 1);
  const lo = med - val(ring, rb, a);
  const hi = val(ring, rb, a + c - 1) - med;
  return lo > hi ? lo : hi;
}

/** ranked.ts' rankedPushSums on a full window (the only case here). */
function pushSums(tb: usize, w: i32, rb: usize, v: f64, F: usize): void {
  const ring = tb + (HEADER << 2);
  const n = w;
  const s2 = sd(F, SUMS + 2) + 1;
  setd(F, SUMS + 2, s2);
  if (s2 >= 4096) {
    replace(tb, w, rb, v);
    // resum
    const k = n >> 1;
    let tot: f64 = 0;
    let low: f64 = 0;
    for (let i = 0; i < n; i++) {
      const x = val(ring, rb, i);
      if (i < k) low += x;
      tot += x;
    }
    setd(F, SUMS, tot);
    setd(F, SUMS + 1, low);
    setd(F, SUMS + 2, 0);
    return;
  }
  const k = n >> 1;
  const old = fl(ring, <i32>fl(tb, HEAD));
  const at = replace(tb, w, rb, v);
  const from = FROM;
  const nv = val(ring, rb, at);
  setd(F, SUMS, sd(F, SUMS) + (nv - old));
  if (from < k) {
    const below = val(ring, rb, k - 1);
    setd(F, SUMS + 1, sd(F, SUMS + 1) + ((nv < below ? nv : below) - old));
  } else {
    const kth = val(ring, rb, k);
    if (nv < kth) setd(F, SUMS + 1, sd(F, SUMS + 1) + (nv - kth));
  }
}

// ---- rolling.ts' sorted runs and ring ----

function runLowerBound(b: usize, n: i32, x: f64): i32 {
  let s = 0;
  let len = n;
  while (len > 1) {
    const half = len >> 1;
    s = fl(b, s + half - 1) < x ? s + half : s;
    len -= half;
  }
  return s;
}

function sortedReplace(b: usize, n: i32, old: f64, v: f64): void {
  let i = runLowerBound(b, n, old);
  if (v > fl(b, i)) {
    while (i + 1 < n && fl(b, i + 1) < v) {
      setfl(b, i, fl(b, i + 1));
      i++;
    }
  } else {
    while (i > 0 && fl(b, i - 1) > v) {
      setfl(b, i, fl(b, i - 1));
      i--;
    }
  }
  setfl(b, i, v);
}

function sortedInsert(b: usize, n: i32, v: f64): void {
  let i = n;
  while (i > 0 && fl(b, i - 1) > v) {
    setfl(b, i, fl(b, i - 1));
    i--;
  }
  setfl(b, i, v);
}

function sortedMedian(b: usize, n: i32): f64 {
  if (n == 0) return NaN;
  const h = n >> 1;
  return n & 1 ? fl(b, h) : (fl(b, h - 1) + fl(b, h)) / 2;
}

function median5(a: f64, b: f64, c: f64, d: f64, e: f64): f64 {
  let t: f64;
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
  let p: f64;
  let q: f64;
  let x: f64;
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
  if (p <= x) return q < x ? q : x;
  return e < p ? e : p;
}

function ringMedian(b: usize): f64 {
  const n = <i32>fl(b, COUNT);
  if (n == 0) return NaN;
  const ring = b + (HEADER << 2);
  if (n == 5) return median5(fl(ring, 0), fl(ring, 1), fl(ring, 2), fl(ring, 3), fl(ring, 4));
  return floatsMedian(ring, n, RS);
}

/**
 * The median of the `n` floats at `p` (1 <= n <= 64), sorted by insertion into the doubles at
 * `scratch`: rolling.ts' and interval.ts' `ringMedian`, step for step.
 */
export function floatsMedian(p: usize, n: i32, scratch: usize): f64 {
  for (let k = 0; k < n; k++) {
    const v = fl(p, k);
    let i = k;
    while (i > 0 && load<f64>(scratch + (<usize>(i - 1) << 3)) > v) {
      store<f64>(scratch + (<usize>i << 3), load<f64>(scratch + (<usize>(i - 1) << 3)));
      i--;
    }
    store<f64>(scratch + (<usize>i << 3), v);
  }
  const h = n >> 1;
  return n & 1 ? load<f64>(scratch + (<usize>h << 3)) : (load<f64>(scratch + (<usize>(h - 1) << 3)) + load<f64>(scratch + (<usize>h << 3))) / 2;
}

function ringPush(b: usize, v: f64): void {
  const w = <i32>fl(b, CAP);
  const n = <i32>fl(b, COUNT);
  if (n < w) setfl(b, COUNT, n + 1);
  const head = <i32>fl(b, HEAD);
  setfl(b + (HEADER << 2), head, v);
  setfl(b, HEAD, head + 1 == w ? 0 : head + 1);
}

// ---- tail.ts, calibrators interleaved with stride VIEWS ----

@inline function tf(co: usize, field: i32): f64 {
  return fl(co, field * VIEWS);
}
@inline function setTf(co: usize, field: i32, v: f64): void {
  setfl(co, field * VIEWS, v);
}

let kBeta: f64 = NaN;
let kR: f64 = 0;
let kK: f64 = 0;

const TAIL_X_FROM = 8;
const TAIL_X_MASS: f64 = 20;
/** tail.ts' LN_Z_START and LN_Z_MID (the same doubles). */
const LN_Z_START: f64 = 1.854586542131141;
/** A switch over the bins: a StaticArray of them trapped (unreachable) on the arena's imported memory with the stub runtime. */
function lnZMid(i: i32): f64 {
  switch (i) {
    case 0: return 1.9978107752254184;
    case 1: return 2.27737119613146;
    case 2: return 2.549802465374799;
    case 3: return 2.816929964225604;
    case 4: return 3.0800686009065767;
    case 5: return 3.3401827343810804;
    case 6: return 3.5979893781309955;
    case 7: return 3.8540272637621107;
    case 8: return 4.108704451228418;
    case 9: return 4.3623319558423885;
    default: return 4.615147972728696;
  }
}

function surprise(co: usize, z: f64, b: i32, inc: f64, beta: f64, prior: f64): f64 {
  const L = jlog1p(z);
  let frac = L / TAIL_BW - <f64>b;
  if (frac > 1) frac = 1;
  if (frac < 0) frac = 0;
  let mass: f64 = 0;
  for (let j = b + 1; j < TAIL_BINS; j++) mass += tf(co, H + j);
  if (beta != kBeta) {
    kBeta = beta;
    kR = beta / TAIL_BW;
    kK = jexp(-TAIL_BW / beta);
  }
  const r = kR;
  const u = jexp((-frac * TAIL_BW) / beta);
  if (b == TAIL_BINS - 1) {
    const over = L - tf(co, OPEN_MAX);
    mass += tf(co, H + b) * (over <= 0 ? 1 : jexp(-over / beta));
  } else mass += tf(co, H + b) * (1 - frac + r * (1 - u));
  const kk = kK;
  let w = r * u * (1 - kk);
  for (let j = b - 1; j >= 0 && j >= b - 3; j--) {
    mass += tf(co, H + j) * w;
    w *= kk;
  }
  let tail = (mass / inc + prior / (1 + z / priorScale(co))) / (tf(co, TOT) / inc + prior);
  const ext = tailExtension(co, z, inc, prior);
  if (ext > tail) tail = ext;
  return tail >= 1 ? 0 : -jlog10(tail);
}

/** tail.ts `tailExtension`: a Hill's estimate of the heavy tail beyond bin TAIL_X_FROM, 0 without TAIL_X_MASS there. */
function tailExtension(co: usize, z: f64, inc: f64, prior: f64): f64 {
  if (!(z > dz(TAIL_X_FROM))) return 0;
  let mass: f64 = 0;
  let excess: f64 = 0;
  for (let j = TAIL_X_FROM; j < TAIL_BINS; j++) {
    const m = tf(co, H + j);
    if (!(m > 0)) continue;
    let lnz = lnZMid(j - TAIL_X_FROM);
    if (j == TAIL_BINS - 1) {
      const top = tf(co, OPEN_MAX);
      const lo = <f64>j * TAIL_BW;
      lnz = jlog(jexpm1((lo + (top > lo ? top : lo)) / 2));
    }
    mass += m;
    excess += m * (lnz - LN_Z_START);
  }
  if (!(mass / inc >= TAIL_X_MASS && excess > 0)) return 0;
  return (mass / inc / (tf(co, TOT) / inc + prior)) * jexp((-mass / excess) * (jlog(z) - LN_Z_START));
}

/** tail.ts `priorScale`: the 75th percentile of z over TYPICAL_Z, within [1/2, 1]; 1 with no history. */
function priorScale(co: usize): f64 {
  const total = tf(co, TOT);
  if (!(total > 0)) return 1;
  const need = 0.75 * total;
  let below: f64 = 0;
  let L: f64 = <f64>TAIL_BINS * TAIL_BW;
  for (let j = 0; j < TAIL_BINS; j++) {
    const m = tf(co, H + j);
    if (below + m >= need && m > 0) {
      L = (<f64>j + (need - below) / m) * TAIL_BW;
      break;
    }
    below += m;
  }
  const s = jexpm1(L) / TYPICAL_Z;
  return s < PRIOR_SCALE_MIN ? PRIOR_SCALE_MIN : s > 1 ? 1 : s;
}

function tailObserve(co: usize, z: f64, inc: f64, beta: f64, prior: f64, cut: f64, rareWeight: f64): f64 {
  let b = 0;
  if (z > 0) {
    if (z >= dz(TAIL_BINS - 1)) b = TAIL_BINS - 1;
    else while (z >= dz(b + 1)) b++;
  }
  let s: f64 = 0;
  if (z >= tf(co, SKIP)) s = surprise(co, z, b, inc, beta, prior);
  if (b == TAIL_BINS - 1) {
    const L = jlog1p(z);
    if (L > tf(co, OPEN_MAX)) setTf(co, OPEN_MAX, L);
  }
  const w = s >= cut ? inc * rareWeight : inc;
  setTf(co, H + b, tf(co, H + b) + w);
  setTf(co, TOT, tf(co, TOT) + w);
  return s;
}

function tailRefresh(co: usize, inc: f64, prior: f64): void {
  const need = 0.01 * (tf(co, TOT) + prior * inc);
  let above: f64 = 0;
  let j = TAIL_BINS - 1;
  for (; j >= 0; j--) {
    const m = tf(co, H + j);
    if (above + m > need) break;
    above += m;
  }
  let zSkip: f64 = 0;
  if (j == TAIL_BINS - 1) zSkip = dz(TAIL_BINS - 1);
  else if (j >= 0) {
    const f = 1 - (need - above) / tf(co, H + j);
    zSkip = jexpm1((<f64>j + f) * TAIL_BW);
  }
  zSkip *= 1 - 1e-6;
  setTf(co, SKIP, zSkip);
}

function tailRenormalise(co: usize, inc: f64): void {
  setTf(co, TOT, tf(co, TOT) / inc);
  for (let j = 0; j < TAIL_BINS; j++) setTf(co, H + j, tf(co, H + j) / inc);
}

// ---- novelty.ts ----

/** novelty.ts `slotYesterday`: yesterday's value of the slot `j` away from slot `a`. */
@inline function slotYesterday(F: usize, day: usize, a: f64, ns: f64, j: i32): f64 {
  return j == -2 ? sd(F, PREV2) : j == -1 ? sd(F, PREV1) : fl(day, <i32>((a + <f64>j) % ns));
}

/**
 * novelty.ts' `yesterday` once the slot width is known (width > 0; the caller checked),
 * from the slot `a` (floor(t / width), 0 <= cur <= a checked by the caller).
 */
function yesterday(F: usize, day: usize, a: f64, x: f64): f64 {
  const ns = sd(F, SLOTS);
  let cur = sd(F, SLOT_A);
  if (a > cur) {
    const stop = a - cur > ns ? cur + ns : a;
    for (let k = cur; k < stop; k++) {
      const i = <i32>(k % ns);
      setd(F, PREV2, sd(F, PREV1));
      setd(F, PREV1, fl(day, i));
      if (k == cur && sd(F, SLOT_CNT) > 0) setfl(day, i, sd(F, SLOT_SUM) / sd(F, SLOT_CNT));
    }
    setd(F, SLOT_A, (cur = a));
    setd(F, SLOT_SUM, 0);
    setd(F, SLOT_CNT, 0);
  }
  setd(F, SLOT_SUM, sd(F, SLOT_SUM) + x);
  setd(F, SLOT_CNT, sd(F, SLOT_CNT) + 1);
  if (a == sd(F, Y_A)) return sd(F, Y_MED);
  let k = 0;
  for (let j = -2; j <= 2; j++) {
    const v = slotYesterday(F, day, a, ns, j);
    if (v == v) {
      let i = k++;
      while (i > 0 && load<f64>(Y5 + (<usize>(i - 1) << 3)) > v) {
        store<f64>(Y5 + (<usize>i << 3), load<f64>(Y5 + (<usize>(i - 1) << 3)));
        i--;
      }
      store<f64>(Y5 + (<usize>i << 3), v);
    }
  }
  const med = k < 3 ? NaN : k & 1 ? load<f64>(Y5 + (<usize>(k >> 1) << 3)) : (load<f64>(Y5 + (<usize>((k >> 1) - 1) << 3)) + load<f64>(Y5 + (<usize>(k >> 1) << 3))) / 2;
  setd(F, Y_A, a);
  setd(F, Y_MED, med);
  return med;
}

/** novelty.ts `yesterdaySlope`: this time yesterday's distance from its slot's middle, along yesterday's slope. */
function yesterdaySlope(F: usize, day: usize, t: f64, width: f64): f64 {
  const ns = sd(F, SLOTS);
  const a = sd(F, SLOT_A);
  const next = slotYesterday(F, day, a, ns, 1);
  const prev = slotYesterday(F, day, a, ns, -1);
  if (!(width > 0) || next != next || prev != prev) return 0;
  return ((next - prev) / 2) * (t / width - a - 0.5);
}

/** novelty.ts `yesterdayLow`: the lowest known value of the five slots around this time yesterday, NaN when none. */
function yesterdayLow(F: usize, day: usize): f64 {
  const ns = sd(F, SLOTS);
  const a = sd(F, SLOT_A);
  let low: f64 = NaN;
  for (let j = -2; j <= 2; j++) {
    const v = slotYesterday(F, day, a, ns, j);
    if (v == v && !(v >= low)) low = v;
  }
  return low;
}

/** novelty.ts' weeklyEcho: a report at this time of week a week ago, no clearer, is routine; records this one. */
function weeklyEcho(F: usize, t: f64, view: f64, S: f64, margin: f64, outage: bool): bool {
  const week = t - WEEK_MS;
  let echo = false;
  let slot = 0;
  const vp = <i32>view & 1;
  for (let k = 0; k < ECHO_N; k++) {
    const e = sd(F, ECHO_T + k);
    if (e == e) {
      const et = Math.floor(e / 8);
      const ev = e - et * 8;
      if ((<i32>ev & 1) == vp && et >= week - ECHO_MS && et <= week + ECHO_MS && S <= sd(F, ECHO_S + k) + margin) echo = true;
    }
    const cur = sd(F, ECHO_T + slot);
    if (cur == cur && !(e >= cur)) slot = k;
  }
  setd(F, ECHO_T + slot, t * 8 + view);
  setd(F, ECHO_S + slot, S);
  return echo && !outage;
}

/**
 * One point of novelty at block address F (f[o] of the JS code; its options at G), time t,
 * value x. 0: judged, OUT filled. 1: not a case handled here, nothing changed.
 */
export function update(F: usize, G: usize, t: f64, x: f64): i32 {
  // The cases handled: the current layout, a full one-byte-rank window, no roughness views,
  // a finite value, and the slot width settled (or no daily view) with slots numbered from 0.
  if (sd(F, LAYOUT) != LAYOUT_VERSION) return 1;
  const wd = sd(G, W);
  if (!(wd <= 256) || sd(G, RK) != 0) return 1;
  if (x != x || x == Infinity || x == -Infinity) return 1;
  const w = <i32>wd;
  const tb = F + (SCALARS << 3);
  const n = <i32>fl(tb, COUNT);
  if (n < w) return 1;
  const width = sd(F, SLOT_W);
  if (width == 0) return 1;
  let a: f64 = 0;
  if (width > 0) {
    a = Math.floor(t / width);
    const cur = sd(F, SLOT_A);
    if (!(cur >= 0) || !(a < 2147483648)) return 1;
  }
  const ring = tb + (HEADER << 2);
  const rb = tb + (<usize>(HEADER + w) << 2);
  // One load from every line of the running state and the table up front: independent loads,
  // so their misses overlap instead of each probe of a search waiting for the one before (the
  // set's own sweep is off with the kernel: see novelty.ts). 1.04-1.05x at 10,000 series
  // (with and without, alternating every 4 or 8 points on the same states).
  const tableEnd = tb + (<usize>(HEADER + w + ((w + 3) >> 2) + <i32>sd(G, K2) + HEADER + 2 * <i32>sd(G, SK) + <i32>(sd(G, NS_MAX) > DELTA_N ? sd(G, NS_MAX) : DELTA_N) + VIEWS * TAIL_SIZE) << 2);
  let touched: f64 = 0;
  for (let q = F + (INC << 3); q < tableEnd; q += 64) touched += <f64>load<f32>(q);
  store<f64>(TOUCHED, touched);
  const m = rankedMedian(ring, rb, n);
  const xs = <f64>(<f32>x);
  // The data's resolution, as known before this point (novelty.ts; series/resolution.ts' finerResolution).
  const lastX = sd(F, LAST_X);
  const quantum = sd(F, QUANTUM);
  const moved = xs > lastX ? xs - lastX : lastX - xs;
  if (moved > 0 && moved < quantum) setd(F, QUANTUM, moved);
  setd(F, LAST_X, xs);
  setd(F, LAST_T, t);
  // Same time yesterday (width < 0: no daily view; a < cur: out of order, ignored).
  const lvlOff = HEADER + w + ((w + 3) >> 2);
  const k2 = <i32>sd(G, K2);
  const resOff = lvlOff + k2;
  const nsMax = sd(G, NS_MAX);
  const dayOff = resOff + HEADER + 2 * <i32>sd(G, SK);
  const calOff = dayOff + <i32>(nsMax > DELTA_N ? nsMax : DELTA_N);
  let y: f64 = NaN;
  if (width > 0 && a >= sd(F, SLOT_A)) y = yesterday(F, tb + (<usize>dayOff << 2), a, x);
  if (y == y) y += yesterdaySlope(F, tb + (<usize>dayOff << 2), t, width);
  // The level run.
  const lvl = tb + (<usize>lvlOff << 2);
  const nl = <i32>sd(F, N_LVL);
  if (nl < k2) {
    sortedInsert(lvl, nl, xs);
    setd(F, N_LVL, nl + 1);
  } else {
    let i = <i32>fl(tb, HEAD) - k2;
    if (i < 0) i += w;
    sortedReplace(lvl, nl, fl(ring, i), xs);
  }
  // Scale.
  const s0 = sd(F, SUMS);
  const s1 = sd(F, SUMS + 1);
  let mad = (s0 - 2 * s1 - m * <f64>(n - 2 * (n >> 1))) / <f64>n;
  if (!(mad > 0)) mad = 0;
  const floor = 0.6267 * mad;
  let sc = 1.4826 * rankedMadBound(ring, rb, n, m);
  if (sc > floor) sc = 1.4826 * rankedMad(ring, rb, n, m);
  if (sc < floor) sc = floor;
  if (sc < quantum && quantum != Infinity) sc = quantum;
  const am = m < 0 ? -m : m;
  if (sc < 1e-9 * (am > 1 ? am : 1)) sc = 1e-9 * (am > 1 ? am : 1);
  const zp = (xs - m) / sc;
  const zl = (sortedMedian(lvl, <i32>sd(F, N_LVL)) - m) / sc;
  let zs: f64 = 0;
  let highNow = false;
  let seasonal = false;
  if (y == y) {
    const r = x - y;
    const res = tb + (<usize>resOff << 2);
    ringPush(res, r);
    let rl = sd(F, R_LONG);
    if (sd(F, R_ABS) > 0) {
      const e = r - rl;
      const ra = sd(F, R_ABS);
      setd(F, R_ABS, ra + (1 / wd) * ((e < 0 ? -e : e) - ra));
      rl += (1 / wd) * e;
      let rsc = 1.2533 * sd(F, R_ABS);
      if (rsc < 0.1 * sc) rsc = 0.1 * sc;
      zs = (ringMedian(res) - rl) / rsc;
      highNow = y + rl > BAND * 1.2533 * sd(F, R_ABS);
      seasonal = fl(res, COUNT) >= sd(G, SK);
    } else {
      rl = r;
      setd(F, R_ABS, sc);
    }
    setd(F, R_LONG, rl);
  }
  store<f64>(ZV, zp > 0 ? zp : 0);
  store<f64>(ZV + 8, zp < 0 ? -zp : 0);
  store<f64>(ZV + 16, zl > 0 ? zl : 0);
  store<f64>(ZV + 24, zl < 0 ? -zl : 0);
  store<f64>(ZV + 32, zs > 0 ? zs : 0);
  store<f64>(ZV + 40, zs < 0 ? -zs : 0);
  // Calibrate.
  const cal = tb + (<usize>calOff << 2);
  // Sampling finer than a minute (novelty.ts' fineSampling, set before this kernel starts).
  let inc = sd(F, INC) / sd(F, FINE_MEM);
  const beta = sd(G, BETA);
  const prior = sd(G, PRIOR);
  const rareW = sd(G, RARE_W);
  const fine = sd(F, FINE_LOG);
  const cut = sd(G, ALERT_S) + fine;
  let S: f64 = 0;
  let best = -1;
  const age = sd(F, AGE) + 1;
  setd(F, AGE, age);
  const ai = <i64>age;
  const refresh = (ai & (REFRESH - 1)) == 0 || (age < <f64>REFRESH && (ai & (ai - 1)) == 0);
  const views = seasonal ? VIEWS : VIEWS - 2;
  for (let v = 0; v < views; v++) {
    const co = cal + (<usize>v << 2);
    const warm = tf(co, TOT) / inc >= WARM;
    const sv = tailObserve(co, load<f64>(ZV + (<usize>v << 3)), inc, beta, prior, cut, rareW) - fine;
    if (refresh) tailRefresh(co, inc, prior);
    if (warm && sv > S) {
      S = sv;
      best = v;
    }
  }
  if (inc > 1e20) {
    for (let v = 0; v < VIEWS; v++) tailRenormalise(cal + (<usize>v << 2), inc);
    inc = 1;
  }
  setd(F, INC, inc);
  // An outage (novelty.ts): the zeros of outages already reported (OUT_Z, until the last has
  // left the window) do not make the series one that is often 0.
  const outZ = age - sd(F, OUT_LAST) >= wd ? 0 : sd(F, OUT_Z);
  let outage = false;
  let run: i32 = 0;
  if (xs == 0 && m > 0 && sd(F, OUT_LAST) != age - 1) {
    // The run of zeros rare enough to reach the alert surprise (novelty.ts `zeroRun`, `zeroUnits`).
    const head = <i32>fl(tb, HEAD);
    run = 1;
    while (run < ZERO_RUN_MAX && run < w - 1 && fl(ring, head - run < 0 ? head - run + w : head - run) == 0) run++;
    const count = quantum != Infinity && sc * sc <= COUNT_DISPERSION * m * quantum;
    const need = zeroRun(zeroUnits(lvl, <i32>sd(F, N_LVL), m, sc, quantum, count), sd(G, ALERT_S));
    const skip = outZ + <f64>(run - 1);
    const low = val(ring, rb, skip < wd - 1 ? <i32>skip : w - 1);
    outage = run >= need && low > 0 && !((width > 0 ? yesterdayLow(F, tb + (<usize>dayOff << 2)) : NaN) <= 0) && (count || m > BAND * sc || low > ZERO_FLOOR * m || highNow);
  }
  if (outage && S < sd(G, ALERT_S) * ZERO_S) {
    S = sd(G, ALERT_S) * ZERO_S;
    best = 1;
  }
  if (xs == 0 && (outage || (outZ > 0 && sd(F, OUT_LAST) == age - 1))) {
    setd(F, OUT_Z, outZ + (outage ? <f64>run : 1));
    setd(F, OUT_LAST, age);
  } else setd(F, OUT_Z, outZ);
  pushSums(tb, w, rb, x, F);
  // Already explained.
  const since = sd(F, SINCE) + 1;
  setd(F, SINCE, since);
  if (since > sd(G, HOLD)) setd(F, EXPLAINED, sd(F, EXPLAINED) * sd(G, DEC));
  if (S > sd(F, EXPLAINED) + sd(G, MARGIN) && S > sd(F, PEND)) {
    setd(F, PEND, S);
    setd(F, PEND_AGE, 0);
    setd(F, PEND_VIEW, <f64>best);
    setd(F, PEND_X, x);
  } else if (sd(F, PEND) > 0) setd(F, PEND_AGE, sd(F, PEND_AGE) + 1);
  let out0: f64 = 0;
  let view: f64 = -1;
  if (sd(F, PEND) > 0 && sd(F, PEND_AGE) >= sd(G, PEAK)) {
    out0 = sd(F, PEND);
    view = sd(F, PEND_VIEW);
    setd(F, EXPLAINED, out0);
    setd(F, SINCE, 0);
    setd(F, PEND, 0);
    if (out0 >= sd(G, ALERT_S) / HILL_90 && weeklyEcho(F, t, view, out0, sd(G, MARGIN), sd(F, PEND_X) == 0 && m > 0)) out0 = 0;
  }
  let score: f64 = 0;
  if (out0 > 0) {
    const r = out0 / (sd(G, ALERT_S) / HILL_90);
    const r2 = r * r;
    const r4 = r2 * r2;
    score = r4 / (1 + r4);
  }
  store<f64>(OUT, score);
  store<f64>(OUT + 8, m);
  store<f64>(OUT + 16, sc);
  store<f64>(OUT + 24, view);
  return 0;
}
