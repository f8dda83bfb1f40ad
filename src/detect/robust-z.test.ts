import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../series/index.ts';
import { robustZ } from './robust-z.ts';
import { type Series, copy, flat, maxIn, reasonsIn, runDetector } from './testkit.ts';
import { newVerdict } from './types.ts';

const base = flat(600, 7, 100, 5);

function withAnomaly(edit: (v: Float64Array) => void): Series {
  const s = copy(base);
  edit(s.v);
  return s;
}

describe('robust_z', () => {
  const cases = [
    { name: 'a spike (+40 on noise 5)', s: withAnomaly((v) => (v[400] += 40)), at: 400, reason: 'spike' },
    { name: 'a dip (-40)', s: withAnomaly((v) => (v[400] -= 40)), at: 400, reason: 'dip' },
    { name: 'a drop to zero', s: withAnomaly((v) => v.fill(0, 400, 420)), at: 400, reason: 'drop_to_zero' },
    { name: 'a level shift (+50%), called so from the fourth point', s: withAnomaly((v) => { for (let i = 400; i < 600; i++) v[i] += 50; }), at: 403, reason: 'level_shift_up' },
  ];
  for (const c of cases) {
    it(`catches ${c.name}`, () => {
      const r = runDetector('robust_z', {}, c.s);
      assert.ok(r.scores[c.at] >= 0.9, `score ${r.scores[c.at]}`);
      assert.equal(r.reasons[c.at], c.reason);
      assert.ok(maxIn(r.scores, 16, 400).max < 0.9, 'quiet before');
    });
  }

  it('a level shift becomes the new normal once the median crosses (about window/2 points)', () => {
    const s = withAnomaly((v) => { for (let i = 400; i < 600; i++) v[i] += 50; });
    const r = runDetector('robust_z', {}, s);
    assert.ok(maxIn(r.scores, 440, 600).max < 0.9);
  });

  it('judges integer counts in steps of one, not fractions of a zero MAD', () => {
    const r0 = new Rng(3);
    const n = 400;
    const s: Series = { t: Float64Array.from({ length: n }, (_, i) => i * 60_000), v: Float64Array.from({ length: n }, () => (r0.next() < 0.1 ? 1 : 0)) };
    s.v[300] = 2;
    s.v[350] = 12;
    const r = runDetector('robust_z', {}, s);
    assert.ok(r.scores[300] < 0.3, `two errors: ${r.scores[300]}`);
    assert.ok(r.scores[350] >= 0.9, `twelve errors: ${r.scores[350]}`);
    assert.equal(r.reasons[350], 'spike');
  });

  it('is scale-free: the same series in other units gives the same scores', () => {
    const a = runDetector('robust_z', {}, withAnomaly((v) => (v[400] += 30)));
    const scaled = withAnomaly((v) => (v[400] += 30));
    for (let i = 0; i < scaled.v.length; i++) scaled.v[i] *= 1e-3;
    const b = runDetector('robust_z', {}, scaled);
    for (let i = 0; i < a.scores.length; i++) assert.ok(Math.abs(a.scores[i] - b.scores[i]) < 1e-9, `point ${i}`);
  });

  it('learns for minPoints, and reports the band it judged against', () => {
    const st = robustZ.init(robustZ.parseConfig({ window: 8, minPoints: 5, zHalf: 2 }, 'd'));
    const out = newVerdict();
    const vals = [10, 12, 11, 13, 12];
    for (const v of vals) assert.equal(robustZ.update(st, 0, v, out).reason, 'learning');
    robustZ.update(st, 0, 30, out);
    // median 12, MAD 1 -> scale 1.4826, band 12 +- 2 x 1.4826
    assert.equal(out.expected, 12);
    assert.ok(Math.abs(out.upper - (12 + 2 * 1.4826)) < 1e-12);
    assert.equal(out.reason, 'spike');
  });

  it('rescales with a change of unit', () => {
    const st = robustZ.init(robustZ.parseConfig({}, 'd'));
    const out = newVerdict();
    for (let i = 0; i < 100; i++) robustZ.update(st, 0, base.v[i], out);
    robustZ.rescale!(st, 1000);
    robustZ.update(st, 0, base.v[100] * 1000, out);
    assert.ok(out.score < 0.5, `${out.score}`);
    assert.ok(Math.abs(out.expected / 1000 - 100) < 3);
  });

  it('checks its options', () => {
    assert.throws(() => robustZ.parseConfig({ window: 10, minPoints: 20 }, 'd'), { message: 'd.minPoints: must be at most window (10), got 20' });
    assert.throws(() => robustZ.parseConfig({ window: 2.5 }, 'd'), { message: 'd.window: expected a whole number, got 2.5' });
    assert.deepEqual(reasonsIn(runDetector('robust_z', {}, base), 16, 600, 0.9), new Set());
  });
});
