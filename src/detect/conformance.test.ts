// What every detector must do, run over the whole registry: stay quiet on clean seasonal
// noise with trend, and give identical verdicts after a checkpoint round trip mid-stream.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectorNames } from './registry.ts';
import { DEFAULT_PROFILE, createDetectorSet } from './fusion.ts';
import { newFusedVerdict } from './types.ts';
import { Rng } from '../series/index.ts';
import { HOUR, MINUTE, type Series, T0, at, checkpointDivergence, copy, maxIn, runDetector, runSet, seasonal } from './testkit.ts';

/** A config for each detector as an operator would write it for this data. */
const CONFIGS: Record<string, unknown> = {
  threshold: { above: 400, below: 5 },
  rate_of_change: { maxRelative: 0.5 },
  impossible_value: { nonNegative: true },
};

/**
 * Configs that depend on the data's step. Drift compares whole distributions, so on a
 * seasonal series its window must span whole seasons: a week against the week before.
 */
const BY_STEP: Record<string, (stepMs: number) => unknown> = {
  drift: (step) => {
    const week = Math.round((7 * 24 * HOUR) / step);
    // +10%/week growth moves the distribution a little every week by design: not worth a look.
    return { window: week, baseline: week, minBaseline: week, every: Math.max(1, Math.round(week / 16)), minEffect: 0.3 };
  },
};

function configFor(name: string, s: Series): unknown {
  const f = BY_STEP[name];
  return f ? f(s.t[1] - s.t[0]) : CONFIGS[name];
}

/** The alert threshold the quiet test holds detectors to: 0.9 is "clearly anomalous". */
const ALERT = 0.9;

/** Clean data: daily cycle, weekend dip, +10%/week growth, 3% noise. Judged after a week. */
const CLEAN: { name: string; series: Series }[] = [
  { name: '5-minute points, 3 weeks', series: seasonal({ days: 21, seed: 11 }) },
  { name: 'hourly points, 8 weeks', series: seasonal({ days: 56, seed: 12, step: HOUR }) },
  { name: '1-minute points, 2 weeks, 2% noise', series: seasonal({ days: 14, seed: 13, step: MINUTE, noise: 0.02 }) },
];

describe('every detector stays quiet on clean seasonal noise with trend', () => {
  for (const name of detectorNames()) {
    for (const c of CLEAN) {
      it(`${name}: ${c.name}`, () => {
        const r = runDetector(name, configFor(name, c.series), c.series);
        const { max, at: where } = maxIn(r.scores, at(c.series, 8));
        assert.ok(max < ALERT, `score ${max.toFixed(3)} (${r.reasons[where]}) at point ${where}`);
      });
    }
  }

  it('the default profile too', () => {
    for (const c of CLEAN) {
      const r = runSet(undefined, c.series);
      const { max, at: where } = maxIn(r.scores, at(c.series, 8));
      assert.ok(max < ALERT, `${c.name}: score ${max.toFixed(3)} (${r.reasons[where]}) at point ${where}`);
    }
  });
});

/** 5-minute series of the shapes clean metrics take, each with the number of alerts it may raise. */
function shapes(): { name: string; s: Series; allowed: number }[] {
  const r = new Rng(5);
  const day = 288;
  const make = (days: number, f: (i: number) => number, t: (i: number) => number = (i) => T0 + i * 5 * MINUTE): Series => {
    const n = days * day;
    const s = { t: new Float64Array(n), v: new Float64Array(n) };
    for (let i = 0; i < n; i++) {
      s.t[i] = t(i);
      s.v[i] = f(i);
    }
    return s;
  };
  const cycle = (i: number) => Math.sin((2 * Math.PI * i) / day);
  return [
    { name: 'a noiseless daily cycle from its low (learned as a counter first)', s: make(21, (i) => 1000 * (1 + 0.4 * cycle(i))), allowed: 0 },
    { name: 'a daily sawtooth (a counter reset every night): its first restarts only', s: make(21, (i) => 20 + 60 * ((i % day) / day)), allowed: 4 },
    { name: 'pods, 3 to 5', s: make(21, (i) => 3 + Math.round(1 + cycle(i) + (r.next() < 0.05 ? 1 : 0))), allowed: 0 },
    { name: 'a constant', s: make(21, () => 42), allowed: 0 },
    { name: 'a percentage whose noise does not shrink with it', s: make(21, (i) => Math.min(100, Math.max(0, 50 + 30 * cycle(i) + 5 * r.normal()))), allowed: 0 },
    { name: 'a gauge growing 0.2% a day, 1% noise', s: make(21, (i) => 500 * (1 + 0.002 * (i / day)) * (1 + 0.2 * cycle(i)) * (1 + 0.01 * r.normal())), allowed: 0 },
    { name: 'lognormal latency', s: make(21, (i) => Math.exp(Math.log(120) + 0.3 * r.normal()) * (1 + 0.3 * cycle(i))), allowed: 1 },
    { name: 'a batch job tripling the load at 02:00 every night', s: make(28, (i) => 500 * (1 + 0.3 * cycle(i)) * (1 + 0.02 * r.normal()) * (i % day >= 24 && i % day < 30 ? 3 : 1)), allowed: 0 },
    { name: 'disk usage growing half a percent a day', s: make(28, (i) => 40 + 0.5 * (i / day) + 0.2 * r.normal()), allowed: 0 },
    { name: 'timestamps jittered by up to a minute', s: make(21, (i) => 500 * (1 + 0.3 * cycle(i)) * (1 + 0.02 * r.normal()), (i) => T0 + i * 5 * MINUTE + Math.round(r.next() * 60_000)), allowed: 0 },
    { name: 'an hourly cron job tripling the point on the hour', s: make(21, (i) => 500 * (1 + 0.3 * cycle(i)) * (1 + 0.02 * r.normal()) * (i % 12 === 0 ? 3 : 1)), allowed: 0 },
    { name: 'a heap sawtooth, collected every 20 minutes', s: make(21, (i) => 500 + 300 * ((i % 4) / 4) + 10 * r.normal()), allowed: 0 },
    { name: 'bimodal latency, one point in ten on the slow path', s: make(21, (i) => (r.next() < 0.1 ? 250 : 50) + 5 * r.normal()), allowed: 0 },
    { name: 'capacity in steps of whole instances following the load', s: make(21, (i) => 2 * Math.ceil(3 * (1 + 0.5 * cycle(i))) + 0.1 * r.normal()), allowed: 0 },
    // The first night novelty watches (day 1: it keeps this time of day from its eleventh hour on) is news; the next 19 are routine.
    { name: 'replicas scaled to zero from 01:00 to 06:00 every night', s: make(21, (i) => (i % day >= 12 && i % day < 72 ? 0 : 2 + Math.round(2 * (1 + cycle(i))))), allowed: 1 },
    {
      name: 'errors, Poisson at 0.2 a point',
      s: make(21, () => {
        let k = 0;
        let p = Math.exp(-0.2);
        let c = p;
        const u = r.next();
        while (u > c) {
          p *= 0.2 / ++k;
          c += p;
        }
        return k;
      }),
      allowed: 0,
    },
  ];
}

describe('the default profile on the shapes clean metrics take', () => {
  for (const c of shapes()) {
    it(c.name, () => {
      const r = runSet(undefined, c.s);
      const alerts: string[] = [];
      for (let i = 0; i < r.scores.length; i++) if (r.scores[i] >= ALERT) alerts.push(`${r.reasons[i]} at day ${(i / 288).toFixed(2)}`);
      assert.ok(alerts.length <= c.allowed, alerts.join(', '));
    });
  }
});

/** Seasonal data with a spike, a gap of NaN points, a level shift and a counter-like stretch. */
function busy(): Series {
  const s = copy(seasonal({ days: 9, seed: 21 }));
  const n = s.v.length;
  s.v[Math.floor(n * 0.3)] *= 4;
  for (let i = Math.floor(n * 0.5); i < Math.floor(n * 0.5) + 30; i++) s.v[i] = NaN;
  for (let i = Math.floor(n * 0.7); i < n; i++) s.v[i] *= 1.8;
  s.v[Math.floor(n * 0.8)] = Infinity;
  return s;
}

describe('checkpoint and restore mid-stream gives identical verdicts', () => {
  const s = busy();
  const splits = [
    { name: 'while learning', at: 50 },
    { name: 'after a day', at: at(s, 1.2) },
    { name: 'after the spike, before the gap', at: at(s, 4) },
    { name: 'inside the gap', at: Math.floor(s.v.length * 0.5) + 10 },
    { name: 'inside the level shift', at: Math.floor(s.v.length * 0.7) + 5 },
  ];
  for (const name of detectorNames()) {
    it(name, () => {
      for (const split of splits) {
        const diverged = checkpointDivergence(name, configFor(name, s), s, split.at);
        assert.equal(diverged, -1, `split ${split.name}: first differing verdict at point ${diverged}`);
      }
    });
  }

  it('the default profile as a set', () => {
    for (const split of splits) {
      const diverged = checkpointDivergence(undefined, DEFAULT_PROFILE, s, split.at);
      assert.equal(diverged, -1, `split ${split.name}: first differing verdict at point ${diverged}`);
    }
  });

  it('a set holding every detector', () => {
    const entries = detectorNames().map((name) => (CONFIGS[name] === undefined ? { name } : { name, config: CONFIGS[name] }));
    for (const split of splits) {
      const diverged = checkpointDivergence(undefined, entries, s, split.at);
      assert.equal(diverged, -1, `split ${split.name}: first differing verdict at point ${diverged}`);
    }
  });

  it('holt_winters across the end of its warm-up (buffer to season table)', () => {
    const hw = seasonal({ days: 5, seed: 22 });
    for (const split of [at(hw, 2.9), at(hw, 3.1)]) assert.equal(checkpointDivergence('holt_winters', {}, hw, split), -1);
  });
});

describe('a set gives the same verdicts with its detectors in one region or in states of their own', () => {
  // Both layouts of the default profile over data that exercises every path: learning, a
  // spike, a gap, a level shift, an infinity, a unit change (models rescale) and a counter
  // with restarts (models see its rate, and relearn when it turns out to be a gauge).
  const unit = copy(seasonal({ days: 6, seed: 23 }));
  for (let i = Math.floor(unit.v.length * 0.6); i < unit.v.length; i++) unit.v[i] *= 1000;
  const counter = copy(seasonal({ days: 3, seed: 24 }));
  let total = 0;
  for (let i = 0; i < counter.v.length; i++) {
    total = i % 500 === 499 ? 0 : total + counter.v[i];
    counter.v[i] = total;
  }
  const cases = [
    { name: 'busy seasonal data', s: busy() },
    { name: 'a unit change', s: unit },
    { name: 'a counter with restarts', s: counter },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const region = createDetectorSet(DEFAULT_PROFILE);
      const apart = createDetectorSet(DEFAULT_PROFILE, { region: false });
      const a = region.init();
      const b = apart.init();
      assert.ok(a instanceof Float64Array && Array.isArray(b));
      const oa = newFusedVerdict();
      const ob = newFusedVerdict();
      for (let i = 0; i < c.s.v.length; i++) {
        region.update(a, c.s.t[i], c.s.v[i], oa);
        apart.update(b, c.s.t[i], c.s.v[i], ob);
        if (i % 97 === 0) {
          region.tick!(a, c.s.t[i] + 3_600_000, oa);
          apart.tick!(b, c.s.t[i] + 3_600_000, ob);
        }
        assert.deepEqual([oa.score, oa.expected, oa.lower, oa.upper, oa.learning, oa.reasons, oa.sources], [ob.score, ob.expected, ob.lower, ob.upper, ob.learning, ob.reasons, ob.sources], `point ${i}`);
      }
    });
  }

  it('models held and put back (a maintenance window excluded from learning)', () => {
    const s = busy();
    const sets = [createDetectorSet(), createDetectorSet(undefined, { region: false })];
    const outs = sets.map((set) => {
      const st = set.init();
      const out = newFusedVerdict();
      const scores: number[] = [];
      let saved: unknown = null;
      for (let i = 0; i < s.v.length; i++) {
        if (i === 1500) saved = set.saveModels!(st);
        if (i === 1700) set.restoreModels!(st, saved);
        scores.push(set.update(st, s.t[i], s.v[i], out).score);
      }
      return scores;
    });
    assert.deepEqual(outs[0], outs[1]);
  });
});
