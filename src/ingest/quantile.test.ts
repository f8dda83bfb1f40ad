import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explicitBucketQuantile, exponentialBucketQuantile } from './quantile.ts';
import { rng } from './testkit.ts';

function close(actual: number, expected: number, eps = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= eps * Math.max(1, Math.abs(expected)), `expected ${expected}, got ${actual}`);
}

describe('explicitBucketQuantile', () => {
  const cases: { name: string; q: number; bounds: number[]; counts: number[]; min?: number; max?: number; want: number }[] = [
    { name: 'interpolates inside a bucket', q: 0.5, bounds: [1, 2, 4], counts: [0, 10, 0, 0], want: 1.5 },
    { name: 'rank on a bucket edge gives its upper bound', q: 0.5, bounds: [1, 2], counts: [5, 5, 0], want: 1 },
    { name: 'first bucket starts at 0 when its bound is positive', q: 0.5, bounds: [10], counts: [4, 0], want: 5 },
    { name: 'first bucket with a bound <= 0 gives that bound', q: 0.5, bounds: [-1, 5], counts: [4, 0, 0], want: -1 },
    { name: '+Inf bucket gives the highest finite bound', q: 0.5, bounds: [1, 2], counts: [0, 0, 5], want: 2 },
    { name: '+Inf bucket interpolates up to a known max', q: 0.5, bounds: [1, 2], counts: [0, 0, 5], max: 10, want: 6 },
    { name: 'first bucket interpolates from a known min', q: 0.5, bounds: [10], counts: [4, 0], min: 6, want: 8 },
    { name: 'clamped to a known max', q: 0.5, bounds: [1, 100], counts: [0, 10, 0], max: 20, want: 20 },
    { name: 'clamped to a known min', q: 0.01, bounds: [1, 100], counts: [0, 10, 0], min: 50, want: 50 },
    { name: 'p99 across buckets', q: 0.99, bounds: [0.1, 0.5, 1], counts: [50, 40, 10, 0], want: 0.95 },
    { name: 'no observations', q: 0.5, bounds: [1], counts: [0, 0], want: NaN },
    { name: 'no buckets', q: 0.5, bounds: [], counts: [7], want: NaN },
    { name: 'counts and bounds that do not match', q: 0.5, bounds: [1, 2], counts: [1, 1], want: NaN },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const v = explicitBucketQuantile(c.q, c.bounds, c.bounds.length, c.counts, c.counts.length, c.min ?? NaN, c.max ?? NaN);
      if (Number.isNaN(c.want)) assert.ok(Number.isNaN(v), `expected NaN, got ${v}`);
      else close(v, c.want);
    });
  }

  it('lands in the bucket of the exact quantile of bucketed random data', () => {
    const r = rng(41);
    const bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    for (let iter = 0; iter < 50; iter++) {
      const values = Array.from({ length: 500 }, () => Math.exp((r() - 0.7) * 6)).sort((a, b) => a - b);
      const counts = new Array(bounds.length + 1).fill(0);
      for (const v of values) {
        let i = 0;
        while (i < bounds.length && v > bounds[i]) i++;
        counts[i]++;
      }
      for (const q of [0.5, 0.95, 0.99]) {
        const exact = values[Math.ceil(q * values.length) - 1];
        const est = explicitBucketQuantile(q, bounds, bounds.length, counts, counts.length, values[0], values[values.length - 1]);
        let i = 0;
        while (i < bounds.length && exact > bounds[i]) i++;
        const lo = i === 0 ? values[0] : bounds[i - 1];
        const hi = i === bounds.length ? values[values.length - 1] : bounds[i];
        assert.ok(est >= lo && est <= hi, `q=${q}: estimate ${est} outside the bucket [${lo}, ${hi}] of the exact ${exact}`);
      }
    }
  });
});

describe('exponentialBucketQuantile', () => {
  const none = { pos: [] as number[], neg: [] as number[] };
  const cases: { name: string; q: number; scale: number; zero?: number; zt?: number; po?: number; pos?: number[]; no?: number; neg?: number[]; min?: number; max?: number; want: number }[] = [
    { name: 'log-linear inside a positive bucket (scale 0)', q: 0.5, scale: 0, pos: [0, 4], want: 2 ** 1.5 },
    { name: 'positive bucket with an offset', q: 0.5, scale: 0, po: 3, pos: [2], want: 2 ** 3.5 },
    { name: 'finer scale narrows the bucket', q: 0.5, scale: 2, pos: [4], want: 2 ** (0.5 / 4) },
    { name: 'negative bucket, mirrored', q: 0.25, scale: 0, neg: [4], want: -(2 ** 0.75) },
    { name: 'zero bucket', q: 0.5, scale: 0, zero: 4, pos: [1], want: 0 },
    { name: 'zero bucket with a threshold and negatives', q: 0.5, scale: 0, zero: 2, zt: 0.5, neg: [1], pos: [1], want: 0 },
    { name: 'order: negatives, zero, positives', q: 0.9, scale: 0, zero: 1, neg: [1], pos: [8], want: 2 ** (7 / 8) },
    { name: 'clamped to max', q: 0.99, scale: 0, pos: [0, 0, 10], max: 5, want: 5 },
    { name: 'negative scale widens buckets (base 4)', q: 0.5, scale: -1, pos: [0, 2], want: 2 ** 3 },
    { name: 'no observations', q: 0.5, scale: 0, want: NaN },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const pos = c.pos ?? none.pos;
      const neg = c.neg ?? none.neg;
      const v = exponentialBucketQuantile(c.q, c.scale, c.zero ?? 0, c.zt ?? 0, c.po ?? 0, pos, pos.length, c.no ?? 0, neg, neg.length, c.min ?? NaN, c.max ?? NaN);
      if (Number.isNaN(c.want)) assert.ok(Number.isNaN(v));
      else close(v, c.want);
    });
  }

  it('stays within one bucket ratio of the exact quantile of random data', () => {
    const r = rng(42);
    for (const scale of [0, 3, 8]) {
      const base = 2 ** (2 ** -scale);
      const values = Array.from({ length: 2000 }, () => Math.exp((r() - 0.5) * 10)).sort((a, b) => a - b);
      const index = (v: number) => Math.ceil(Math.log2(v) * 2 ** scale) - 1;
      const offset = index(values[0]);
      const counts = new Array(index(values[values.length - 1]) - offset + 1).fill(0);
      for (const v of values) counts[index(v) - offset]++;
      for (const q of [0.5, 0.95, 0.99]) {
        const exact = values[Math.ceil(q * values.length) - 1];
        const est = exponentialBucketQuantile(q, scale, 0, 0, offset, counts, counts.length, 0, [], 0, NaN, NaN);
        assert.ok(est / exact <= base * 1.000001 && exact / est <= base * 1.000001, `scale ${scale} q=${q}: ${est} vs exact ${exact}`);
      }
    }
  });
});
