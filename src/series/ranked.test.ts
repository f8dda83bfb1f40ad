import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from './prng.ts';
import { rankedInit, rankedMad, rankedMadBound, rankedMedian, rankedPush, rankedPushSums, rankedScale, rankedSelect, rankedSize } from './ranked.ts';
import { rollingCount, rollingInit, rollingMad, rollingMadBound, rollingMeanAbsDev, rollingMedian, rollingPush, rollingPushSums, rollingRecent, rollingScale, rollingSelect, rollingSize } from './rolling.ts';

/** Same(ish) as Object.is but NaN-equal: the readers must agree bit for bit. */
function same(a: number, b: number, what: string): void {
  assert.ok(Object.is(a, b), `${what}: ranked ${a} vs rolling ${b}`);
}

/**
 * rankedMatchesRolling: a ranked window and a rolling window (both in float32) fed the same
 * stream give the same values from every reader after every push, ties and rescales included.
 */
function rankedMatchesRolling(w: number, points: number, draw: () => number, sums: boolean, seedLabel: string): void {
  const at = 5; // an odd float offset: ranks start wherever the region puts them
  const p = new Float32Array(at + rankedSize(w) + 3);
  const q = new Float32Array(rollingSize(w));
  rankedInit(p, at, w);
  rollingInit(q, 0, w);
  const sp = new Float64Array(3);
  const sq = new Float64Array(3);
  for (let t = 0; t < points; t++) {
    const v = draw();
    if (sums) {
      rankedPushSums(p, at, v, sp, 0);
      rollingPushSums(q, 0, v, sq, 0);
    } else {
      rankedPush(p, at, v);
      rollingPush(q, 0, v);
    }
    if (t === (points >> 1)) {
      rankedScale(p, at, 0.37);
      rollingScale(q, 0, 0.37);
    }
    const label = `${seedLabel} w=${w} t=${t}`;
    const n = rollingCount(p, at); // a ranked window has rolling.ts' header and ring
    assert.equal(n, Math.min(t + 1, w), label);
    const m = rankedMedian(p, at);
    same(m, rollingMedian(q, 0), `${label} median`);
    same(rankedMad(p, at, m), rollingMad(q, 0, m), `${label} mad`);
    if (n >= 4) same(rankedMadBound(p, at, m), rollingMadBound(q, 0, m), `${label} mad bound`);
    same(rankedSelect(p, at, 0), rollingSelect(q, 0, 0), `${label} min`);
    same(rankedSelect(p, at, n - 1), rollingSelect(q, 0, n - 1), `${label} max`);
    for (const k of [1, 2, n]) if (k <= n) same(rollingRecent(p, at, k), rollingRecent(q, 0, k), `${label} recent ${k}`);
    if (sums) {
      same(sp[0], sq[0], `${label} total`);
      same(sp[1], sq[1], `${label} lower sum`);
      same(rollingMeanAbsDev(p, at, m, sp, 0), rollingMeanAbsDev(q, 0, m, sq, 0), `${label} mean abs dev`);
    }
  }
  // Untouched around the window.
  assert.equal(p[at - 1], 0);
  assert.equal(p[at + rankedSize(w)], 0);
}

test('a ranked window reads exactly as a rolling window: continuous values, ties, rescale, one- and two-byte ranks', () => {
  for (const [seed, w] of [[1, 1], [2, 2], [3, 5], [4, 16], [5, 128], [6, 129], [7, 256], [8, 257], [9, 300]]) {
    const rnd = mulberry32(seed);
    const points = 3 * w + 200;
    rankedMatchesRolling(w, points, () => 100 + 10 * (rnd() - 0.5) * (rnd() < 0.05 ? 40 : 1), true, `continuous seed ${seed}`);
    rankedMatchesRolling(w, points, () => Math.floor(rnd() * 4), true, `ties seed ${seed}`);
    rankedMatchesRolling(w, points, () => (rnd() < 0.7 ? 0 : 1e-7 * rnd()), false, `mostly zero seed ${seed}`);
    // Doubles that round to one float32: the comparisons use the pushed double, as rolling.ts does.
    rankedMatchesRolling(w, points, () => 1 + Math.floor(rnd() * 3) * 2 ** -30, true, `sub-float32 seed ${seed}`);
  }
});

test('a ranked window takes 1 to 65536 points and needs the whole buffer', () => {
  assert.throws(() => rankedInit(new Float32Array(100), 0, 0), /1 to 65536/);
  assert.throws(() => rankedInit(new Float32Array(100), 0, 2.5), /1 to 65536/);
  assert.throws(() => rankedInit(new Float32Array(new ArrayBuffer(800), 8, 100), 0, 4), /whole buffer/);
  // 128 points: ring + one byte a rank = 640 bytes + the 3-float header, against 1,036 for rolling.ts.
  assert.equal(4 * rankedSize(128), 652);
  assert.equal(4 * rollingSize(128), 1036);
});
