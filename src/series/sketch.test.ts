import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from './prng.ts';
import { QuantileSketch, WindowedSketch } from './sketch.ts';

function exact(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  // The rank convention DDSketch uses: the value at rank floor(q * (n - 1)).
  return s[Math.floor(q * (s.length - 1))];
}

test('quantiles stay within 1% relative error on a long-tailed latency', () => {
  const rng = new Rng(7);
  const sk = new QuantileSketch();
  const xs: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const x = Math.exp(3 + 1.2 * rng.normal()); // lognormal: ms with a heavy tail
    xs.push(x);
    sk.add(x);
  }
  for (const q of [0.5, 0.9, 0.95, 0.99, 0.999]) {
    const e = exact(xs, q);
    const got = sk.quantile(q);
    assert.ok(Math.abs(got - e) / e <= 0.0101, `q${q}: ${got} vs exact ${e}`);
  }
  assert.equal(sk.count, 20_000);
});

test('merging sketches of two nodes equals one sketch of all values', () => {
  const rng = new Rng(3);
  const a = new QuantileSketch();
  const b = new QuantileSketch();
  const all = new QuantileSketch();
  for (let i = 0; i < 5000; i++) {
    const x = rng.normal() * 50 + (i % 2 ? 10 : -10); // negatives and zeros too
    (i % 3 === 0 ? a : b).add(x);
    all.add(x);
  }
  a.add(0);
  all.add(0);
  // Across the wire: plain data both ways.
  const remote = QuantileSketch.fromData(JSON.parse(JSON.stringify(b.toData())));
  a.merge(remote);
  for (const q of [0.01, 0.25, 0.5, 0.75, 0.99]) assert.equal(a.quantile(q), all.quantile(q), `q${q}`);
  assert.equal(a.count, all.count);
  const { sum: s1, ...d1 } = a.toData();
  const { sum: s2, ...d2 } = all.toData();
  assert.deepEqual(d1, d2);
  assert.ok(Math.abs(s1 - s2) < 1e-6 * Math.abs(s2) + 1e-6);
});

test('empty sketches: NaN quantiles, JSON-safe data, NaN values skipped', () => {
  const s = new QuantileSketch();
  s.add(NaN);
  s.add(Infinity);
  assert.equal(s.count, 0);
  assert.ok(Number.isNaN(s.quantile(0.5)));
  const back = QuantileSketch.fromData(JSON.parse(JSON.stringify(s.toData())));
  assert.equal(back.count, 0);
  back.add(5);
  assert.ok(Math.abs(back.quantile(0.5) - 5) / 5 < 0.01);
  assert.equal(back.min, 5);
});

test('bins() gives sorted centres whose weights sum to the count', () => {
  const s = new QuantileSketch();
  for (const x of [-3, -1, 0, 0, 2, 2, 2, 100]) s.add(x);
  const { values, weights } = s.bins();
  let w = 0;
  for (let i = 0; i < values.length; i++) {
    if (i > 0) assert.ok(values[i] > values[i - 1]);
    w += weights[i];
  }
  assert.equal(w, 8);
});

test('windowed sketch: p99 derived series reveals a tail shift the median hides, and survives a checkpoint', () => {
  const rng = new Rng(11);
  const minute = 60_000;
  let w = new WindowedSketch(minute, 30);
  const p50: number[] = [];
  const p99: number[] = [];
  for (let i = 0; i < 40 * 100; i++) {
    const t = 1_699_999_980_000 + i * 600; // 100 values a minute
    const minuteNo = Math.floor(i / 100);
    // From minute 20 on, 3% of requests take 10x longer: the median barely moves.
    const slow = minuteNo >= 20 && rng.next() < 0.03;
    const x = (slow ? 10 : 1) * (20 + 2 * rng.normal());
    if (i === 1234) w = WindowedSketch.fromData(JSON.parse(JSON.stringify(w.toData())));
    const closed = w.add(t, x);
    if (closed) {
      assert.equal(closed.count, 100);
      p50.push(closed.p50);
      p99.push(closed.p99);
    }
  }
  assert.equal(p99.length, 39);
  const before = p99.slice(5, 19).reduce((a, b) => a + b) / 14;
  const after = p99.slice(21).reduce((a, b) => a + b) / p99.slice(21).length;
  const m0 = p50.slice(5, 19).reduce((a, b) => a + b) / 14;
  const m1 = p50.slice(21).reduce((a, b) => a + b) / p50.slice(21).length;
  assert.ok(after > 5 * before, `p99 ${before} -> ${after}`);
  assert.ok(Math.abs(m1 - m0) / m0 < 0.05, `p50 ${m0} -> ${m1}`);
  // Windows merge into a baseline: 30 minutes kept, the first 20 were normal.
  const base = w.merged(-Infinity, 1_699_999_980_000 + 20 * minute);
  assert.ok(base.count > 0 && base.quantile(0.99) < 30);
});
