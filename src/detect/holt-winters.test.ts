import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { holtWinters, type HoltWintersState } from './holt-winters.ts';
import { HOUR, type Series, at, copy, maxIn, reasonsIn, runDetector, seasonal, seasonalShape } from './testkit.ts';
import { newVerdict } from './types.ts';

const OPTS = { days: 8, seed: 51, noise: 0.03, weekend: 1 };
const base = seasonal(OPTS);

function stateAfter(s: Series, n: number): HoltWintersState {
  const st = holtWinters.init(holtWinters.parseConfig({}, 'd'));
  const out = newVerdict();
  for (let i = 0; i < n; i++) holtWinters.update(st, s.t[i], s.v[i], out);
  return st;
}

describe('holt_winters', () => {
  it('detects a daily season of 288 five-minute points during its 72-hour warm-up', () => {
    const st = stateAfter(base, at(base, 3.1));
    assert.equal(st.p.length, 288);
  });

  it('detects 24 points on hourly data, and no season on white noise', () => {
    const hourly = seasonal({ ...OPTS, days: 10, step: HOUR });
    assert.equal(stateAfter(hourly, hourly.v.length).p.length, 24);
    const flatish = seasonal({ ...OPTS, daily: 0, trendPerWeek: 0 });
    assert.equal(stateAfter(flatish, flatish.v.length).p.length, 0);
  });

  const from = at(base, 6.6);
  const cases = [
    { name: 'a spike (+25%)', s: () => { const s = copy(base); s.v[from] *= 1.25; return s; }, reason: 'spike' },
    { name: 'a drop to zero', s: () => { const s = copy(base); s.v.fill(0, from, from + 10); return s; }, reason: 'drop_to_zero' },
    {
      name: 'broken seasonality (the afternoon stays at the daily mean)',
      s: () => {
        const s = copy(base);
        for (let i = from; i < at(s, 7); i++) s.v[i] = seasonalShape(s.t[i], { ...OPTS, daily: 0 });
        return s;
      },
      reason: 'seasonal_break',
    },
  ];
  for (const c of cases) {
    it(`catches ${c.name}`, () => {
      const s = c.s();
      const r = runDetector('holt_winters', {}, s);
      assert.ok(maxIn(r.scores, at(s, 3.5), from).max < 0.9, 'quiet before');
      assert.ok(reasonsIn(r, from, at(s, 7), 0.9).has(c.reason as never), [...reasonsIn(r, from, at(s, 7), 0.9)].join() || 'nothing at 0.9');
    });
  }

  it('learns until the warm-up ends, then forecasts through a gap', () => {
    const s = copy(base);
    const r = runDetector('holt_winters', {}, s);
    assert.equal(r.reasons[at(s, 2.9)], 'learning');
    assert.notEqual(r.reasons[at(s, 3.1)], 'learning');
    // Drop six hours of points: the season index must advance by the missed intervals.
    const keep = [...s.t.keys()].filter((i) => i < at(s, 5) || i >= at(s, 5.25));
    const gapped: Series = { t: Float64Array.from(keep, (i) => s.t[i]), v: Float64Array.from(keep, (i) => s.v[i]) };
    const g = runDetector('holt_winters', {}, gapped);
    const after = at(gapped, 5.25);
    assert.ok(maxIn(g.scores, after, after + 50).max < 0.9, 'the forecast after the gap is in phase');
  });
});
