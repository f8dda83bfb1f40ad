import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from './prng.ts';
import { autocorrelation, detectSeason } from './season.ts';

function series(n: number, period: number, amp: number, noise: number, trend: number, seed: number): Float64Array {
  const r = new Rng(seed);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = 100 + trend * i + (period > 0 ? amp * Math.sin((2 * Math.PI * i) / period) : 0) + noise * r.normal();
  return x;
}

describe('autocorrelation', () => {
  it('matches the direct formula', () => {
    const r = new Rng(1);
    const x = Array.from({ length: 50 }, () => r.normal());
    for (const lag of [1, 5, 24]) {
      const n = x.length;
      const v = x.reduce((a, b) => a + b * b, 0) / n;
      let c = 0;
      for (let i = 0; i + lag < n; i++) c += x[i] * x[i + lag];
      assert.ok(Math.abs(autocorrelation(x, n, lag) - c / (n - lag) / v) < 1e-12);
    }
  });
});

describe('season detection', () => {
  const opts = (candidates: number[], maxLag: number) => ({ candidates, minLag: 4, maxLag, minAcf: 0.3 });
  const cases = [
    { name: 'daily at 5 min, 5 days, with trend', x: series(1440, 288, 20, 4, 0.01, 1), o: opts([288, 2016], 1440), want: 288 },
    { name: 'hourly data, daily season', x: series(24 * 14, 24, 10, 2, 0, 2), o: opts([24, 168], 168), want: 24 },
    { name: 'no named candidate: a 37-point cycle', x: series(800, 37, 5, 1, 0, 3), o: opts([], 400), want: 37 },
    { name: 'the fundamental, not its multiples', x: series(2000, 288, 20, 3, 0, 4), o: opts([288], 1000), want: 288 },
    { name: 'white noise has no season', x: series(1500, 0, 0, 1, 0, 5), o: opts([288], 750), want: 0 },
    { name: 'a pure trend has no season', x: series(1000, 0, 0, 0.5, 0.3, 6), o: opts([288], 500), want: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = detectSeason(c.x, c.x.length, c.o);
      if (c.want === 0) assert.equal(s.period, 0, `found ${s.period} (acf ${s.acf})`);
      else assert.ok(Math.abs(s.period - c.want) <= 1, `found ${s.period} (acf ${s.acf}), want ${c.want}`);
    });
  }

  it('treats gaps (NaN) as the mean', () => {
    const x = series(1440, 288, 20, 2, 0, 7);
    for (let i = 300; i < 340; i++) x[i] = NaN;
    assert.equal(detectSeason(x, x.length, opts([288], 720)).period, 288);
  });
});
