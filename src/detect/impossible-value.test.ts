import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { impossibleValue } from './impossible-value.ts';
import { newVerdict } from './types.ts';

describe('impossible_value', () => {
  const cases = [
    { name: 'infinity with no config', config: {}, value: Infinity, score: 1 },
    { name: 'minus infinity with no config', config: {}, value: -Infinity, score: 1 },
    { name: 'a large finite value with no config', config: {}, value: 1e300, score: 0 },
    { name: 'NaN is a missing point by default', config: {}, value: NaN, score: 0 },
    { name: 'NaN when nanIsImpossible', config: { nanIsImpossible: true }, value: NaN, score: 1 },
    { name: 'negative when nonNegative', config: { nonNegative: true }, value: -0.001, score: 1 },
    { name: 'zero when nonNegative', config: { nonNegative: true }, value: 0, score: 0 },
    { name: 'a CPU percentage above 100', config: { min: 0, max: 100 }, value: 100.5, score: 1 },
    { name: 'a CPU percentage inside the range', config: { min: 0, max: 100 }, value: 99, score: 0 },
    { name: 'infinity inside an open-ended range', config: { min: 0 }, value: Infinity, score: 1 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = impossibleValue.init(impossibleValue.parseConfig(c.config, 'd'));
      const v = impossibleValue.update(s, 0, c.value, newVerdict());
      assert.equal(v.score, c.score);
      assert.equal(v.reason, c.score === 1 ? 'impossible_value' : 'normal');
    });
  }

  it('reports its valid range as the band', () => {
    const s = impossibleValue.init(impossibleValue.parseConfig({ min: -5, max: 5, nonNegative: true }, 'd'));
    const v = impossibleValue.update(s, 0, 1, newVerdict());
    assert.deepEqual([v.lower, v.upper], [0, 5]);
  });

  it('keeps three words of state, and with the default config flags only infinities', () => {
    const s = impossibleValue.init(impossibleValue.parseConfig(undefined, 'd'));
    assert.equal(s.length, 3);
    const got = [NaN, -1e300, 0, 1e300, Infinity, -Infinity].map((x) => {
      const v = impossibleValue.update(s, 0, x, newVerdict());
      return [v.score, v.reason, v.lower, v.upper];
    });
    assert.deepEqual(got, [
      [0, 'normal', NaN, NaN],
      [0, 'normal', NaN, NaN],
      [0, 'normal', NaN, NaN],
      [0, 'normal', NaN, NaN],
      [1, 'impossible_value', NaN, NaN],
      [1, 'impossible_value', NaN, NaN],
    ]);
  });

  it('rejects an empty range', () => {
    assert.throws(() => impossibleValue.parseConfig({ min: 3, max: 1 }, 'd'), { code: 'TM_ERR_CONFIG', message: 'd.max: must be at least min (3), got 1' });
  });
});
