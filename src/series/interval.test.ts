import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, doubles } from './prng.ts';
import { INTERVAL_RING, INTERVAL_SCALARS, INTERVAL_SIZE, intervalDeltas, intervalGet, intervalInit, intervalLast, intervalObserve } from './interval.ts';

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

  it('keeps its deltas in a float32 ring elsewhere when given one: the same intervals (exact deltas below 4.6 h)', () => {
    const r = new Rng(7);
    const a = doubles(INTERVAL_SIZE);
    const b = doubles(INTERVAL_SCALARS + 1); // the scalars only, and a guard slot
    const ring = new Float32Array(3 + INTERVAL_RING + 1);
    intervalInit(a, 0);
    intervalInit(b, 0, ring, 3);
    let t = 1_700_000_000_000;
    for (let i = 0; i < 300; i++) {
      t += r.next() < 0.05 ? 3_600_000 * (1 + r.int(4)) : 15_000 + Math.round(r.normal() * 300);
      intervalObserve(a, 0, t);
      intervalObserve(b, 0, t, ring, 3);
      assert.equal(intervalGet(b, 0), intervalGet(a, 0), `after ${i + 1} points`);
    }
    assert.equal(intervalDeltas(b, 0), 299); // the first point has no delta
    assert.equal(intervalLast(b, 0), t);
    assert.equal(b[INTERVAL_SCALARS], 0, 'nothing written past the scalars');
    assert.equal(ring[0] + ring[1] + ring[2] + ring[3 + INTERVAL_RING], 0, 'nothing written outside the ring');
  });
});
