import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rateOfChange } from './rate-of-change.ts';
import { newVerdict } from './types.ts';

function run(config: unknown, points: [number, number][]) {
  const s = rateOfChange.init(rateOfChange.parseConfig(config, 'd'));
  return points.map(([t, v]) => ({ ...rateOfChange.update(s, t, v, newVerdict()) }));
}

describe('rate_of_change', () => {
  it('learns from the first point, then judges the change per second against maxRise / maxFall', () => {
    const v = run({ maxRise: 1, maxFall: 2 }, [
      [0, 100],
      [10_000, 109], // +0.9/s: fine
      [20_000, 130], // +2.1/s: over 1/s
      [30_000, 111], // -1.9/s: fine
      [40_000, 80], // -3.1/s: over 2/s
    ]);
    assert.deepEqual(v.map((x) => x.reason), ['learning', 'normal', 'rate_of_change', 'normal', 'rate_of_change']);
    assert.ok(v[2].score > 0.9 && v[2].score < 1, `${v[2].score}`);
    assert.equal(v[2].upper, 119);
    assert.equal(v[4].lower, 91);
  });

  it('scores 0.9 at the limit and 0.95 at twice the limit', () => {
    const v = run({ maxRise: 1 }, [
      [0, 0],
      [1000, 2], // twice the limit
    ]);
    assert.ok(Math.abs(v[1].score - 0.95) < 1e-12);
  });

  it('judges relative changes with maxRelative', () => {
    const v = run({ maxRelative: 0.5 }, [
      [0, 100],
      [60_000, 140],
      [120_000, 300],
      [180_000, 100],
    ]);
    assert.deepEqual(v.map((x) => x.reason), ['learning', 'normal', 'rate_of_change', 'rate_of_change']);
  });

  it('skips missing points', () => {
    const v = run({ maxRise: 1 }, [
      [0, 10],
      [1000, NaN],
      [2000, 11.5],
    ]);
    assert.deepEqual(v.map((x) => x.reason), ['learning', 'normal', 'normal']);
  });

  it('needs at least one limit', () => {
    assert.throws(() => rateOfChange.parseConfig({}, 'd'), { code: 'TM_ERR_CONFIG', message: 'd: set at least one of maxRise, maxFall, maxRelative' });
    assert.throws(() => rateOfChange.parseConfig({ maxFall: -1 }, 'd'), { message: 'd.maxFall: must be above 0, got -1' });
  });
});
