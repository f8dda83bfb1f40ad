import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { noData } from './no-data.ts';
import { createDetectorSet, DEFAULT_PROFILE } from './fusion.ts';
import { newFusedVerdict, newVerdict } from './types.ts';
import type { Verdict } from './types.ts';
import { Rng } from '../series/index.ts';

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

  describe('a stuck value (an exporter that stopped updating)', () => {
    const MIN = 60_000;
    /** Minute points of `value(i, rng)` for `n` points; `hold` repeats the value of point from..to-1. */
    function gauge(n: number, seed: number, value: (i: number, r: Rng) => number, holds: [number, number][] = []): number[] {
      const r = new Rng(seed);
      const v: number[] = [];
      for (let i = 0; i < n; i++) v.push(value(i, r));
      for (const [from, to] of holds) for (let i = from + 1; i < to; i++) v[i] = v[from];
      return v;
    }
    const cpu = (i: number, r: Rng) => 40 + 10 * Math.sin((2 * Math.PI * i) / 1440) + 3 * r.normal();
    function run(v: number[], config: unknown = {}): Verdict[] {
      const s = fresh(config);
      return v.map((x, i) => ({ ...noData.update(s, i * MIN, x, newVerdict()) }));
    }

    it('a noisy gauge repeating its value for 10 minutes is reported once, at its 10th point, and goes on until it moves', () => {
      const v = gauge(3000, 1, cpu, [[2000, 2060]]);
      const s = fresh();
      const out: Verdict[] = [];
      const ongoing: boolean[] = [];
      v.forEach((x, i) => {
        out.push({ ...noData.update(s, i * MIN, x, newVerdict()) });
        ongoing.push(noData.ongoing!(s));
      });
      const hits = out.flatMap((x, i) => (x.score >= 0.3 ? [i] : []));
      assert.deepEqual(hits, [2009]);
      assert.equal(out[2009].reason, 'stuck');
      assert.ok(Math.abs(out[2009].score - 0.9) < 1e-9, `${out[2009].score}`);
      assert.deepEqual(ongoing.flatMap((x, i) => (x ? [i] : [])), Array.from({ length: 51 }, (_, k) => 2009 + k));
    });

    it('is not judged where repeats are ordinary or nothing moved: counts, a constant, a counter, zeros, a volume idle at night', () => {
      const cases: [string, number[]][] = [
        ['integer counts', gauge(3000, 2, (_i, r) => Math.round(3 + 2 * r.normal()), [[2000, 2100]])],
        ['a constant from the start', gauge(3000, 3, () => 45)],
        ['a counter that stops for 3 hours', gauge(3000, 4, (i) => 1e6 + 1000 * (i < 2000 ? i : i < 2180 ? 2000 : i - 180) + (i % 7))],
        ['a noisy gauge at 0 for an hour', gauge(3000, 5, (i, r) => (i >= 2000 && i < 2060 ? 0 : cpu(i, r)))],
        ['used bytes that grow by day and rest by night', gauge(4000, 6, (i) => 1e9 + 1e4 * Math.min(i % 1440, 1080) + 2e5 * Math.floor(i / 1440) + (i % 1440 < 1080 ? i % 3 : 0))],
      ];
      for (const [name, v] of cases) {
        const hits = run(v).filter((x) => x.reason === 'stuck');
        assert.equal(hits.length, 0, name);
      }
    });

    it('stuckMinutes sets how long a repeat must last (0 turns it off); at least 6 points at coarse sampling', () => {
      const v = gauge(3000, 7, cpu, [[2000, 2060]]);
      assert.deepEqual(run(v, { stuckMinutes: 30 }).flatMap((x, i) => (x.reason === 'stuck' ? [i] : [])), [2029]);
      assert.equal(run(v, { stuckMinutes: 0 }).filter((x) => x.reason === 'stuck').length, 0);
      assert.deepEqual(run(v, { stuckMinutes: 1 }).flatMap((x, i) => (x.reason === 'stuck' ? [i] : [])), [2005]);
      assert.throws(() => fresh({ stuckMinutes: -1 }), /stuckMinutes/);
    });

    it('a series that freezes every night is reported the first night, then it is its habit', () => {
      const nights: [number, number][] = [];
      for (let d = 1; d < 6; d++) nights.push([d * 1440 + 60, d * 1440 + 240]);
      const hits = run(gauge(6 * 1440, 8, cpu, nights)).flatMap((x, i) => (x.reason === 'stuck' ? [i] : []));
      assert.deepEqual(hits, [1440 + 69]);
    });

    it('in the default profile the models skip a stuck stretch: nothing is reported when it moves again', () => {
      // Before, novelty learned the frozen value as the new normal (its spread collapsed) and
      // reported the return of ordinary noise as news, and the freeze itself went unreported.
      for (const seed of [9, 10, 11]) {
        const v = gauge(5 * 1440, seed, cpu, [[4 * 1440 + 600, 4 * 1440 + 720]]);
        const set = createDetectorSet(DEFAULT_PROFILE);
        const st = set.init();
        const out = newFusedVerdict();
        const reports: string[] = [];
        const ongoing: number[] = [];
        v.forEach((x, i) => {
          set.update(st, i * MIN, x, out);
          if (i > 1440 && out.score >= 0.9) reports.push(`${i} ${out.sources[0]}:${out.reasons[0]}`);
          if (out.ongoing) ongoing.push(i);
        });
        assert.deepEqual(reports, [`${4 * 1440 + 609} no_data:stuck`], `seed ${seed}`);
        assert.equal(ongoing[0], 4 * 1440 + 609);
        assert.ok(ongoing.includes(4 * 1440 + 719) && !ongoing.includes(4 * 1440 + 720), `ongoing ${ongoing[0]}..${ongoing[ongoing.length - 1]}`);
      }
    });
  });
});
