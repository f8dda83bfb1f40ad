import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copy, flat, maxIn, runDetector } from './testkit.ts';

describe('ewma', () => {
  const base = flat(600, 9, 100, 5);
  it('catches a spike', () => {
    const s = copy(base);
    s.v[400] += 40;
    const r = runDetector('ewma', {}, s);
    assert.ok(r.scores[400] >= 0.9, `${r.scores[400]}`);
    assert.equal(r.reasons[400], 'spike');
    assert.ok(maxIn(r.scores, 16, 400).max < 0.9);
  });

  it('catches a level shift down, and its variance takes the new level in within a few points', () => {
    const s = copy(base);
    for (let i = 400; i < 600; i++) s.v[i] -= 40;
    const r = runDetector('ewma', {}, s);
    assert.ok(r.scores[400] >= 0.9);
    assert.equal(r.reasons[400], 'dip');
    assert.ok(maxIn(r.scores, 410, 600).max < 0.9, 'the new level is normal later');
  });

  it('a spike barely moves the baseline (clipped learning)', () => {
    const s = copy(base);
    s.v[400] = 1e9;
    const r = runDetector('ewma', {}, s);
    assert.ok(Math.abs(r.expected[401] - r.expected[400]) < 5, `${r.expected[400]} -> ${r.expected[401]}`);
  });
});
