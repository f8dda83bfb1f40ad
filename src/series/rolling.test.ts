import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, doubles } from './prng.ts';
import { rollingCount, rollingCreate, rollingInit, rollingMad, rollingMadBound, rollingMeanAbsDev, rollingMedian, rollingPush, rollingPushSums, rollingRecent, rollingScale, rollingSelect, rollingSize, median5, ringMedian, ringPush, sortedInsert, sortedMedian, sortedReplace } from './rolling.ts';

function bruteMedian(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const n = s.length;
  return n & 1 ? s[n >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

function bruteMad(xs: number[]): number {
  const m = bruteMedian(xs);
  return bruteMedian(xs.map((x) => Math.abs(x - m)));
}

const cases: { name: string; w: number; n: number; gen: (r: Rng, i: number) => number }[] = [
  { name: 'gaussian, w=64', w: 64, n: 600, gen: (r) => r.normal() * 10 + 100 },
  { name: 'gaussian, odd w=31', w: 31, n: 400, gen: (r) => r.normal() },
  { name: 'small integers with many ties, w=16', w: 16, n: 500, gen: (r) => r.int(4) },
  { name: 'constant values, w=8', w: 8, n: 50, gen: () => 7 },
  { name: 'increasing trend, w=40', w: 40, n: 300, gen: (_r, i) => i * 0.5 },
  { name: 'decreasing with spikes, w=25', w: 25, n: 300, gen: (r, i) => -i + (r.next() < 0.1 ? 1000 : 0) },
  { name: 'window of one', w: 1, n: 20, gen: (r) => r.normal() },
  { name: 'large window, heavy tails', w: 300, n: 900, gen: (r) => r.normal() / (r.next() + 0.01) },
];

describe('rolling median and MAD match a brute-force reference', () => {
  for (const c of cases) {
    it(c.name, () => {
      const r = new Rng(c.w * 7919 + c.n);
      const f = rollingCreate(c.w);
      const hist: number[] = [];
      for (let i = 0; i < c.n; i++) {
        const v = c.gen(r, i);
        rollingPush(f, 0, v);
        hist.push(v);
        const win = hist.slice(-c.w);
        assert.equal(rollingCount(f, 0), win.length);
        const m = rollingMedian(f, 0);
        assert.equal(m, bruteMedian(win), `median at point ${i}`);
        assert.equal(rollingMad(f, 0, m), bruteMad(win), `MAD at point ${i}`);
        const sorted = win.slice().sort((a, b) => a - b);
        const rank = r.int(win.length);
        assert.equal(rollingSelect(f, 0, rank), sorted[rank], `select(${rank}) at point ${i}`);
      }
    });
  }
});

describe('rolling window details', () => {
  it('an empty window has NaN median and MAD', () => {
    const f = rollingCreate(5);
    assert.ok(Number.isNaN(rollingMedian(f, 0)));
    assert.ok(Number.isNaN(rollingMad(f, 0, NaN)));
  });

  it('lives at an offset inside a larger array without touching its neighbours', () => {
    const w = 9;
    const f = doubles(3 + rollingSize(w) + 2, -1);
    rollingInit(f, 3, w);
    const r = new Rng(5);
    const hist: number[] = [];
    for (let i = 0; i < 40; i++) {
      const v = r.normal();
      hist.push(v);
      rollingPush(f, 3, v);
    }
    assert.deepEqual([f[0], f[1], f[2], f[f.length - 2], f[f.length - 1]], [-1, -1, -1, -1, -1]);
    assert.equal(rollingMedian(f, 3), bruteMedian(hist.slice(-w)));
  });

  it('scaling keeps order: median and MAD scale by the factor', () => {
    const f = rollingCreate(20);
    const r = new Rng(11);
    const hist: number[] = [];
    for (let i = 0; i < 30; i++) {
      const v = r.normal() + 3;
      hist.push(v);
      rollingPush(f, 0, v);
    }
    rollingScale(f, 0, 1000);
    const win = hist.slice(-20).map((x) => x * 1000);
    const m = rollingMedian(f, 0);
    assert.equal(m, bruteMedian(win));
    assert.equal(rollingMad(f, 0, m), bruteMad(win));
    // And later pushes keep working against the scaled values.
    rollingPush(f, 0, 2500);
    win.shift();
    win.push(2500);
    assert.equal(rollingMedian(f, 0), bruteMedian(win));
  });

  it('rejects an empty window size', () => {
    assert.throws(() => rollingCreate(0), /at least 1 point/);
  });
});

describe('mean absolute deviation from running half-sums matches a brute-force reference', () => {
  for (const c of cases.filter((x) => x.w >= 2)) {
    it(c.name, () => {
      const r = new Rng(11);
      const f = new Float32Array(rollingSize(c.w));
      rollingInit(f, 0, c.w);
      const sums = [0, 0, 0];
      const xs: number[] = [];
      for (let i = 0; i < c.n; i++) {
        const v = Math.fround(c.gen(r, i));
        rollingPushSums(f, 0, v, sums, 0);
        xs.push(v);
        if (xs.length > c.w) xs.shift();
        const m = bruteMedian(xs);
        const want = xs.reduce((a, x) => a + Math.abs(x - m), 0) / xs.length;
        const got = rollingMeanAbsDev(f, 0, rollingMedian(f, 0), sums, 0);
        assert.ok(Math.abs(got - want) <= 1e-6 * (1 + Math.abs(want)) + 1e-9 * Math.abs(m), `point ${i}: ${got} vs ${want}`);
      }
    });
  }
});

describe('a sorted run whose leaving values come from another window', () => {
  it('keeps the last k values of a window in order (median exact)', () => {
    const r = new Rng(5);
    const w = 40;
    const k = 9;
    const base = new Float32Array(rollingSize(w));
    rollingInit(base, 0, w);
    const run = new Float32Array(k);
    let n = 0;
    const xs: number[] = [];
    for (let i = 0; i < 500; i++) {
      const v = Math.fround(r.int(6) + r.normal());
      if (n < k) sortedInsert(run, 0, n++, v);
      else sortedReplace(run, 0, n, rollingRecent(base, 0, k), v);
      rollingPush(base, 0, v);
      xs.push(v);
      const last = xs.slice(-k).sort((a, b) => a - b);
      assert.deepEqual([...run.subarray(0, n)], last, `point ${i}`);
      assert.equal(sortedMedian(run, 0, n), bruteMedian(last));
    }
  });
});

describe('a ring-only window gives the median of its last w values', () => {
  for (const c of cases.filter((k) => k.w <= 64)) {
    it(c.name, () => {
      const r = new Rng(c.w * 31 + c.n);
      const f = rollingCreate(c.w);
      const scratch = new Float64Array(c.w);
      const hist: number[] = [];
      assert.ok(Number.isNaN(ringMedian(f, 0, scratch)));
      for (let i = 0; i < c.n; i++) {
        const v = c.gen(r, i);
        ringPush(f, 0, v);
        hist.push(v);
        assert.equal(rollingCount(f, 0), Math.min(hist.length, c.w));
        assert.equal(ringMedian(f, 0, scratch), bruteMedian(hist.slice(-c.w)), `point ${i}`);
      }
    });
  }
});

describe('the cheap MAD bound is never below the exact MAD', () => {
  for (const c of cases.filter((k) => k.w >= 4)) {
    it(c.name, () => {
      const r = new Rng(c.w * 17 + c.n);
      const f = rollingCreate(c.w);
      let tight = 0;
      for (let i = 0; i < c.n; i++) {
        rollingPush(f, 0, c.gen(r, i));
        if (rollingCount(f, 0) < 4) continue;
        const m = rollingMedian(f, 0);
        const mad = rollingMad(f, 0, m);
        const bound = rollingMadBound(f, 0, m);
        assert.ok(bound >= mad, `point ${i}: bound ${bound} < MAD ${mad}`);
        if (bound <= 4 * mad) tight++;
      }
      // A bound that is always huge would be useless: it stays within 4 MADs unless the MAD is 0.
      if (c.name.startsWith('gaussian')) assert.ok(tight > 0.9 * (c.n - 3));
    });
  }
});

describe('median5', () => {
  it('is the middle value of every order of five values, with and without ties', () => {
    const perms = (a: number[]): number[][] => (a.length <= 1 ? [a] : a.flatMap((x, i) => perms([...a.slice(0, i), ...a.slice(i + 1)]).map((p) => [x, ...p])));
    for (const values of [[1, 2, 3, 4, 5], [1, 1, 2, 3, 3], [2, 2, 2, 1, 3], [-1, 0, 0, 0, 7], [4, 4, 4, 4, 4], [-3.5, 1e-9, 2e9, -7, 0.25]]) {
      const mid = values.slice().sort((a, b) => a - b)[2];
      for (const p of perms(values)) assert.equal(median5(p[0], p[1], p[2], p[3], p[4]), mid, p.join(','));
    }
  });
});
