import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { noData } from './no-data.ts';
import { newVerdict } from './types.ts';
import type { Verdict } from './types.ts';

const STEP = 15_000;

function fresh(config: unknown = {}) {
  return noData.init(noData.parseConfig(config, 'd'));
}

function feed(s: Float64Array, from: number, count: number, jitter = 0): Verdict[] {
  const out: Verdict[] = [];
  for (let i = 0; i < count; i++) out.push({ ...noData.update(s, from + i * STEP + (i % 2 ? jitter : -jitter), 1, newVerdict()) });
  return out;
}

describe('no_data', () => {
  it('learns before judging, then stays quiet on jittered regular scrapes', () => {
    const s = fresh();
    const v = feed(s, 0, 40, 2000);
    assert.equal(v[3].reason, 'learning');
    assert.ok(v.slice(12).every((x) => x.score === 0 && x.reason === 'normal'));
  });

  it('the point after a silence of 10 intervals reports no_data', () => {
    const s = fresh();
    feed(s, 0, 20);
    const late = noData.update(s, 19 * STEP + 10 * STEP, 1, newVerdict());
    assert.equal(late.reason, 'no_data');
    assert.ok(late.score > 0.9, `${late.score}`);
  });

  it('scores 0.9 at exactly factor intervals of silence', () => {
    const s = fresh({ factor: 4 });
    feed(s, 0, 20);
    const v = noData.update(s, 19 * STEP + 4 * STEP, 1, newVerdict());
    assert.ok(Math.abs(v.score - 0.9) < 1e-9, `${v.score}`);
  });

  it('NaN points (missing samples) are judged against the last real point and do not reset it', () => {
    const s = fresh();
    feed(s, 0, 20);
    const scores: number[] = [];
    for (let k = 1; k <= 8; k++) scores.push(noData.update(s, 19 * STEP + k * STEP, NaN, newVerdict()).score);
    assert.equal(scores[0], 0);
    assert.ok(scores[5] > 0.9, `after 6 missing intervals: ${scores[5]}`);
    assert.ok(scores[7] > scores[5], 'silence keeps growing');
  });

  it('a clock tick judges the silence without a point, and learns nothing', () => {
    const s = fresh();
    feed(s, 0, 20);
    const before = JSON.stringify(s);
    const t = noData.tick!(s, 19 * STEP + 20 * STEP, newVerdict());
    assert.equal(t.reason, 'no_data');
    assert.ok(t.score > 0.99);
    assert.equal(JSON.stringify(s), before);
    assert.equal(noData.tick!(s, 19 * STEP + STEP, newVerdict()).score, 0);
  });

  it('a routine silence stops alerting once it is a habit (3 of them); a much longer one alerts again', () => {
    const s = fresh();
    let t = 0;
    const scores: number[] = [];
    // 8 "nights": 60 points, then a silence of 40 intervals.
    for (let night = 0; night < 8; night++) {
      for (let i = 0; i < 60; i++) {
        const v = noData.update(s, t, 1, newVerdict());
        if (i === 0 && night > 0) scores.push(v.score);
        t += STEP;
      }
      t += 40 * STEP;
    }
    assert.ok(scores.slice(0, 3).every((x) => x > 0.9), `first three silences: ${scores}`);
    assert.ok(scores.slice(3).every((x) => x === 0), `later ones: ${scores}`);
    const long = noData.update(s, t + 200 * STEP, 1, newVerdict());
    assert.ok(long.score > 0.9, `a silence 6x the habit: ${long.score}`);
  });

  it('rejects a factor below 2', () => {
    assert.throws(() => noData.parseConfig({ factor: 1 }, 'rules[0].config'), { code: 'TM_ERR_CONFIG', message: 'rules[0].config.factor: must be at least 2 and at most 1000, got 1' });
  });
});
