import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PROFILE, createDetectorSet } from './fusion.ts';
import { detectorNames } from './registry.ts';
import { MINUTE, at, copy, flat, seasonal } from './testkit.ts';
import { restoreState, snapshotState } from './state.ts';
import { newFusedVerdict } from './types.ts';

describe('createDetectorSet', () => {
  it('with no entries is the default profile', () => {
    assert.deepEqual(createDetectorSet().entries, DEFAULT_PROFILE);
    assert.deepEqual(createDetectorSet([]).entries, DEFAULT_PROFILE);
    assert.deepEqual(DEFAULT_PROFILE.map((e) => e.name), ['impossible_value', 'no_data', 'counter_reset', 'unit_change', 'novelty', 'weekly_shift', 'new_level']);
  });

  const invalid = [
    { name: 'an unknown detector', entries: [{ name: 'robust_z' }, { name: 'isolation_forest' }], code: 'TM_ERR_UNKNOWN_DETECTOR', message: new RegExp(`^detectors\\[1\\]\\.name: unknown detector 'isolation_forest'; valid detectors: ${detectorNames().join(', ')}$`) },
    { name: 'an unknown option', entries: [{ name: 'robust_z', config: { windw: 32 } }], code: 'TM_ERR_CONFIG', message: /^detectors\[0\]\.config\.windw: unknown option 'windw'; valid options: window, minPoints, zHalf$/ },
    { name: 'an out-of-range option', entries: [{ name: 'ewma', config: { span: 1 } }], code: 'TM_ERR_CONFIG', message: /^detectors\[0\]\.config\.span: must be at least 2 and at most 100000, got 1$/ },
    { name: 'a config that is not a mapping', entries: [{ name: 'cusum', config: [1, 2] }], code: 'TM_ERR_CONFIG', message: /^detectors\[0\]\.config: expected a mapping of options \(k, h, seasonal, driftPoints, minPoints\), got a list$/ },
    { name: 'an unknown entry key', entries: [{ name: 'ewma', options: {} }], code: 'TM_ERR_CONFIG', message: /^detectors\[0\]\.options: unknown key 'options'; valid keys: name, config$/ },
    { name: 'a missing name', entries: [{ config: {} }], code: 'TM_ERR_CONFIG', message: /^detectors\[0\]\.name: expected a detector name$/ },
    { name: 'a wrong choice', entries: [{ name: 'counter_reset', config: { mode: 'gauge' } }], code: 'TM_ERR_CONFIG', message: /^detectors\[0\]\.config\.mode: expected one of auto, counter, got "gauge"$/ },
  ];
  for (const c of invalid) {
    it(`rejects ${c.name}`, () => {
      assert.throws(() => createDetectorSet(c.entries as never), (err: Error & { code?: string }) => {
        assert.equal(err.code, c.code);
        assert.match(err.message, c.message);
        return true;
      });
    });
  }
});

describe('fused verdicts', () => {
  it('learning while every detector learns, then the rules answer at once', () => {
    const set = createDetectorSet([{ name: 'robust_z' }, { name: 'ewma' }]);
    const st = set.init();
    const v = set.update(st, 0, 1, newFusedVerdict());
    assert.equal(v.learning, true);
    assert.equal(v.score, 0);
    assert.deepEqual(v.reasons, ['learning']);
    const withRule = createDetectorSet([{ name: 'threshold', config: { above: 10 } }, { name: 'robust_z' }]);
    const w = withRule.update(withRule.init(), 0, 11, newFusedVerdict());
    assert.equal(w.learning, false);
    assert.equal(w.score, 1);
    assert.deepEqual(w.reasons, ['above_threshold']);
    assert.deepEqual(w.sources, ['threshold']);
  });

  it('scores the strongest witness, lists reasons strongest first, takes the band from the first model', () => {
    const set = createDetectorSet([
      { name: 'threshold', config: { above: 150 } },
      { name: 'ewma' },
      { name: 'robust_z' },
    ]);
    const st = set.init();
    const s = flat(200, 3, 100, 2);
    const out = newFusedVerdict();
    for (let i = 0; i < 199; i++) set.update(st, s.t[i], s.v[i], out);
    assert.deepEqual(out.reasons, ['normal']);
    assert.deepEqual(out.sources, ['ewma']);
    set.update(st, s.t[199], 160, out);
    assert.equal(out.score, 1);
    assert.deepEqual(out.reasons, ['above_threshold', 'spike', 'spike']);
    assert.equal(out.sources[0], 'threshold');
    assert.ok(out.sources.includes('ewma') && out.sources.includes('robust_z'));
    assert.ok(out.expected > 95 && out.expected < 105, 'ewma expected ~100');
    assert.ok(out.lower < out.expected && out.expected < out.upper);
  });

  it('reuses the arrays of `out` (no allocation per point)', () => {
    const set = createDetectorSet([{ name: 'robust_z' }]);
    const st = set.init();
    const out = newFusedVerdict();
    const reasons = out.reasons;
    for (let i = 0; i < 50; i++) set.update(st, i, i % 7, out);
    assert.equal(out.reasons, reasons);
  });

  it('the default profile catches a spike on seasonal data and says which detectors saw it', () => {
    const s = copy(seasonal({ days: 10, seed: 61 }));
    const i = at(s, 9.6);
    // Scores are rarity in this series' own history: with ~2,700 points seen a 1.5x spike on 3%
    // noise is about 1e-4 rare (score ~0.86), 2.5x about 3e-5 (0.89); 4x is far beyond anything seen.
    s.v[i] *= 4;
    const set = createDetectorSet();
    const st = set.init();
    const out = newFusedVerdict();
    // novelty reports a new condition on the point that shows it.
    for (let k = 0; k <= i; k++) {
      set.update(st, s.t[k], s.v[k], out);
      if (k >= i - 100 && k < i) assert.ok(out.score < 0.9, `quiet before the spike, at ${k - i}: ${out.score}`);
    }
    assert.ok(out.score >= 0.9, `score ${out.score}`);
    // new_level too: 4x is also a level this series has never been near.
    assert.deepEqual(out.sources, ['novelty', 'new_level']);
    assert.equal(out.reasons[0], 'spike');
    assert.ok(out.lower < out.expected && out.expected < out.upper);
  });

  it('outside: a level shift reported once stays outside the band while its score is 0; a counter is judged as its rate', () => {
    const D = 1500; // the drop, after a day of minutes
    const s = copy(flat(D + 200, 7, 100, 2, MINUTE));
    for (let k = D; k < s.t.length; k++) s.v[k] *= 0.4; // down to 40% and staying there
    const set = createDetectorSet();
    const st = set.init();
    const out = newFusedVerdict();
    const outside: boolean[] = [];
    for (let k = 0; k < s.t.length; k++) {
      set.update(st, s.t[k], s.v[k], out);
      if (out.learning) assert.equal(out.outside, false);
      outside.push(out.outside);
      if (k === D) assert.ok(out.score >= 0.9 && out.outside, `the drop is reported: ${out.score}`);
      if (k > D && k < D + 10) assert.ok(out.score < 0.5 && out.outside, `point ${k}: explained (score ${out.score}), still outside`);
    }
    // Ordinary points are inside the band (4 robust sigmas: the odd one of noise is not).
    const before = outside.slice(0, D).filter(Boolean).length;
    assert.ok(before < D / 200, `${before} of ${D} points before the drop outside`);
    // Outside until the window has taken in the new level, then back inside for good.
    const back = outside.indexOf(false, D + 1);
    assert.ok(back > D + 20 && back < D + 100, `back inside at ${back - D} points after the drop`);
    assert.ok(outside.slice(back).every((o) => !o));

    // A counter: the models judge its per-second rate, and so does `outside` (the counter itself
    // is far above the rate's band at every point).
    const c = createDetectorSet();
    const cs = c.init();
    let total = 1e6;
    for (let k = 0; k < 300; k++) {
      total += 600 + (k % 7) * 10;
      c.update(cs, k * MINUTE, total, out);
      if (!out.learning && k > 250) assert.ok(total > out.upper * 1000 && !out.outside, `point ${k}: band ${out.lower}..${out.upper}`);
    }
  });

  it('a clock tick reports silence through no_data, without learning', () => {
    const set = createDetectorSet();
    const st = set.init();
    const out = newFusedVerdict();
    for (let k = 0; k < 100; k++) set.update(st, k * 60_000, 5, out);
    const snap = JSON.stringify(st);
    const v = set.tick!(st, 99 * 60_000 + 30 * 60_000, out);
    assert.equal(v.reasons[0], 'no_data');
    assert.deepEqual(v.sources, ['no_data']);
    assert.ok(v.score > 0.99);
    assert.equal(JSON.stringify(st), snap);
  });

  it('check: a restored state of this layout passes, one of an older layout or another set is refused', () => {
    const set = createDetectorSet();
    const st = set.init();
    const out = newFusedVerdict();
    const s = copy(seasonal({ days: 2, seed: 5 }));
    for (let k = 0; k < s.t.length; k++) set.update(st, s.t[k], s.v[k], out);
    const restore = () => restoreState(JSON.stringify(snapshotState(st))) as Float64Array;
    set.check!(restore());
    const refused = (state: unknown, message: RegExp) => assert.throws(() => set.check!(state), (err: Error & { code?: string }) => err.code === 'TM_ERR_STATE' && message.test(err.message));
    // The layout before one region per series: an array of the detectors' own states.
    const old = [null, new Array(33).fill(0), new Array(12).fill(0), new Array(14).fill(0), { f: new Array(42).fill(0), p: new Float32Array(474) }, new Array(81).fill(0)];
    refused(old, /^state: expected the state region of 7 detectors \(impossible_value, no_data, counter_reset, unit_change, novelty, weekly_shift, new_level\)/);
    // A region whose novelty block is of another layout version. Blocks are stored without
    // their leading options: impossible_value 3 - 3, no_data 27 - 3, counter_reset 14 - 2,
    // unit_change 14 - 4 words; novelty's LAYOUT is its word 41, the 27th after its 14 options.
    const oldNovelty = restore();
    oldNovelty[1 + 0 + 24 + 12 + 10 + 27] = 3;
    refused(oldNovelty, /^state\[4\]: novelty: the state has another layout/);
    const oldWeekly = restore();
    oldWeekly[oldWeekly.length - (10 - 4) - (74 - 7) + (28 - 7)] = 2; // weekly_shift's LAYOUT (word 28 of 74, after its 7 options; new_level's 10 - 4 words follow)
    refused(oldWeekly, /^state\[5\]: weekly_shift: the state has another layout/);
    refused(restore().slice(1), /^state: expected the state region of 7 detectors/);
    // Another set's region (same length, another tag) is refused too.
    const other = restore();
    other[0] += 1;
    refused(other, /^state: expected the state region/);
    refused(null, /^state: expected the state region of 7 detectors/);
  });

  it('an impossible value is reported and kept away from the models', () => {
    const set = createDetectorSet();
    const st = set.init();
    const out = newFusedVerdict();
    const s = flat(300, 4);
    for (let k = 0; k < 300; k++) set.update(st, s.t[k], k === 250 ? Infinity : s.v[k], out);
    set.update(st, s.t[299] + 300_000, 100, out);
    assert.ok(out.score < 0.9, 'the next point is normal: the models never learned the infinity');
  });
});
