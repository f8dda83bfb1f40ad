import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { unitFactor } from './unit-change.ts';
import { at, copy, maxIn, runDetector, runSet, seasonal } from './testkit.ts';

describe('unit_change', () => {
  const base = seasonal({ days: 4, seed: 5 });
  const from = at(base, 3);
  const cases = [
    { name: 'milliseconds reported as microseconds (x1000)', factor: 1000, len: Infinity, want: 1000 },
    { name: 'bytes reported as KiB (/1024)', factor: 1 / 1024, len: Infinity, want: 1 / 1024 },
    { name: 'a percentage reported as a ratio (/100)', factor: 0.01, len: Infinity, want: 0.01 },
    { name: 'a one-point spike of x1000 is no unit change', factor: 1000, len: 1, want: 0 },
    { name: 'three points of x1000 are no unit change', factor: 1000, len: 3, want: 0 },
    { name: 'a x7 level shift is no unit change', factor: 7, len: Infinity, want: 0 },
    { name: 'a x300 shift is not near a unit factor', factor: 300, len: Infinity, want: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = copy(base);
      for (let i = from; i < Math.min(s.v.length, from + c.len); i++) s.v[i] *= c.factor;
      const r = runDetector('unit_change', {}, s);
      const hits = [...r.reasons.keys()].filter((i) => r.reasons[i] === 'unit_change');
      if (c.want === 0) assert.deepEqual(hits, []);
      else {
        assert.deepEqual(hits, [from + 3], 'confirmed once, after `persist` (4) points');
        assert.equal(r.scores[from + 3], 0.95);
      }
    });
  }

  it('snaps ratios to unit factors', () => {
    assert.equal(unitFactor(1080, 100, 0.25), 1000);
    assert.equal(unitFactor(0.00101, 100, 0.25), 0.001);
    assert.equal(unitFactor(1000 * 1024, 100, 0.25), 1e6); // 1.024e6 is within 25% of 10^6
    assert.equal(unitFactor(1024 * 1024 * 1.005, 100, 0.01), 1024 * 1024);
    assert.equal(unitFactor(1024 * 1024 * 1.02, 100, 0.01), 0);
    assert.equal(unitFactor(50, 100, 0.25), 0);
    assert.equal(unitFactor(3000, 100, 0.25), 0);
  });

  // Real metrics that jump by 10^2-10^3 without a change of unit (NAB's ec2_cpu_utilization_77c1ca
  // and art_daily_flatmiddle fired 58 times with the magnitude-only rule).
  const quiet = [
    {
      name: 'a CPU that flaps between 0.1% idle and ~90% busy',
      make: (i: number) => (Math.floor(i / 40) % 3 === 1 ? 85 + (i % 7) : 0.1 + 0.002 * (i % 5)),
    },
    { name: 'a series that hovers around zero', make: (i: number) => 1e-3 * Math.sin(i / 9) + 1e-6 * (i % 3) },
    {
      name: 'a near-zero series that later sits at ~900x for hours, as it did before',
      make: (i: number) => ((i >= 30 && i < 60) || i >= 300 ? 90 + (i % 4) : 0.1),
    },
  ];
  for (const c of quiet) {
    it(`no unit change: ${c.name}`, () => {
      const n = 800;
      const t = new Float64Array(n);
      const v = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        t[i] = base.t[0] + i * 300_000;
        v[i] = c.make(i);
      }
      const r = runDetector('unit_change', {}, { t, v });
      assert.deepEqual([...r.reasons.keys()].filter((i) => r.reasons[i] === 'unit_change'), []);
    });
  }

  it('a change back is a second unit change', () => {
    const s = copy(base);
    for (let i = from; i < from + 100; i++) s.v[i] *= 1000;
    const r = runDetector('unit_change', {}, s);
    assert.deepEqual([...r.reasons.keys()].filter((i) => r.reasons[i] === 'unit_change'), [from + 3, from + 103]);
  });

  it('in the default set the models rescale: the alarm stops soon after the unit change', () => {
    const long = seasonal({ days: 5, seed: 6 });
    const start = at(long, 3.5);
    const s = copy(long);
    for (let i = start; i < s.v.length; i++) s.v[i] *= 1000;
    const r = runSet(undefined, s);
    assert.equal(r.reasons[start + 3], 'unit_change');
    // novelty reports the jump at its peak, a couple of points in; unit_change names it at start + 3.
    assert.ok(maxIn(r.scores, start, start + 4).max >= 0.9, 'the jump is flagged');
    const after = maxIn(r.scores, start + 4, s.v.length);
    assert.ok(after.max < 0.9, `after the rescale: ${after.max} (${r.reasons[after.at]}) at ${after.at - start}`);
    // Without unit_change the models would alarm on the new level for a good while.
    const without = runSet([{ name: 'seasonal_baseline' }, { name: 'robust_z' }], s);
    const alarms = [...without.scores.slice(start + 4, start + 40)].filter((x) => x >= 0.9).length;
    assert.ok(alarms > 5, `without unit_change: ${alarms} alarms`);
  });
});
