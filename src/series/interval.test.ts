import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, doubles } from './prng.ts';
import { INTERVAL_RING, INTERVAL_SIZE, intervalDeltas, intervalGet, intervalInit, intervalLast, intervalObserve } from './interval.ts';

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length & 1 ? s[h] : (s[h - 1] + s[h]) / 2;
}

describe('sampling-interval learner', () => {
  const cases = [
    { name: 'jittered 15 s scrapes', gen: (r: Rng) => 15_000 + Math.round(r.normal() * 200) },
    { name: '1 min with occasional gaps', gen: (r: Rng) => (r.next() < 0.1 ? 60_000 * (2 + r.int(10)) : 60_000) },
    { name: 'irregular events', gen: (r: Rng) => Math.round(-Math.log(1 - r.next()) * 5000) + 1 },
  ];
  for (const c of cases) {
    it(`${c.name}: median of the last ${INTERVAL_RING} deltas when recomputed`, () => {
      const r = new Rng(c.name.length);
      const f = doubles(INTERVAL_SIZE);
      intervalInit(f, 0);
      assert.ok(Number.isNaN(intervalGet(f, 0)));
      let t = 1_700_000_000_000;
      intervalObserve(f, 0, t);
      const deltas: number[] = [];
      for (let i = 0; i < 200; i++) {
        const d = c.gen(r);
        t += d;
        intervalObserve(f, 0, t);
        deltas.push(d);
        const n = deltas.length;
        if (n <= INTERVAL_RING || n % 4 === 0) {
          assert.equal(intervalGet(f, 0), median(deltas.slice(-INTERVAL_RING)), `after ${n} deltas`);
        }
      }
      assert.equal(intervalDeltas(f, 0), 200);
      assert.equal(intervalLast(f, 0), t);
    });
  }

  it('ignores duplicate and out-of-order timestamps', () => {
    const f = doubles(INTERVAL_SIZE);
    intervalInit(f, 0);
    for (const t of [1000, 2000, 2000, 1500, 3000, 4000]) intervalObserve(f, 0, t);
    assert.equal(intervalDeltas(f, 0), 3);
    assert.equal(intervalGet(f, 0), 1000);
    assert.equal(intervalLast(f, 0), 4000);
  });
});
