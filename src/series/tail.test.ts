import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from './prng.ts';
import { LN_Z_MID, LN_Z_START, TAIL_BINS, TAIL_BW, TAIL_SIZE, TAIL_X_FROM, priorScale, tailCount, tailInit, tailObserve, tailRefresh } from './tail.ts';

/** Feeds `n` |normal| x `scale` deviations (decay off: a = 1), refreshing the skip threshold as a detector does. */
function trained(n: number, seed: number, scale = 1): Float32Array {
  const p = new Float32Array(TAIL_SIZE);
  tailInit(p, 0);
  const r = new Rng(seed);
  for (let i = 0; i < n; i++) {
    tailObserve(p, 0, scale * Math.abs(r.normal()), 1, 0.06, 1);
    if (i % 64 === 63) tailRefresh(p, 0);
  }
  return p;
}

describe('tail calibration', () => {
  const cases = [
    { name: 'an ordinary deviation is not surprising', z: 1, min: 0, max: 2 },
    { name: 'a deviation beyond every one seen is about 1 in the count', z: 6, min: 3.3, max: 4.5 },
    { name: 'far beyond: the margin over past extremes counts', z: 60, min: 4.5, max: 5.5 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = trained(3000, 7);
      const s = tailObserve(p, 0, c.z, 1, 0.06, 1);
      assert.ok(s >= c.min && s <= c.max, `S = ${s}`);
    });
  }

  it('the surprise grows with the deviation', () => {
    let last = -1;
    for (const z of [4, 8, 16, 64, 256]) {
      const s = tailObserve(trained(3000, 8), 0, z, 1, 0.06, 1);
      assert.ok(s > last, `S(${z}) = ${s} after ${last}`);
      last = s;
    }
  });

  it('the written-out ln z of the heavy tail\'s bins are Math\'s', () => {
    assert.equal(LN_Z_START, Math.log(Math.expm1(TAIL_X_FROM * TAIL_BW)));
    assert.equal(LN_Z_MID.length, TAIL_BINS - 1 - TAIL_X_FROM);
    LN_Z_MID.forEach((x, i) => assert.equal(x, Math.log(Math.expm1((TAIL_X_FROM + i + 0.5) * TAIL_BW))));
  });

  it("a heavy tail's records are judged by its own decay: 1.5x its largest is no news, 30x is", () => {
    // Pareto deviations of index 2.5 (a GC pause's maximum): a record comes every few thousand
    // points and exceeds the last by 1.5x a third of the time. Past extremes' soft tails and the
    // prior alone made 1.5x the largest 5.6 decades rare here.
    const p = new Float32Array(TAIL_SIZE);
    tailInit(p, 0);
    const r = new Rng(12);
    let max = 0;
    for (let i = 0; i < 3000; i++) {
      const z = 2 * Math.pow(1 - r.next(), -1 / 2.5);
      if (z > max) max = z;
      tailObserve(p, 0, z, 1, 0.06, 1);
      if (i % 64 === 63) tailRefresh(p, 0);
    }
    const near = tailObserve(p.slice(), 0, 1.5 * max, 1, 0.06, 1);
    const far = tailObserve(p.slice(), 0, 30 * max, 1, 0.06, 1);
    assert.ok(near > 3 && near < 5, `1.5x the largest: S = ${near}`);
    assert.ok(far > near + 2, `30x the largest: S = ${far}`);
    // A normal tail has nothing beyond 6.4 spreads to measure: its records keep their surprise.
    assert.ok(tailObserve(trained(3000, 7), 0, 6, 1, 0.06, 1) > 3.3);
  });

  it('beyond the open last bin, how far past the largest extreme seen still counts', () => {
    // One huge deviation (z = 2,000, past the last bin's edge at ~400) is already in the history.
    const p = trained(3000, 10);
    tailObserve(p, 0, 2000, 1, 0.06, 1);
    const same = tailObserve(p.slice(), 0, 2000, 1, 0.06, 1);
    const beyond = tailObserve(p.slice(), 0, 4000, 1, 0.06, 1);
    assert.ok(same < 3.6, `a repeat of the extreme is about 1 in 2 of the extremes seen: S = ${same}`);
    assert.ok(beyond > same + 1.5, `twice the largest extreme is news: S = ${beyond} vs ${same}`);
  });

  it("the prior's scale is the calibrator's own: a record on a view whose deviations are tight is rarer", () => {
    const empty = new Float32Array(TAIL_SIZE);
    tailInit(empty, 0);
    assert.equal(priorScale(empty, 0), 1, 'no history: the plain prior');
    // One side of a standard normal (half the points 0): its 75th percentile is 0.6745, scale ~1.
    const side = new Float32Array(TAIL_SIZE);
    tailInit(side, 0);
    const r = new Rng(12);
    for (let i = 0; i < 3000; i++) tailObserve(side, 0, Math.max(0, r.normal()), 1, 0.06, 1);
    const s = priorScale(side, 0);
    assert.ok(s > 0.9 && s <= 1, `one side of a normal: ${s}`);
    // Deviations a tenth as large (a median of many points against the window's): half the scale
    // at most, so the same record is log10(13 / 7) ~ 0.27 decades rarer than with the plain prior.
    const wide = trained(3000, 11);
    const tight = trained(3000, 11, 0.1);
    assert.equal(priorScale(wide, 0), 1, 'wider than a normal side: never less surprise than the plain prior');
    assert.equal(priorScale(tight, 0), 0.5);
    const sw = tailObserve(wide, 0, 6, 1, 0.06, 1);
    const st = tailObserve(tight, 0, 6, 1, 0.06, 1);
    assert.ok(Math.abs(st - Math.log10(13 * 3001)) < 0.01, `nothing seen near it: the prior alone, S = ${st}`);
    assert.ok(st > sw + 0.2, `tight ${st} vs wide ${sw}`);
  });

  it('the prior keeps a cold start calm: a record after 30 points is no alarm', () => {
    const s = tailObserve(trained(30, 9), 0, 10, 1, 0.06, 1);
    assert.ok(s < 3, `S = ${s}`);
  });

  it('lazy decay: a growing increment weighs older observations less', () => {
    const p = new Float32Array(TAIL_SIZE);
    tailInit(p, 0);
    let inc = 1;
    for (let i = 0; i < 1000; i++) {
      inc /= 1 - 1 / 100;
      tailObserve(p, 0, 0.5, inc, 0.06, 1);
    }
    assert.ok(Math.abs(tailCount(p, 0, inc) - 100) < 1, `count ${tailCount(p, 0, inc)}`);
  });

  it('the skip threshold hides no surprise of 2 or more, young or old, once the prior is counted', () => {
    // The exact surprise of z, as if nothing were skipped (field 1 is the skip threshold).
    const exact = (p: Float32Array, z: number, prior: number) => {
      const q = p.slice();
      q[1] = -1;
      return tailObserve(q, 0, z, 1, 0.06, prior);
    };
    // The largest exact surprise of a z the refresh lets tailObserve skip.
    const worstSkipped = (p: Float32Array, prior: number) => {
      let worst = 0;
      for (let z = 0; z < 150; z = z * 1.01 + 0.001) {
        const q = p.slice();
        if (tailObserve(q, 0, z, 1, 0.06, prior) === 0) worst = Math.max(worst, exact(p, z, prior));
      }
      return worst;
    };
    const prior = 7;
    for (const n of [3, 8, 30, 200, 3000]) {
      const p = new Float32Array(TAIL_SIZE);
      tailInit(p, 0);
      const r = new Rng(n);
      for (let i = 0; i < n; i++) tailObserve(p, 0, Math.abs(r.normal()), 1, 0.06, prior);
      tailRefresh(p, 0, 1, 1, prior);
      const worst = worstSkipped(p, prior);
      assert.ok(worst < 2, `after ${n} points a skipped z scores S = ${worst}`);
    }
  });

  it('the skip threshold reaches into the bin where the upper 1% starts', () => {
    // 3000 |normal| deviations: 1% of them lie above z = 2.576, in the bin of z 2.49-3.48
    // (L = ln(1 + z) 1.25-1.5). Stopping at that bin's lower edge left the exact tail sum to
    // every point in it: one in twelve instead of about one in a hundred. Inside the bin the
    // threshold follows the calibrator's own model (mass uniform in L), as `surprise` does.
    const p = trained(3000, 11);
    tailRefresh(p, 0);
    let largest = 0;
    for (let z = 0; z < 5; z += 0.001) if (tailObserve(p.slice(), 0, z, 1, 0.06, 1) === 0) largest = z;
    assert.ok(largest > 2.5 && largest < 3.48, `largest skipped z ${largest}`);
  });
});
