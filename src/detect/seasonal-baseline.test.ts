import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type Series, at, copy, maxIn, reasonsIn, runDetector, seasonal, seasonalShape } from './testkit.ts';

const OPTS = { days: 22, seed: 31, noise: 0.03 };
const base = seasonal(OPTS);
const from = at(base, 18.6); // Thursday, 14:24, on the way up to the evening peak

function edit(fn: (s: Series) => void): Series {
  const s = copy(base);
  fn(s);
  return s;
}

describe('seasonal_baseline', () => {
  const cases = [
    { name: 'a spike (+25%)', s: edit((s) => (s.v[from] *= 1.25)), at: from, reasons: ['spike'] },
    { name: 'a drop to zero', s: edit((s) => s.v.fill(0, from, from + 24)), at: from, reasons: ['drop_to_zero'] },
    // Its first point is ambiguous: a 30% drop on the way up to the peak also looks like the peak not coming.
    { name: 'a level shift (-30%)', s: edit((s) => { for (let i = from; i < s.v.length; i++) s.v[i] *= 0.7; }), at: from, reasons: ['dip', 'seasonal_break'] },
    {
      name: 'broken seasonality: the evening peak does not come (flat at the daily mean)',
      s: edit((s) => {
        for (let i = from; i < at(s, 19); i++) s.v[i] = seasonalShape(s.t[i], { ...OPTS, daily: 0 }) * (1 + 0.03 * Math.sin(i));
      }),
      at: -1,
      reasons: ['seasonal_break'],
    },
    {
      name: "the weekday evening peak at 3 a.m. (a value normal at 18:00, at 03:00)",
      s: edit((s) => {
        const night = at(s, 18.125);
        for (let i = night; i < night + 6; i++) s.v[i] = seasonalShape(s.t[i] + 15 * 3_600_000, OPTS);
      }),
      at: at(base, 18.125),
      reasons: ['spike'],
    },
  ];
  for (const c of cases) {
    it(`catches ${c.name}`, () => {
      const r = runDetector('seasonal_baseline', {}, c.s);
      if (c.at >= 0) {
        assert.ok(r.scores[c.at] >= 0.9, `score ${r.scores[c.at]}`);
        assert.ok(c.reasons.includes(r.reasons[c.at]), r.reasons[c.at]);
      } else {
        const seen = reasonsIn(r, from, at(c.s, 19), 0.9);
        assert.ok(c.reasons.some((x) => seen.has(x as never)), [...seen].join());
      }
      const first = c.at >= 0 ? Math.min(c.at, from) : from;
      const before = maxIn(r.scores, at(base, 8), first - 1);
      assert.ok(before.max < 0.9, `quiet before: ${before.max} at ${before.at}`);
    });
  }

  it('a level shift becomes normal after `relevel` points', () => {
    const s = edit((s) => { for (let i = from; i < s.v.length; i++) s.v[i] *= 1.5; });
    const r = runDetector('seasonal_baseline', {}, s);
    assert.equal(r.reasons[from + 4], 'level_shift_up');
    assert.ok(maxIn(r.scores, from + 14, s.v.length).max < 0.9);
  });

  it('learns for a day, then judges the first point of the second', () => {
    const r = runDetector('seasonal_baseline', {}, base);
    assert.equal(r.reasons[at(base, 1) - 1], 'learning');
    assert.notEqual(r.reasons[at(base, 1)], 'learning');
    assert.ok(Math.abs(r.expected[at(base, 10)] - base.v[at(base, 10)]) < 0.1 * base.v[at(base, 10)]);
  });

  it('with drift on, a sustained +5% shift on 2% noise is a drift', () => {
    const quiet = seasonal({ days: 12, seed: 32, noise: 0.02, weekend: 1 });
    const start = at(quiet, 10.3);
    const s = copy(quiet);
    for (let i = start; i < s.v.length; i++) s.v[i] *= 1.05;
    const r = runDetector('seasonal_baseline', { drift: true }, s);
    const hit = [...r.scores.keys()].find((i) => i >= start && r.scores[i] >= 0.9) ?? -1;
    assert.ok(hit >= 0 && hit - start < 100, `detected after ${hit - start} points`);
    assert.equal(r.reasons[hit], 'drift_up');
  });
});
