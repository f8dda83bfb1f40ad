import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MINUTE, type Series, at, copy, flat, maxIn, runDetector, seasonal } from './testkit.ts';

/** First point at or after `from` scoring at least 0.9, minus `from` (-1 if none). */
function delay(scores: Float64Array, from: number): number {
  for (let i = from; i < scores.length; i++) if (scores[i] >= 0.9) return i - from;
  return -1;
}

function shifted(s: Series, fromDays: number, factor: (k: number) => number): { s: Series; start: number } {
  const out = copy(s);
  const start = at(out, fromDays);
  for (let i = start; i < out.v.length; i++) out.v[i] *= factor(i - start);
  return { s: out, start };
}

describe('cusum', () => {
  // +5% on 2% noise: 2.5 sigma, which no point detector calls anomalous on its own.
  const cases = [
    { name: 'a sustained +5% shift, daily seasonality with growth, 5-minute points', s: seasonal({ days: 12, seed: 41, noise: 0.02, weekend: 1 }), at: 10.3, f: () => 1.05, within: 60, reason: 'drift_up' },
    { name: 'a sustained -5% shift, 1-minute points, daily reference', s: seasonal({ days: 8, seed: 42, noise: 0.02, weekend: 1, step: MINUTE }), at: 6.3, f: () => 0.95, within: 60, reason: 'drift_down', config: { seasonal: 'daily' } },
    { name: 'a slow drift: +30% over a day', s: seasonal({ days: 12, seed: 43, noise: 0.02, weekend: 1 }), at: 10.3, f: (k: number) => 1 + 0.3 * Math.min(1, k / 288), within: 150, reason: 'drift_up' },
    { name: 'a sustained +5% shift on a flat series (seasonal: none)', s: flat(3000, 44, 100, 2), at: 7, f: () => 1.05, within: 60, reason: 'drift_up', config: { seasonal: 'none' } },
    { name: 'after three weeks with a weekend pattern', s: seasonal({ days: 25, seed: 45, noise: 0.02 }), at: 22.3, f: () => 1.05, within: 120, reason: 'drift_up' },
  ];
  for (const c of cases) {
    it(`catches ${c.name}`, () => {
      const { s, start } = shifted(c.s, c.at, c.f);
      const r = runDetector('cusum', c.config ?? {}, s);
      const d = delay(r.scores, start);
      assert.ok(d >= 0 && d <= c.within, `detected after ${d} points`);
      assert.equal(r.reasons[start + d], c.reason);
      assert.ok(maxIn(r.scores, 0, start).max < 0.9, 'quiet before');
    });
  }

  it('ignores a single spike (residuals are clipped to 4 sigma)', () => {
    const s = copy(seasonal({ days: 12, seed: 46, noise: 0.02, weekend: 1 }));
    const i = at(s, 10.5);
    s.v[i] *= 10;
    const r = runDetector('cusum', {}, s);
    assert.ok(maxIn(r.scores, i, i + 50).max < 0.5);
  });

  it('calms down once the shift has been learned', () => {
    const { s, start } = shifted(seasonal({ days: 14, seed: 41, noise: 0.02, weekend: 1 }), 10.3, () => 1.05);
    const r = runDetector('cusum', {}, s);
    assert.ok(delay(r.scores, start) >= 0);
    assert.ok(maxIn(r.scores, at(s, 12.5), s.v.length).max < 0.9, 'two days later the new level is the reference');
  });

  it('learns for 8 days with a weekly reference, 1 day with a daily one', () => {
    const s = seasonal({ days: 9, seed: 47 });
    const weekly = runDetector('cusum', {}, s);
    const daily = runDetector('cusum', { seasonal: 'daily' }, s);
    assert.equal(weekly.reasons[at(s, 7.9)], 'learning');
    assert.notEqual(weekly.reasons[at(s, 8.1)], 'learning');
    assert.notEqual(daily.reasons[at(s, 1.1)], 'learning');
  });
});
