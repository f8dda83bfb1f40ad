import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../series/prng.ts';
import { QuantileSketch, WindowedSketch } from '../series/sketch.ts';
import { distances, drift, driftDistances, driftEvaluations, sketchDrift } from './drift.ts';
import { nullRate } from './null-rate.ts';
import { createDetectorSet } from './fusion.ts';
import { newFusedVerdict, newVerdict, reasonClass } from './types.ts';

const MIN = 60_000;

/** Runs drift over values; returns scores, reasons and the final state. */
function run(values: number[], config: object = {}) {
  const c = drift.parseConfig(config, 'test');
  const s = drift.init(c);
  const out = newVerdict();
  const scores: number[] = [];
  const reasons: string[] = [];
  values.forEach((v, i) => {
    drift.update(s, i * MIN, v, out);
    scores.push(out.score);
    reasons.push(out.reason);
  });
  return { scores, reasons, state: s };
}

function series(n: number, seed: number, at: (i: number, rng: Rng) => number): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => at(i, rng));
}

const maxOf = (xs: number[], from: number, to = xs.length) => Math.max(...xs.slice(from, to));

describe('drift detector', () => {
  it('stays quiet on stationary noise', () => {
    for (const seed of [1, 2, 3]) {
      const r = run(series(4000, seed, (_, g) => 100 + 10 * g.normal()));
      // Never at the medium alert threshold (0.9); sampling noise of a 60-point window reaches ~0.6-0.8 once in thousands of points.
      assert.ok(maxOf(r.scores, 700) < 0.9, `seed ${seed}: max ${maxOf(r.scores, 700)}`);
    }
  });

  const cases: Array<{ name: string; after: (rng: Rng) => number }> = [
    { name: 'spread doubles, mean unchanged', after: (g) => 100 + 20 * g.normal() },
    { name: 'mean moves by one sigma', after: (g) => 110 + 10 * g.normal() },
    // Same mean and variance: only the shape moved. Robust z and EWMA see nothing here.
    { name: 'becomes bimodal at the same mean and variance', after: (g) => 100 + (g.next() < 0.5 ? -10 : 10) + 0.5 * g.normal() },
  ];
  for (const c of cases) {
    it(`catches: ${c.name}`, () => {
      // Two-hour windows of 1-minute points against the 20 hours before.
      const r = run(series(3000, 9, (i, g) => (i < 2000 ? 100 + 10 * g.normal() : c.after(g))), { window: 120, baseline: 1200 });
      assert.ok(maxOf(r.scores, 1300, 2000) < 0.9, 'quiet before');
      const hit = r.scores.findIndex((s, i) => i >= 2000 && s >= 0.9);
      assert.ok(hit > 0 && hit <= 2000 + 120, `caught within a window, at ${hit}`);
      assert.equal(r.reasons[hit], 'drift');
      const d = driftDistances(r.state);
      assert.ok(d.ks > 0 && d.psi > 0 && d.w1 > 0);
    });
  }

  it('cascade: the distances run on a fraction of points and still catch the drift promptly', () => {
    const data = series(3000, 5, (i, g) => (i < 2000 ? 100 + 10 * g.normal() : 100 + 25 * g.normal()));
    const always = run(data, { window: 120, baseline: 1200, every: 1, suspect: 0 });
    const cascade = run(data, { window: 120, baseline: 1200 }); // every 15 points, or at once when the cheap check suspects
    const a = driftEvaluations(always.state);
    const c = driftEvaluations(cascade.state);
    assert.equal(a.points, c.points);
    const judged = a.evaluations;
    assert.ok(c.evaluations < 0.2 * judged, `cascade evaluated ${c.evaluations} of ${judged} points`);
    const hitA = always.scores.findIndex((s, i) => i >= 2000 && s >= 0.9);
    const hitC = cascade.scores.findIndex((s, i) => i >= 2000 && s >= 0.9);
    assert.ok(hitA > 0 && hitC > 0 && hitC - hitA <= 15, `always at ${hitA}, cascade at ${hitC}`);
    // No false alarms bought by the cascade either.
    assert.ok(maxOf(cascade.scores, 1300, 2000) < 0.9);
  });

  it('follows a unit change through rescale', () => {
    const c = drift.parseConfig({}, 'test');
    const s = drift.init(c);
    const out = newVerdict();
    const rng = new Rng(4);
    for (let i = 0; i < 1000; i++) drift.update(s, i, 100 + 10 * rng.normal(), out);
    drift.rescale!(s, 1000);
    let max = 0;
    for (let i = 1000; i < 1300; i++) max = Math.max(max, drift.update(s, i, 1000 * (100 + 10 * rng.normal()), out).score);
    assert.ok(max < 0.5, `max after rescale ${max}`);
  });

  it('rejects bad options with their path', () => {
    assert.throws(() => drift.parseConfig({ window: 2 }, 'rules[0].detectors[1].config'), /rules\[0\]\.detectors\[1\]\.config\.window: must be at least 8/);
    assert.throws(() => drift.parseConfig({ baseline: 50, minBaseline: 60 }, 'd'), /d\.minBaseline: must be at most baseline \(50\)/);
    assert.throws(() => drift.parseConfig({ windw: 50 }, 'd'), /unknown option 'windw'/);
  });
});

describe('distances', () => {
  it('KS and Wasserstein-1 of known samples', () => {
    const a = [1, 2, 3, 4];
    assert.deepEqual(distances(a, null, a, null), { ks: 0, w1: 0, psi: 0 });
    const shifted = distances(a, null, [3, 4, 5, 6], null);
    assert.equal(shifted.ks, 0.5);
    assert.equal(shifted.w1, 2); // every unit of mass moved by 2
    // Weighted form: bins with counts equal the expanded sample.
    const w = distances([1, 2], [3, 1], [1, 2], [1, 3]);
    const e = distances([1, 1, 1, 2], null, [1, 2, 2, 2], null);
    assert.ok(Math.abs(w.ks - e.ks) < 1e-12 && Math.abs(w.w1 - e.w1) < 1e-12 && Math.abs(w.psi - e.psi) < 1e-12);
  });

  it('sketch drift: quiet for the same latency distribution, high when the tail moves', () => {
    const rng = new Rng(8);
    const base = new QuantileSketch();
    const same = new QuantileSketch();
    const tail = new QuantileSketch();
    for (let i = 0; i < 20_000; i++) base.add(Math.exp(3 + 0.5 * rng.normal()));
    for (let i = 0; i < 2000; i++) same.add(Math.exp(3 + 0.5 * rng.normal()));
    for (let i = 0; i < 2000; i++) tail.add(Math.exp(3 + 0.5 * rng.normal()) * (rng.next() < 0.3 ? 4 : 1));
    assert.ok(sketchDrift(base, same).score < 0.3, `same: ${sketchDrift(base, same).score}`);
    assert.ok(sketchDrift(base, tail).score >= 0.9, `tail: ${sketchDrift(base, tail).score}`);
  });
});

describe('sketch-derived quantile series', () => {
  it('the p99 of per-minute sketches, watched by the default detectors, alarms when only the tail moves', () => {
    const rng = new Rng(12);
    const w = new WindowedSketch(MIN, 60);
    const set = createDetectorSet(undefined);
    const st = set.init();
    const out = newFusedVerdict();
    const p99Scores: number[] = [];
    const T = Date.UTC(2026, 0, 5);
    for (let m = 0; m < 2 * 24 * 60; m++) {
      for (let k = 0; k < 50; k++) {
        // From minute 2700 on, 5% of requests are 8x slower: p50 stays, p99 moves.
        const slow = m >= 2700 && rng.next() < 0.05;
        const closed = w.add(T + m * MIN + k * 1000, (slow ? 8 : 1) * Math.exp(3 + 0.2 * rng.normal()));
        if (closed) p99Scores.push(set.update(st, closed.t, closed.p99, out).score);
      }
    }
    assert.ok(Math.max(...p99Scores.slice(1500, 2699)) < 0.9, 'quiet before');
    assert.ok(Math.max(...p99Scores.slice(2699, 2720)) >= 0.9, 'the p99 series alarms');
  });
});

describe('null_rate', () => {
  it('scores the share of missing points, 0.9 at the declared tolerance', () => {
    const c = nullRate.parseConfig({ window: 20, max: 0.1 }, 'x');
    const s = nullRate.init(c);
    const out = newVerdict();
    for (let i = 0; i < 40; i++) nullRate.update(s, i, 1, out);
    assert.equal(out.score, 0);
    for (let i = 0; i < 2; i++) nullRate.update(s, 40 + i, NaN, out); // 2 of 20 = the tolerance
    assert.ok(Math.abs(out.score - 0.9) < 0.001);
    assert.equal(out.reason, 'null_rate');
    for (let i = 0; i < 20; i++) nullRate.update(s, 50 + i, 1, out);
    assert.equal(out.score, 0);
  });

  it('judges a declared null-rate input point by point', () => {
    const c = nullRate.parseConfig({ input: 'value', max: 0.02 }, 'x');
    const s = nullRate.init(c);
    const out = newVerdict();
    assert.ok(nullRate.update(s, 0, 0.001, out).score < 0.01);
    assert.equal(nullRate.update(s, 1, 0.05, out).reason, 'null_rate');
    assert.throws(() => nullRate.parseConfig({ input: 'zero' }, 'x'), /x\.input: expected one of nan, value/);
  });

  it('in a set, the models skip the missing points while the rule counts them', () => {
    const set = createDetectorSet([{ name: 'null_rate', config: { window: 10, max: 0.2 } }, { name: 'robust_z' }]);
    const st = set.init();
    const out = newFusedVerdict();
    for (let i = 0; i < 30; i++) set.update(st, i, 10 + (i % 3), out);
    for (let i = 0; i < 3; i++) set.update(st, 30 + i, NaN, out);
    assert.equal(out.reasons[0], 'null_rate');
  });
});

describe('reason classes', () => {
  const table: Array<[string, string]> = [
    ['spike', 'outlier'],
    ['dip', 'outlier'],
    ['level_shift_up', 'anomaly'],
    ['seasonal_break', 'anomaly'],
    ['drift_up', 'anomaly'],
    ['multivariate', 'anomaly'],
    ['drift', 'drift'],
    ['unit_change', 'data_quality'],
    ['impossible_value', 'data_quality'],
    ['null_rate', 'data_quality'],
    ['no_data', 'rule'],
    ['normal', 'none'],
    ['made_up', 'none'],
  ];
  for (const [reason, cls] of table) it(`${reason} -> ${cls}`, () => assert.equal(reasonClass(reason), cls));
});
