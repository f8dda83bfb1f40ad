import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, doubles } from './prng.ts';
import { DAY_MS, PF, PROFILE_SCALARS, type ProfileOptions, profileDriftInflation, profileInit, profileLearn, profilePredict, profileScale, profileTableSize } from './profile.ts';

const OPTS: ProfileOptions = { dailyBuckets: 96, weekly: true, levelPoints: 32, driftPoints: 256, profileDays: 3, profileWeeks: 2, clip: 4, relevel: 12 };
const STEP = 5 * 60_000;
const PER_DAY = DAY_MS / STEP;
const T0 = Date.UTC(2026, 0, 5); // a Monday

/** Daily cycle, a weekend at 75% easing over a few hours, 10% growth per week. */
function truth(i: number): number {
  const day = (i * STEP) / DAY_MS;
  const w = day % 7;
  const weekend = w < 4.9 ? 0 : w < 5.1 ? (w - 4.9) / 0.2 : w < 6.9 ? 1 : (7 - w) / 0.1 > 1 ? 1 : (7 - w) / 0.1;
  return (100 + 1.4 * day) * (1 - 0.25 * weekend) * (1 + 0.3 * Math.sin(2 * Math.PI * day));
}

function run(values: (i: number) => number, n: number, opts = OPTS) {
  const f = doubles(PROFILE_SCALARS);
  const p = new Float32Array(profileTableSize(opts));
  profileInit(f, 0, p, opts);
  const expected = new Float64Array(n);
  const slow = new Float64Array(n);
  const scale = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = T0 + i * STEP;
    profilePredict(f, 0, p, t);
    expected[i] = f[PF.EXPECTED];
    slow[i] = f[PF.SLOW_EXPECTED];
    scale[i] = f[PF.SCALE];
    profileLearn(f, 0, p, t, values(i));
  }
  return { f, p, expected, slow, scale };
}

function meanRelError(a: Float64Array, from: number, to: number): number {
  let err = 0;
  for (let i = from; i < to; i++) err += Math.abs(a[i] - truth(i)) / truth(i);
  return err / (to - from);
}

describe('seasonal profile', () => {
  it('learns daily + weekly seasonality with growth: week 3 predicted within 2% on average, slow reference within 3%', () => {
    const r = new Rng(1);
    const n = 21 * PER_DAY;
    const { expected, slow, f } = run((i) => truth(i) * (1 + 0.02 * r.normal()), n);
    assert.ok(meanRelError(expected, 14 * PER_DAY, n) < 0.02, `fast ${meanRelError(expected, 14 * PER_DAY, n)}`);
    assert.ok(meanRelError(slow, 14 * PER_DAY, n) < 0.03, `slow ${meanRelError(slow, 14 * PER_DAY, n)}`);
    assert.equal(f[PF.SEL], 2, 'the weekly candidate is in use');
  });

  it('uses the plain level on a series with no seasonality', () => {
    const r = new Rng(2);
    const { f, expected } = run(() => 50 + 2 * r.normal(), 4 * PER_DAY);
    assert.equal(f[PF.SEL], 0);
    assert.ok(Math.abs(expected[4 * PER_DAY - 1] - 50) < 1.5);
  });

  it('scales with a change of unit: scaling the state equals learning scaled data', () => {
    const r1 = new Rng(2);
    const r2 = new Rng(2);
    const n = 3 * PER_DAY;
    const a = run((i) => truth(i) + r1.normal(), n);
    const b = run((i) => 1000 * (truth(i) + r2.normal()), n);
    profileScale(a.f, 0, a.p, 1000);
    for (const k of [PF.FAST, PF.SPREAD, PF.EXPECTED, PF.SCALE, PF.SLOW_EXPECTED]) {
      assert.ok(Math.abs(a.f[k] - b.f[k]) <= 1e-4 * Math.abs(b.f[k]), `slot ${k}: ${a.f[k]} vs ${b.f[k]}`);
    }
    for (let i = 0; i < a.p.length; i++) {
      if (Number.isNaN(b.p[i])) assert.ok(Number.isNaN(a.p[i]), `bucket ${i}`);
      else assert.ok(Math.abs(a.p[i] - b.p[i]) <= 1e-3 * Math.max(1, Math.abs(b.p[i])), `bucket ${i}: ${a.p[i]} vs ${b.p[i]}`);
    }
  });

  it('a single spike barely moves the prediction (clipped learning)', () => {
    const n = 3 * PER_DAY;
    const series = (spike: boolean) => {
      const r = new Rng(4);
      return (i: number) => (spike && i === n - 2 ? 1e6 : 100 + r.normal());
    };
    const clean = run(series(false), n);
    const spiked = run(series(true), n);
    const moved = Math.abs(spiked.expected[n - 1] - clean.expected[n - 1]);
    assert.ok(moved <= (OPTS.clip * clean.scale[n - 2]) / OPTS.levelPoints + 1e-6, `moved ${moved}`);
  });

  it('relevels after a sustained shift, but not during a drop to zero', () => {
    const r = new Rng(5);
    const shift = run((i) => (i < 2 * PER_DAY ? 100 : 300) + r.normal(), 2 * PER_DAY + 40);
    assert.ok(Math.abs(shift.expected[2 * PER_DAY + 39] - 300) < 10, `after shift ${shift.expected[2 * PER_DAY + 39]}`);
    const r2 = new Rng(5);
    const zero = run((i) => (i < 2 * PER_DAY ? 100 + r2.normal() : 0), 2 * PER_DAY + 40);
    assert.ok(zero.expected[2 * PER_DAY + 39] > 50, `after drop ${zero.expected[2 * PER_DAY + 39]}`);
  });

  it('rates white noise as not inflated, a slowly wandering residual as inflated', () => {
    const r = new Rng(6);
    const white = run(() => 100 + 2 * r.normal(), 6 * PER_DAY, { ...OPTS, weekly: false });
    assert.ok(profileDriftInflation(white.f, 0) < 1.3, `white ${profileDriftInflation(white.f, 0)}`);
    let walk = 0;
    const r2 = new Rng(7);
    const wander = run(() => 100 + (walk += 0.3 * r2.normal()) + r2.normal(), 6 * PER_DAY, { ...OPTS, weekly: false });
    assert.ok(profileDriftInflation(wander.f, 0) > 1.5, `wander ${profileDriftInflation(wander.f, 0)}`);
  });

  it('predicts NaN before the first point and the first value after it', () => {
    const f = doubles(PROFILE_SCALARS);
    const p = new Float32Array(profileTableSize(OPTS));
    profileInit(f, 0, p, OPTS);
    profilePredict(f, 0, p, T0);
    assert.ok(Number.isNaN(f[PF.EXPECTED]));
    profileLearn(f, 0, p, T0, 42);
    profilePredict(f, 0, p, T0 + STEP);
    assert.equal(f[PF.EXPECTED], 42);
  });

  it('sizes its table as 2 x dailyBuckets (+ 168 weekly)', () => {
    assert.equal(profileTableSize({ ...OPTS, weekly: false, dailyBuckets: 24 }), 48);
    assert.equal(profileTableSize(OPTS), 96 * 2 + 168);
  });
});
