/**
 * Learns a series' sampling interval as the median of its last 16 positive timestamp deltas,
 * embedded at `f[o]`: [deltas seen, last timestamp, interval, ring of deltas...]. The ring may
 * live elsewhere (`ring`, `at`: e.g. a float32 alias of the same region, half the bytes; deltas
 * are exact in float32 up to 4.6 hours, and rounded by 6e-8 of themselves beyond); then `f`
 * holds only the first INTERVAL_SCALARS slots.
 * The median is recomputed at each of the first 16 deltas and then every 4th delta (a few
 * dozen comparisons, amortised to a handful per point): sampling rates change rarely, and a
 * late answer by up to three points is harmless. Duplicate and out-of-order timestamps are
 * ignored; gaps enter as one long delta, which the median shrugs off.
 * no_data's learner in the default profile's one-call kernel (asm/set.ts) is a copy of this:
 * a change here needs the same change there (src/detect/novelty-kernel.test.ts fails otherwise).
 */

const N = 0;
const LAST = 1;
const INTERVAL = 2;
const RING_AT = 3;
/** Deltas the median is taken over. */
export const INTERVAL_RING = 16;
/** Number of slots of `f` the learner uses. */
export const INTERVAL_SIZE = RING_AT + INTERVAL_RING;
/** Slots of `f` the learner uses when its ring of deltas lives elsewhere. */
export const INTERVAL_SCALARS = RING_AT;

type Ring = number[] | Float64Array | Float32Array;

const scratch = new Float64Array(INTERVAL_RING);

export function intervalInit(f: number[] | Float64Array, o: number, ring: Ring = f, at = o + RING_AT): void {
  f[o + N] = 0;
  f[o + LAST] = NaN;
  f[o + INTERVAL] = NaN;
  for (let i = 0; i < INTERVAL_RING; i++) ring[at + i] = 0;
}

/** Records a point's timestamp (ms); `ring`, `at` as given to intervalInit. */
export function intervalObserve(f: number[] | Float64Array, o: number, t: number, ring: Ring = f, at = o + RING_AT): void {
  const last = f[o + LAST];
  if (!(t > last)) {
    if (last !== last) f[o + LAST] = t; // first point
    return;
  }
  f[o + LAST] = t;
  const n = f[o + N];
  // n is a whole count below 2^53 and the ring a power of two: the mask is n % INTERVAL_RING
  // without the floating-point remainder (a library call) that `%` on a double compiles to.
  ring[at + (n & (INTERVAL_RING - 1))] = t - last;
  f[o + N] = n + 1;
  if (n + 1 <= INTERVAL_RING || ((n + 1) & 3) === 0) f[o + INTERVAL] = ringMedian(ring, at, n + 1 < INTERVAL_RING ? n + 1 : INTERVAL_RING);
}

function ringMedian(f: Ring, at: number, m: number): number {
  for (let i = 0; i < m; i++) {
    const v = f[at + i];
    let j = i;
    while (j > 0 && scratch[j - 1] > v) {
      scratch[j] = scratch[j - 1];
      j--;
    }
    scratch[j] = v;
  }
  const h = m >> 1;
  return m & 1 ? scratch[h] : (scratch[h - 1] + scratch[h]) / 2;
}

/** The learned interval in ms; NaN before the first delta. */
export function intervalGet(f: number[] | Float64Array, o: number): number {
  return f[o + INTERVAL];
}

/** Positive deltas seen so far. */
export function intervalDeltas(f: number[] | Float64Array, o: number): number {
  return f[o + N];
}

/** The last (latest) timestamp seen; NaN before the first point. */
export function intervalLast(f: number[] | Float64Array, o: number): number {
  return f[o + LAST];
}
