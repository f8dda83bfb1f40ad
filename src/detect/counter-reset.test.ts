import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../series/index.ts';
import { counterReset } from './counter-reset.ts';
import { MINUTE, type Series, T0, maxIn, runDetector, runSet, seasonal } from './testkit.ts';
import type { Conditioning } from './types.ts';
import { newVerdict } from './types.ts';

/** A request counter (rate about 50/s with a daily cycle), restarting from 0 at `resets`. */
function counter(n: number, resets: number[], seed = 1): Series {
  const r = new Rng(seed);
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  let total = 1e6;
  for (let i = 0; i < n; i++) {
    t[i] = T0 + i * MINUTE;
    const rate = 50 * (1 + 0.3 * Math.sin((2 * Math.PI * i) / 1440));
    total += Math.max(0, Math.round(rate * 60 * (1 + 0.05 * r.normal())));
    if (resets.includes(i)) total = Math.round(rate * 20); // restarted 20 s before the scrape
    v[i] = total;
  }
  return { t, v };
}

describe('counter_reset', () => {
  it('reports the reset of a counter, and only that point', () => {
    const s = counter(3000, [2000]);
    const r = runDetector('counter_reset', {}, s);
    assert.equal(r.reasons[2000], 'counter_reset');
    assert.equal(r.scores[2000], 0.9);
    for (let i = 40; i < 3000; i++) if (i !== 2000) assert.equal(r.scores[i], 0, `point ${i}`);
  });

  it('a restart every night is routine after the first few; one after a quiet week is news again', () => {
    // 1-minute points: restarts at 03:00 on days 1-10, then none until day 20.
    const nightly = Array.from({ length: 10 }, (_, d) => (d + 1) * 1440 + 180);
    const s = counter(22 * 1440, [...nightly, 20 * 1440 + 180]);
    const r = runDetector('counter_reset', {}, s);
    const reported = nightly.filter((i) => r.scores[i] === 0.9);
    // Decayed over a week, the nightly restarts reach 2.5 by the fifth night.
    assert.deepEqual(reported, nightly.slice(0, 4));
    for (const i of nightly) assert.ok(r.reasons[i] === 'counter_reset' || r.scores[i] === 0, `day ${(i / 1440).toFixed(2)}`);
    assert.equal(r.reasons[20 * 1440 + 180], 'counter_reset');
  });

  it('never fires on a gauge, however it moves', () => {
    const r = runDetector('counter_reset', {}, seasonal({ days: 5, seed: 3 }));
    assert.equal(maxIn(r.scores, 0).max, 0);
  });

  it('never fires on a smooth gauge that rose through its whole learning window (its first small drops are no restarts)', () => {
    // A noiseless daily cycle at 5 minutes rises for 72 points, so it is learned as a counter;
    // its first steps down are small, not back towards 0. Before, the first two were reported
    // as counter_reset (score 0.9) until the third made it a gauge.
    const n = 3 * 288;
    const s = { t: new Float64Array(n), v: new Float64Array(n) };
    for (let i = 0; i < n; i++) {
      s.t[i] = T0 + i * 5 * MINUTE;
      s.v[i] = 1000 * (1 + 0.4 * Math.sin((2 * Math.PI * i) / 288));
    }
    const r = runDetector('counter_reset', {}, s);
    assert.equal(maxIn(r.scores, 0).max, 0);
    assert.ok(!r.reasons.includes('counter_reset'));
  });

  it('never fires on small counts that often drop to 0 (errors per interval)', () => {
    const r = new Rng(7);
    const n = 3000;
    const t = new Float64Array(n);
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      t[i] = T0 + i * MINUTE;
      // Mostly 0, sometimes 1-3: every drop halves or more, as a restart would.
      v[i] = r.next() < 0.3 ? 1 + r.int(3) : 0;
    }
    const res = runDetector('counter_reset', {}, { t, v });
    assert.equal(maxIn(res.scores, 0).max, 0);
  });

  it('a "counter" that restarts again within learnPoints points is a gauge: models relearn', () => {
    const st = counterReset.init(counterReset.parseConfig({ mode: 'counter' }, 'd'));
    const c: Conditioning = { value: NaN, factor: 1, relearn: false };
    const values = [100, 110, 120, 0, 10, 20, 0];
    const scores: number[] = [];
    let relearnAt = -1;
    values.forEach((x, i) => {
      c.relearn = false;
      scores.push(counterReset.update(st, i * 1000, x, newVerdict()).score);
      counterReset.condition!(st, c);
      if (c.relearn) relearnAt = i;
    });
    assert.equal(scores[3], 0.9, 'the first restart is reported');
    assert.equal(relearnAt, 6);
    assert.equal(scores[6], 0);
  });

  it("in 'counter' mode judges from the second point; the score is configurable", () => {
    const s = counter(50, [10]);
    const r = runDetector('counter_reset', { mode: 'counter', score: 0.95 }, s);
    assert.equal(r.reasons[10], 'counter_reset');
    assert.equal(r.scores[10], 0.95);
  });

  it('hands a set its per-second rate, and skips the reset point', () => {
    const st = counterReset.init(counterReset.parseConfig({ mode: 'counter' }, 'd'));
    const c: Conditioning = { value: NaN, factor: 1, relearn: false };
    const feed = (t: number, v: number) => {
      counterReset.update(st, t, v, newVerdict());
      counterReset.condition!(st, c);
      return c.value;
    };
    assert.ok(Number.isNaN(feed(0, 1000)));
    assert.equal(feed(10_000, 1500), 50);
    assert.ok(Number.isNaN(feed(20_000, 200)), 'the reset point');
    assert.equal(feed(30_000, 700), 50);
  });

  it('in the default set, a restart is a counter_reset event and no anomaly in the rate', () => {
    const s = counter(4 * 1440, [3 * 1440 + 100]);
    const r = runSet(undefined, s);
    const at = 3 * 1440 + 100;
    assert.equal(r.reasons[at], 'counter_reset');
    assert.equal(r.scores[at], 0.9);
    // After it, the set judges the rate exactly as if the process had never restarted.
    const clean = runSet(undefined, counter(4 * 1440, []));
    const after = maxIn(r.scores, at + 1, at + 300);
    const same = maxIn(clean.scores, at + 1, at + 300);
    assert.ok(after.max < 0.9, `after the reset: ${after.max} (${r.reasons[after.at]})`);
    assert.ok(Math.abs(after.max - same.max) < 0.05, `after the reset ${after.max}, without one ${same.max}`);
  });

  it('in the default set, a restart whose fall looks like a unit factor (1e6 -> 1e3) is no unit change: unit_change judges the rate', () => {
    // A slow counter (about 100 a minute) whose total is 1e6 when the process restarts from
    // 700: its first points after the restart are ~1/1000 of the total before, for longer than
    // unit_change's `persist` points. The models see the rate, which did not change; rescaling
    // them by 1/1000 would wreck every baseline (novelty's band, weekly_shift's table).
    const r = new Rng(3);
    const n = 5 * 1440;
    const at = 4 * 1440;
    const t = new Float64Array(n);
    const v = new Float64Array(n);
    let total = 1e6 - at * 100;
    for (let i = 0; i < n; i++) {
      t[i] = T0 + i * MINUTE;
      if (i === at) total = 700;
      else total += Math.max(0, Math.round(100 * (1 + 0.2 * Math.sin((2 * Math.PI * i) / 1440)) * (1 + 0.05 * r.normal())));
      v[i] = total;
    }
    const run = runSet(undefined, { t, v });
    assert.equal(run.reasons[at], 'counter_reset');
    for (let i = at + 1; i < n; i++) assert.notEqual(run.reasons[i], 'unit_change', `point ${i - at} after the restart`);
    const after = maxIn(run.scores, at + 1, n);
    assert.ok(after.max < 0.9, `after the restart: ${after.max} (${run.reasons[after.at]}, point ${after.at - at})`);
    // The band stays on the rate's scale (about 100 a minute, 1.67/s).
    const e = run.expected[at + 300];
    assert.ok(e > 1 && e < 3, `expected rate 300 points after the restart: ${e}`);
  });

  it('a "counter" that keeps stepping down a little is a gauge after all: models relearn on raw values', () => {
    const st = counterReset.init(counterReset.parseConfig({ mode: 'counter' }, 'd'));
    const c: Conditioning = { value: NaN, factor: 1, relearn: false };
    const values = [100, 110, 105, 120, 118, 130, 127];
    let relearnAt = -1;
    const out = newVerdict();
    values.forEach((v, i) => {
      c.relearn = false;
      counterReset.update(st, i * 1000, v, out);
      assert.equal(out.score, 0, `point ${i}: a small drop is no restart`);
      counterReset.condition!(st, c);
      if (c.relearn) relearnAt = i;
    });
    assert.equal(relearnAt, 6);
    assert.equal(c.value, 127);
  });
});
