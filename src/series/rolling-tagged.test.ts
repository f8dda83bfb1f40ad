import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from './prng.ts';
import { rollingCount, rollingInit, rollingMad, rollingMadBound, rollingMedian, rollingPushSums, rollingRecent, rollingScale, rollingSelect, rollingSize, TAGGED_MAX, taggedInit, taggedPush, taggedPushSums, taggedRecent, taggedScale, taggedSize } from './rolling.ts';

/** The same input through a classic window and a tagged one, both in float32 buffers at an odd offset: every read must agree bit for bit. */
function compare(w: number, values: number[], rescaleAt = -1): void {
  const a = new Float32Array(5 + rollingSize(w));
  const b = new Float32Array(new ArrayBuffer(4 * (7 + taggedSize(w))));
  const oa = 5;
  const ob = 7;
  rollingInit(a, oa, w);
  taggedInit(b, ob, w);
  const sa = new Float64Array(3);
  const sb = new Float64Array(3);
  for (let i = 0; i < values.length; i++) {
    if (i === rescaleAt) {
      rollingScale(a, oa, 0.37);
      taggedScale(b, ob, 0.37);
      sa[0] *= 0.37;
      sa[1] *= 0.37;
      sb[0] *= 0.37;
      sb[1] *= 0.37;
    }
    const n = rollingCount(a, oa);
    for (const k of [1, 2, 16, w]) if (k <= w) assert.equal(Object.is(taggedRecent(b, ob, w, k), rollingRecent(a, oa, k)), true, `recent ${k} at ${i}`);
    rollingPushSums(a, oa, values[i], sa, 0);
    taggedPushSums(b, ob, w, values[i], sb, 0);
    assert.equal(rollingCount(b, ob), rollingCount(a, oa));
    const m = rollingMedian(a, oa);
    assert.equal(Object.is(rollingMedian(b, ob), m), true, `median at ${i}`);
    assert.equal(Object.is(rollingMad(b, ob, m), rollingMad(a, oa, m)), true, `mad at ${i}`);
    if (n >= 4) assert.equal(Object.is(rollingMadBound(b, ob, m), rollingMadBound(a, oa, m)), true);
    assert.equal(rollingSelect(b, ob, 0), rollingSelect(a, oa, 0));
    assert.deepEqual(Array.from(sb), Array.from(sa), `sums at ${i}`);
  }
}

describe('tagged rolling window', () => {
  it('matches the classic window bit for bit: ties, repeats, a rescale, the re-sum', () => {
    const rng = new Rng(7);
    for (const w of [1, 2, 5, 16, 127, TAGGED_MAX]) {
      const xs: number[] = [];
      for (let i = 0; i < 5000; i++) {
        const r = rng.next();
        // Many ties (a few distinct levels), runs, and wide values.
        xs.push(r < 0.3 ? Math.floor(rng.next() * 4) : r < 0.4 ? xs[xs.length - 1] ?? 0 : (rng.next() - 0.5) * 1e6);
      }
      compare(w, xs, 2500);
    }
  });

  it('taggedPush alone keeps the count and head, and refuses windows it cannot tag', () => {
    const f = new Float32Array(taggedSize(4));
    taggedInit(f, 0, 4);
    for (let i = 0; i < 10; i++) taggedPush(f, 0, 4, i);
    assert.equal(rollingCount(f, 0), 4);
    assert.deepEqual([1, 2, 3, 4].map((k) => taggedRecent(f, 0, 4, k)), [9, 8, 7, 6]);
    assert.equal(rollingMedian(f, 0), 7.5);
    assert.throws(() => taggedInit(new Float32Array(taggedSize(200)), 0, 200), RangeError);
  });
});
