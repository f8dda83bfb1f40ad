import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newLevel } from './new-level.ts';
import { MINUTE, at, checkpointDivergence, copy, flat, maxIn, rescaledPair, runDetector, seasonal } from './testkit.ts';

/** 5-minute points over 3 weeks: daily cycle, weekend dip, 3% noise, no growth. */
const base = () => copy(seasonal({ days: 21, seed: 7, noise: 0.03, trendPerWeek: 0 }));

describe('new_level', () => {
  it('learns for a week (and at least learnPoints points), then stays quiet on clean seasonal noise', () => {
    const s = base();
    const r = runDetector('new_level', undefined, s);
    for (let k = 0; k < at(s, 7) - 1; k++) assert.equal(r.reasons[k], 'learning', `point ${k}`);
    assert.notEqual(r.reasons[at(s, 7) + 1], 'learning');
    assert.equal(maxIn(r.scores, 0).max, 0);
    // Hourly points: the week is 168 points, so learnPoints (256) decides.
    const hourly = copy(seasonal({ days: 20, seed: 8, step: 60 * MINUTE, trendPerWeek: 0 }));
    const h = runDetector('new_level', undefined, hourly);
    assert.equal(h.reasons[250], 'learning');
    assert.notEqual(h.reasons[260], 'learning');
  });

  it('reports a value at a level never visited, once per event, and not again for the same level', () => {
    const s = base();
    const i = at(s, 10);
    for (let k = i; k < i + 6; k++) s.v[k] *= 2.2; // a burst far above the learned peak
    const j = at(s, 15);
    s.v[j] *= 2.2; // the same level again, days later: visited
    const r = runDetector('new_level', undefined, s);
    const hits: number[] = [];
    for (let k = 0; k < s.v.length; k++) if (r.scores[k] > 0) hits.push(k);
    assert.deepEqual(hits, [i]);
    assert.equal(r.scores[i], 0.9);
    assert.equal(r.reasons[i], 'spike');
  });

  it('needs a full level beyond the learned range; below it names a dip or a drop to zero', () => {
    const s = base();
    // The learned range: the first week's min to max (weekend trough to weekday peak).
    let lo = Infinity;
    let hi = -Infinity;
    for (let k = 0; k < at(s, 7); k++) {
      lo = Math.min(lo, s.v[k]);
      hi = Math.max(hi, s.v[k]);
    }
    const level = (hi - lo) / 7;
    const i = at(s, 9);
    s.v[i] = lo - 0.9 * level; // below the learned minimum, in the neighbouring level: counts as visited
    const j = at(s, 12);
    s.v[j] = 0;
    const r = runDetector('new_level', undefined, s);
    assert.equal(r.scores[i], 0);
    assert.equal(r.scores[j], 0.9);
    assert.equal(r.reasons[j], 'drop_to_zero');
    const d = base();
    d.v[j] = lo - 1.5 * level;
    assert.equal(runDetector('new_level', undefined, d).reasons[j], 'dip');
  });

  it('rests after a report (`rest: 0` reports each), and learns a slow climb silently', () => {
    const s = base();
    const i = at(s, 10);
    s.v[i] *= 3; // a new level...
    s.v[i + 20] *= 5; // ...and another, 100 minutes later: the same event
    const count = (r: { scores: Float64Array }) => r.scores.reduce((n, x) => n + (x > 0 ? 1 : 0), 0);
    assert.equal(count(runDetector('new_level', undefined, s)), 1);
    assert.equal(count(runDetector('new_level', { rest: 0 }, s)), 2);
    // A climb of a quarter level per point reaches levels far above the learned range, each next to the last.
    const c = base();
    const j = at(c, 10);
    for (let k = j; k < j + 200; k++) c.v[k] = 130 + 3 * (k - j);
    const climb = runDetector('new_level', { rest: 0 }, c);
    assert.equal(maxIn(climb.scores, j, j + 200).max, 0);
  });

  it('a flat learned series: any visible change is a new level; NaN points are skipped', () => {
    const s = flat(3000, 3, 100, 0);
    s.v[2500] = 101;
    s.v[2600] = NaN;
    const r = runDetector('new_level', undefined, s);
    assert.equal(r.scores[2500], 0.9);
    assert.equal(r.scores[2600], 0);
    assert.equal(r.reasons[2600], 'normal');
  });

  it('after a rescale (unit change) judges as before, and a checkpoint restores identical verdicts', () => {
    const s = base();
    for (let k = at(s, 12); k < at(s, 12) + 3; k++) s.v[k] *= 3;
    rescaledPair('new_level', s, at(s, 10), 1000, (k, a, b) => assert.equal(a.score, b.score, `point ${k}`));
    assert.equal(checkpointDivergence('new_level', undefined, s, at(s, 11)), -1);
    assert.equal(checkpointDivergence('new_level', undefined, s, at(s, 3)), -1);
  });

  it('validates its options and refuses a state of another layout', () => {
    assert.throws(() => newLevel.parseConfig({ levels: 0 }, 'x'), /levels/);
    assert.throws(() => newLevel.parseConfig({ bins: 3 }, 'x'), /bins/);
    assert.equal(newLevel.check!(newLevel.init(newLevel.parseConfig(undefined, 'x'))), true);
    assert.equal(newLevel.check!([1, 2, 3]), false);
  });
});
