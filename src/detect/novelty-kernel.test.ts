import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Rng, TAIL_BINS, TAIL_BW, arenaBytesInUse, inArena, slabDoubles } from '../series/index.ts';
import { detectKernels, kernelsStatus } from './kernels.ts';
import { createDetectorSet } from './fusion.ts';
import { restoreState, snapshotState } from './state.ts';
import { DAY, MINUTE, T0, counts } from './testkit.ts';
import type { DetectorEntry, FusedVerdict } from './types.ts';
import { newFusedVerdict } from './types.ts';

/**
 * Novelty's steady state runs compiled (asm/novelty.ts) for states in the arena and in JS for
 * states anywhere else; the two must agree to the bit, verdicts and state bytes alike, or a
 * checkpoint restored into another buffer would judge differently from the live series.
 */

interface Stream {
  t: number[];
  v: number[];
}

/** A 5-minute stream with a daily cycle and what real metrics do: spikes, outages, gaps, NaN, out-of-order and duplicate timestamps, ties, a level shift, negative values. */
function stream(seed: number, days: number, opts: { level?: number; step?: number; round?: boolean; negative?: boolean } = {}): Stream {
  const r = new Rng(seed);
  const step = opts.step ?? 5 * MINUTE;
  const n = Math.round((days * DAY) / step);
  const level = opts.level ?? 1000;
  const t: number[] = [];
  const v: number[] = [];
  let shift = 1;
  for (let i = 0; i < n; i++) {
    let ts = T0 + i * step;
    const u = r.next();
    if (u < 0.01) continue; // a gap
    if (u < 0.012) ts -= 3 * step; // out of order
    if (u < 0.014 && i > 0) ts = t[t.length - 1]; // the same timestamp again
    if (i === Math.round(n * 0.7)) shift = 1.8;
    let x = level * shift * (1 + 0.4 * Math.sin((2 * Math.PI * (ts - T0)) / DAY)) * (1 + 0.05 * r.normal());
    const a = r.next();
    if (a < 0.003) x *= 6;
    else if (a < 0.005) x = 0;
    else if (a < 0.006) x = NaN;
    else if (a < 0.0065) x = Infinity;
    if (opts.round) x = Math.round(x / 50) * 50;
    if (opts.negative) x -= 1.5 * level;
    t.push(ts);
    v.push(x);
  }
  return { t, v };
}

/** `stream` at 1 minute with the value stuck (repeated exactly) for 40 minutes on day 4 and 3 hours on day 5, and a short repeat of 4. */
function stuckExporter(seed: number, days: number): Stream {
  const s = stream(seed, days, { step: MINUTE });
  const hold = (from: number, n: number) => {
    const i = s.t.findIndex((t) => t >= T0 + from);
    for (let k = i + 1; k < i + n && k < s.v.length; k++) s.v[k] = s.v[i];
  };
  hold(4 * DAY + 9 * 3_600_000, 40);
  hold(5 * DAY + 14 * 3_600_000, 180);
  hold(5 * DAY + 20 * 3_600_000, 4);
  return s;
}

/** `stream` with weekends at a fifth of weekdays, sharp at midnight (novelty's weekly echoes). */
function businessWeek(seed: number, days: number): Stream {
  const s = stream(seed, days);
  return { t: s.t, v: s.v.map((x, i) => (Math.floor((s.t[i] - T0) / DAY) % 7 >= 5 ? 0.2 * x : x)) };
}

/** Pareto noise (index 2.5) at 1 minute, a GC pause's maximum: novelty judges records by the tail's own decay. */
function heavyTail(seed: number, days: number): Stream {
  const r = new Rng(seed);
  const t: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < days * 1440; i++) {
    t.push(T0 + i * MINUTE);
    v.push(5 * Math.pow(1 - r.next(), -1 / 2.5) * (i === days * 1000 ? 40 : 1));
  }
  return { t, v };
}

/** A monotonic counter of a seasonal rate, with restarts (back to near 0) every few days. */
function counter(seed: number, days: number): Stream {
  const r = new Rng(seed);
  const s = stream(seed, days);
  let total = 0;
  const v = s.v.map((x, i) => {
    if (r.next() < 0.0008) total = 0; // a restart
    if (Number.isFinite(x)) total += x * (i % 2 === 0 ? 1 : 1.01);
    return total;
  });
  return { t: s.t, v };
}

/** `stream`, then from `at` (a fraction of it) every value times `factor`; and a silence of `gapHours` at 0.4. */
function changed(seed: number, days: number, at: number, factor: number, gapHours = 0, step = 5 * MINUTE): Stream {
  const s = stream(seed, days, { step });
  const cut = Math.round(s.t.length * at);
  const gap = Math.round(s.t.length * 0.4);
  const t = s.t.map((x, i) => (i >= gap ? x + gapHours * 60 * MINUTE : x));
  return { t, v: s.v.map((x, i) => (i >= cut ? x * factor : x)) };
}

/** A clean daily cycle of `perDay` points a day and `noise`, times `factor(i)` at point i. */
function daily(seed: number, days: number, perDay: number, noise: number, factor: (i: number, n: number) => number): Stream {
  const r = new Rng(seed);
  const n = days * perDay;
  const t: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < n; i++) {
    t.push(T0 + i * (DAY / perDay));
    v.push(1000 * factor(i, n) * (1 + 0.4 * Math.sin((2 * Math.PI * i) / perDay)) * (1 + noise * r.normal()));
  }
  return { t, v };
}

/** A 1-minute daily cycle (5% noise) that drops to `factor` of itself from `at` (a fraction of it) on. */
function drop(seed: number, days: number, at: number, factor: number): Stream {
  return daily(seed, days, 1440, 0.05, (i, n) => (i > at * n ? factor : 1));
}

/** A 5-minute daily cycle (2% noise) that drifts up by `perDay` (a fraction) a day from `at` (a fraction of it) on. */
function ramp(seed: number, days: number, at: number, perDay: number): Stream {
  return daily(seed, days, 288, 0.02, (i, n) => (i > at * n ? 1 + (perDay * (i - at * n)) / 288 : 1));
}

/** Error counts (testkit's `counts`) with a burst of 6-25 errors at a random point of every 1,000. */
function bursts(seed: number, days: number, step = MINUTE): Stream {
  const r = new Rng(seed);
  const s = counts(days, seed, 3, 0.03, step);
  return { t: Array.from(s.t), v: Array.from(s.v, (x) => (r.next() < 0.001 ? 6 + r.int(20) : x)) };
}

/** A 5-minute daily cycle (2% noise), 4% lower from day 2.5, and a holiday (x0.7 on day 9, blending in and out over the half days around it). */
function holiday(seed: number, days: number): Stream {
  return daily(seed, days, 288, 0.02, (i) => {
    const d = i / 288;
    const w = d < 8.5 || d >= 10.5 ? 0 : d < 9 ? (d - 8.5) * 2 : d < 10 ? 1 : (10.5 - d) * 2;
    return (d >= 2.5 ? 0.96 : 1) * (1 - 0.3 * w);
  });
}

/** A 5-minute daily cycle whose noise does not shrink with its level: 50 +- 30, +- 5 (a percentage). */
function additive(seed: number, days: number): Stream {
  const r = new Rng(seed);
  const t: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < days * 288; i++) {
    t.push(T0 + i * 5 * MINUTE);
    v.push(50 + 30 * Math.sin((2 * Math.PI * i) / 288) + 5 * r.normal());
  }
  return { t, v };
}

/** A 5-minute daily cycle (3% noise) that goes to 0 for 1-40 points every 3-12 hours from day 3 on (outages that come back while the last is in the window). */
function outages(seed: number, days: number): Stream {
  const r = new Rng(seed);
  const s = daily(seed, days, 288, 0.03, () => 1);
  let next = 3 * 288;
  for (let i = 0; i < s.v.length; i++) {
    if (i < next) continue;
    const len = 1 + r.int(40);
    for (let k = i; k < Math.min(s.v.length, i + len); k++) s.v[k] = 0;
    next = i + len + 36 + r.int(108);
  }
  return s;
}

/** 1-minute Poisson counts at 1-10 a minute (a daily cycle) with runs of 1-20 zeros every 2-8 hours from day 2 on (outages of counts: a run long enough to be rare). */
function countOutages(seed: number, days: number): Stream {
  const r = new Rng(seed);
  const t: number[] = [];
  const v: number[] = [];
  let next = 2 * 1440;
  for (let i = 0; i < days * 1440; i++) {
    const mean = 5.5 + 4.5 * Math.sin((2 * Math.PI * i) / 1440);
    let k = 0;
    for (let p = r.next(), limit = Math.exp(-mean); p > limit; p *= r.next()) k++;
    t.push(T0 + i * MINUTE);
    v.push(k);
  }
  while (next < v.length) {
    const len = 1 + r.int(20);
    for (let k = next; k < Math.min(v.length, next + len); k++) v[k] = 0;
    next += len + 120 + r.int(360);
  }
  return { t, v };
}

/** errors / requests at 1%, 5-minute points, 200-1,000 requests an interval: some intervals at night without an error, and a 30-minute outage (0) on day 6. */
function errorRatio(seed: number, days: number): Stream {
  const r = new Rng(seed);
  const poisson = (mean: number) => {
    if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * r.normal()));
    let k = 0;
    for (let p = r.next(), limit = Math.exp(-mean); p > limit; p *= r.next()) k++;
    return k;
  };
  const t: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < days * 288; i++) {
    const h = (i % 288) / 12;
    const requests = poisson(1000 * (0.2 + 0.8 * Math.max(0, Math.sin((Math.PI * (h - 6)) / 16))));
    t.push(T0 + i * 5 * MINUTE);
    v.push(i >= 6 * 288 + 150 && i < 6 * 288 + 156 ? 0 : requests > 0 ? Math.round((poisson(requests * 0.01) / requests) * 1e4) / 1e4 : 0);
  }
  return { t, v };
}

/** Replicas (2-6, following a daily cycle) scaled to zero from 01:00 to 06:00 every night, and down at noon on day 5 for half an hour (zeros that are routine at night, an outage by day). */
function scaledToZero(seed: number, days: number): Stream {
  const r = new Rng(seed);
  const t: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < days * 288; i++) {
    const h = (i % 288) / 12;
    t.push(T0 + i * 5 * MINUTE);
    const down = (h >= 1 && h < 6) || (i >= 5 * 288 + 144 && i < 5 * 288 + 150);
    v.push(down ? 0 : 2 + Math.round(2 * (1 + Math.sin((2 * Math.PI * i) / 288)) + (r.next() < 0.05 ? 1 : 0)));
  }
  return { t, v };
}

/** The default profile's entries with one entry's config replaced. */
function profileWith(name: string, config: object): DetectorEntry[] {
  return ['impossible_value', 'no_data', 'counter_reset', 'unit_change', 'novelty', 'weekly_shift', 'new_level'].map((n) => (n === name ? { name: n, config } : { name: n }));
}

function same(a: FusedVerdict, b: FusedVerdict): boolean {
  return Object.is(a.score, b.score) && Object.is(a.expected, b.expected) && Object.is(a.lower, b.lower) && Object.is(a.upper, b.upper) && a.learning === b.learning && a.reasons.join() === b.reasons.join() && a.sources.join() === b.sources.join() && a.outside === b.outside && a.ongoing === b.ongoing;
}

function bytes(f: Float64Array): Uint8Array {
  return new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
}

/** Streams `s` through one state in the arena and a copy of it in an ArrayBuffer (the JS path); returns points compared, alerts, and the first difference. */
function compare(entries: DetectorEntry[] | undefined, s: Stream, restoreAt = -1): { points: number; alerts: number; diff: string } {
  const set = createDetectorSet(entries);
  let a = set.init() as Float64Array;
  let b = new Float64Array(a);
  assert.ok(inArena(a.buffer), 'a new state lives in the arena');
  assert.ok(!inArena(b.buffer));
  const va = newFusedVerdict();
  const vb = newFusedVerdict();
  let alerts = 0;
  for (let i = 0; i < s.t.length; i++) {
    if (i === restoreAt) {
      // A checkpoint restores into the arena (slabDoubles); its copy stays outside.
      a = restoreState(JSON.parse(JSON.stringify(snapshotState(a)))) as Float64Array;
      b = new Float64Array(a);
      assert.ok(inArena(a.buffer), 'a restored state lives in the arena');
    }
    set.update(a, s.t[i], s.v[i], va);
    set.update(b, s.t[i], s.v[i], vb);
    if (va.score >= 0.5) alerts++;
    if (!same(va, vb)) return { points: i, alerts, diff: `point ${i}: ${JSON.stringify(va)} vs ${JSON.stringify(vb)}` };
  }
  const ba = bytes(a);
  const bb = bytes(b);
  for (let k = 0; k < ba.length; k++) if (ba[k] !== bb[k]) return { points: s.t.length, alerts, diff: `state byte ${k}` };
  return { points: s.t.length, alerts, diff: '' };
}

/** What the set kernel (asm/set.ts) answered, counted over the cases below: 1 declined, 0 judged, 2 judged with a report. */
const setCodes = [0, 0, 0];
{
  const k = detectKernels();
  if (k !== null) {
    const updateSet = k.set.updateSet;
    k.set.updateSet = (r, d, t, x) => {
      const code = updateSet(r, d, t, x);
      setCodes[code]++;
      return code;
    };
  }
}

describe('novelty kernel (WebAssembly) against the JS path', () => {
  it('is built and in use (npm test, npm run bench and npm install build it)', () => {
    assert.equal(kernelsStatus(), 'wasm');
  });

  it('judges the steady state itself: a warmed state in the arena is handled, one elsewhere is not', () => {
    const k = detectKernels();
    assert.ok(k !== null);
    const set = createDetectorSet([{ name: 'novelty' }]);
    const f = set.init() as Float64Array;
    const s = stream(3, 3);
    const out = newFusedVerdict();
    for (let i = 0; i < s.t.length; i++) set.update(f, s.t[i], Number.isFinite(s.v[i]) ? s.v[i] : 1000, out);
    const next = s.t[s.t.length - 1] + 5 * MINUTE;
    const copy = new Float64Array(f);
    // The kernel writes its output area only when it judges a point.
    k.out.fill(-12345);
    set.update(copy, next, 1000, out);
    assert.equal(k.out[1], -12345, 'a state outside the arena takes the JS path');
    const r = set.update(f, next, 1000, out);
    assert.ok(!r.learning);
    assert.equal(k.out[1], r.expected, 'the arena state was judged by the kernel');
    assert.ok(k.out[2] > 0);
  });

  it('judges the default profile\'s whole point in one call (asm/set.ts) for a warmed state in the arena', () => {
    const k = detectKernels();
    assert.ok(k !== null);
    const set = createDetectorSet();
    const f = set.init() as Float64Array;
    const s = stream(4, 9);
    const out = newFusedVerdict();
    for (let i = 0; i < s.t.length; i++) set.update(f, s.t[i], Number.isFinite(s.v[i]) ? s.v[i] : 1000, out);
    const next = s.t[s.t.length - 1] + 5 * MINUTE;
    const x = 1000 * (1 + 0.4 * Math.sin((2 * Math.PI * (next - T0)) / DAY));
    k.fused.fill(-12345);
    set.update(new Float64Array(f), next, x, out);
    assert.equal(k.fused[1], -12345, 'a state outside the arena takes the JS path');
    const r = set.update(f, next, x, out);
    assert.ok(!r.learning);
    assert.equal(r.reasons.join(), 'normal');
    assert.equal(k.fused[1], r.expected, 'the arena state was judged by the set kernel');
    assert.equal(k.fused[0], r.score);
  });

  it('was given tail.ts\' bins (the kernel hard-codes their count and width)', () => {
    assert.equal(TAIL_BINS, 20);
    assert.equal(TAIL_BW, 0.25);
  });

  const cases: { name: string; entries?: DetectorEntry[]; s: () => Stream; restoreAt?: number }[] = [
    { name: 'the default profile on a seasonal stream with spikes, outages, gaps and disorder', s: () => stream(11, 12) },
    { name: 'the default profile, restored from a checkpoint mid-stream', s: () => stream(12, 10), restoreAt: 2000 },
    { name: 'values on a coarse grid (ties in every window)', s: () => stream(13, 9, { round: true }) },
    { name: 'a series below zero', s: () => stream(14, 9, { negative: true }) },
    { name: 'a tiny level (spreads near the floor)', s: () => stream(15, 12, { level: 1e-6 }) },
    { name: 'minute sampling (slots average several points)', s: () => stream(16, 4, { step: MINUTE }) },
    { name: '15-second sampling (surprise and calibration memory taken per minute)', s: () => stream(36, 3, { step: MINUTE / 4 }) },
    { name: 'an exporter stuck for 40 minutes and 3 hours (no_data reports it, the models skip it)', s: () => stuckExporter(37, 7) },
    { name: 'weekends at a fifth, sharp at midnight (reports at the time of last week\'s are kept as echoes)', s: () => businessWeek(38, 23) },
    { name: 'Pareto noise with a 40x point (records judged by the heavy tail\'s own decay)', s: () => heavyTail(39, 6) },
    { name: 'six-hour sampling (no daily view)', s: () => stream(17, 200, { step: 6 * 60 * MINUTE }) },
    { name: 'a counter with restarts (models judge its rate)', s: () => counter(21, 12) },
    { name: 'a counter, counter_reset told so', entries: profileWith('counter_reset', { mode: 'counter' }), s: () => counter(22, 11) },
    { name: 'a unit change (x1000) after 9 days and a 6-hour silence', s: () => changed(23, 12, 0.75, 1000, 6) },
    { name: 'a sustained +25% shift after 9 days (weekly_shift and new_level report)', s: () => changed(24, 13, 0.7, 1.25) },
    { name: 'a drop to 30% after 9 days, 1-minute sampling (new_level reports a dip)', s: () => drop(25, 10, 0.9, 0.3) },
    { name: 'a slow drift up after 9 days (weekly_shift builds for hours, reports, accepts)', s: () => ramp(27, 16, 0.56, 0.02) },
    { name: 'error counts, mostly 0 at night, with bursts (the resolution floors the spread)', s: () => bursts(28, 4) },
    { name: 'a holiday reported for more than a day (weekly_shift relearns its offset after it)', s: () => holiday(30, 14) },
    { name: 'noise that does not shrink with the level (weekly_shift floors its spread by it)', s: () => additive(31, 16) },
    { name: 'error counts at 5 minutes for 12 days (weekly_shift judges them: Poisson noise floors its spread)', s: () => bursts(29, 12, 5 * MINUTE) },
    { name: 'outages every few hours (novelty counts their zeros while they are in its window)', s: () => outages(32, 9) },
    { name: 'counts at 1-10 a minute with runs of zeros (an outage of a count is a run rare enough)', s: () => countOutages(33, 5) },
    { name: 'an error ratio whose intervals without an error are chance (a gauge\'s run of zeros)', s: () => errorRatio(34, 8) },
    { name: 'replicas scaled to zero every night (0 is routine at this time yesterday), and an outage by day', s: () => scaledToZero(35, 8) },
    { name: 'impossible_value with limits the stream crosses', entries: profileWith('impossible_value', { nonNegative: true, max: 2400 }), s: () => stream(26, 10) },
    { name: 'novelty alone, other options', entries: [{ name: 'novelty', config: { window: 64, levelPoints: 8, seasonalPoints: 3, dailySlots: 48, peak: 2, hold: 4 } }], s: () => stream(18, 9) },
    { name: 'roughness views on (the JS path on both sides)', entries: [{ name: 'novelty', config: { roughPoints: 32 } }], s: () => stream(19, 6) },
    { name: 'a window of two-byte ranks (the JS path on both sides)', entries: [{ name: 'novelty', config: { window: 300 } }], s: () => stream(20, 6) },
  ];
  for (const c of cases) {
    it(`gives the same verdicts and state bytes: ${c.name}`, () => {
      const s = c.s();
      const r = compare(c.entries, s, c.restoreAt);
      assert.equal(r.diff, '', r.diff);
      assert.equal(r.points, s.t.length);
      assert.ok(r.alerts > 0, 'the stream raised alerts (the comparison covered reports)');
    });
  }
});

describe('the set kernel over the cases above', () => {
  it('declined, judged and handed reports back to JS (every path was compared)', () => {
    assert.ok(setCodes[0] > 10_000, `judged ${setCodes[0]}`);
    assert.ok(setCodes[2] > 10, `reports ${setCodes[2]}`);
    assert.ok(setCodes[1] > 1_000, `declined ${setCodes[1]}`);
  });
});

describe('arena slabs', () => {
  it('hands a slab back once its states are gone, and zeroes it before handing it out again', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const before = arenaBytesInUse();
    let held: Float64Array[] | null = [];
    for (let i = 0; i < 400; i++) {
      const f = slabDoubles(310); // 2,480 bytes: about 105 a slab, so 4 slabs
      f.fill(7);
      held.push(f);
    }
    const grown = arenaBytesInUse();
    assert.ok(grown >= before + 3 * (256 << 10), `arena in use ${before} -> ${grown}`);
    held = null;
    // Finalizers run after a collection, on a later turn; the slab being filled stays current.
    let after = grown;
    for (let k = 0; k < 50 && after > before + (256 << 10); k++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
      after = arenaBytesInUse();
    }
    assert.ok(after <= before + (256 << 10), `arena in use after the states went: ${after} (was ${grown}, started at ${before})`);
    // Reused slabs come back zeroed.
    for (let i = 0; i < 400; i++) {
      const f = slabDoubles(310);
      for (let k = 0; k < f.length; k++) if (f[k] !== 0) assert.fail(`a reused slab was not zeroed (state ${i}, word ${k})`);
    }
  });
});
