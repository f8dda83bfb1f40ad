import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { threshold } from './threshold.ts';
import { newVerdict } from './types.ts';

describe('threshold', () => {
  const s = threshold.init(threshold.parseConfig({ above: 90, below: 10 }, 'd'));
  const cases = [
    { name: 'inside the limits', value: 50, score: 0, reason: 'normal' },
    { name: 'exactly at the upper limit is inside', value: 90, score: 0, reason: 'normal' },
    { name: 'above', value: 90.5, score: 1, reason: 'above_threshold' },
    { name: 'below', value: 3, score: 1, reason: 'below_threshold' },
    { name: 'a missing point is not judged', value: NaN, score: 0, reason: 'normal' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const v = threshold.update(s, 0, c.value, newVerdict());
      assert.equal(v.score, c.score);
      assert.equal(v.reason, c.reason);
      assert.equal(v.lower, 10);
      assert.equal(v.upper, 90);
    });
  }

  it('an open side has a NaN band edge', () => {
    const v = threshold.update(threshold.init(threshold.parseConfig({ above: 5 }, 'd')), 0, -1e9, newVerdict());
    assert.equal(v.score, 0);
    assert.ok(Number.isNaN(v.lower));
  });

  const invalid = [
    { name: 'no limits', config: {}, message: 'd: set at least one of above, below' },
    { name: 'below not under above', config: { above: 1, below: 2 }, message: 'd.below: must be less than above (1), got 2' },
    { name: 'a string limit', config: { above: '90' }, message: 'd.above: expected a number, got "90"' },
  ];
  for (const c of invalid) {
    it(`rejects ${c.name}`, () => {
      assert.throws(() => threshold.parseConfig(c.config, 'd'), { code: 'TM_ERR_CONFIG', message: c.message });
    });
  }
});
