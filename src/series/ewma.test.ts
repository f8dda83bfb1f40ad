import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, doubles } from './prng.ts';
import { EWMA_SIZE, ewmaAlpha, ewmaCount, ewmaInit, ewmaMean, ewmaPush, ewmaScale, ewmaVariance } from './ewma.ts';

/** Weighted mean and variance with weight alpha (1 - alpha)^age; the first point keeps the rest. */
function brute(xs: number[], alpha: number): { mean: number; variance: number } {
  const n = xs.length;
  const w = xs.map((_, i) => (i === 0 ? (1 - alpha) ** (n - 1) : alpha * (1 - alpha) ** (n - 1 - i)));
  const mean = xs.reduce((a, x, i) => a + w[i] * x, 0);
  const variance = xs.reduce((a, x, i) => a + w[i] * (x - mean) ** 2, 0);
  return { mean, variance };
}

function close(a: number, b: number, what: string): void {
  assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
}

describe('EWMA mean and variance match the weighted definition', () => {
  const cases = [
    { name: 'alpha 0.1, gaussian', alpha: 0.1, n: 200, gen: (r: Rng) => 5 + r.normal() },
    { name: 'alpha 0.5, uniform', alpha: 0.5, n: 60, gen: (r: Rng) => r.next() * 100 },
    { name: 'span 30, heavy tails', alpha: ewmaAlpha(30), n: 300, gen: (r: Rng) => r.normal() / (r.next() + 0.05) },
    { name: 'alpha 1 keeps only the last point', alpha: 1, n: 10, gen: (r: Rng) => r.normal() },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = new Rng(Math.round(c.alpha * 1000) + c.n);
      const f = doubles(EWMA_SIZE + 2, 9);
      ewmaInit(f, 1);
      assert.ok(Number.isNaN(ewmaMean(f, 1)));
      const xs: number[] = [];
      for (let i = 0; i < c.n; i++) {
        const x = c.gen(r);
        xs.push(x);
        ewmaPush(f, 1, x, c.alpha);
        if (i % 7 === 0 || i === c.n - 1) {
          const b = brute(xs, c.alpha);
          close(ewmaMean(f, 1), b.mean, `mean at ${i}`);
          close(ewmaVariance(f, 1), b.variance, `variance at ${i}`);
        }
      }
      assert.equal(ewmaCount(f, 1), c.n);
      assert.equal(f[0], 9);
      assert.equal(f[f.length - 1], 9);
    });
  }

  it('scaling multiplies the mean by the factor and the variance by its square', () => {
    const f = doubles(EWMA_SIZE);
    ewmaInit(f, 0);
    for (const x of [1, 3, 2, 5]) ewmaPush(f, 0, x, 0.3);
    const m = ewmaMean(f, 0);
    const v = ewmaVariance(f, 0);
    ewmaScale(f, 0, 1000);
    close(ewmaMean(f, 0), m * 1000, 'mean');
    close(ewmaVariance(f, 0), v * 1e6, 'variance');
  });
});
