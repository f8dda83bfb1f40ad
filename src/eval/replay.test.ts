import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DetectorSet, FusedVerdict } from '../detect/types.ts';
import { medianInterval, replayAll, replaySeries, scoreReplay, type ReplayLabel, type ReplaySeries } from './replay.ts';

const T0 = Date.UTC(2024, 0, 1);
const MIN = 60_000;
const t = (i: number) => T0 + i * MIN;

/** A tiny detector set: learns for 3 points, then the value is the score (reason by size). */
const valueAsScore: DetectorSet<{ n: number }> = {
  entries: [{ name: 'test_value_as_score' }],
  init: () => ({ n: 0 }),
  update(state, _t, value, out: FusedVerdict) {
    state.n++;
    out.learning = state.n <= 3;
    out.score = out.learning ? 0 : value;
    out.reasons.length = 0;
    out.reasons.push(out.learning ? 'learning' : value >= 0.97 ? 'spike' : value >= 0.9 ? 'level_shift_up' : 'normal');
    return out;
  },
};

/** A series of n one-minute points, 0 except `hits` (index -> score). */
function series(name: string, hits: Record<number, number>, n = 200): ReplaySeries {
  const values = new Float64Array(n);
  for (const [i, v] of Object.entries(hits)) values[Number(i)] = v;
  return { name, times: Float64Array.from({ length: n }, (_, i) => t(i)), values };
}

test('medianInterval', () => {
  assert.equal(medianInterval([0, 60, 120, 180, 600]), 60);
  assert.equal(medianInterval([0, 10, 30]), 15);
  assert.ok(Number.isNaN(medianInterval([5])));
});

test('events: runs of alerting points merged across short gaps, never while learning', async (t2) => {
  const opts = { threshold: 0.9, mergeGap: 5, tolerance: 10 };
  const cases: { name: string; hits: Record<number, number>; events: [number, number, number, number][] }[] = [
    // [start index, end index, points, peak]
    { name: 'a single point', hits: { 10: 0.95 }, events: [[10, 10, 1, 0.95]] },
    { name: 'the threshold itself alerts', hits: { 10: 0.9, 11: 0.89 }, events: [[10, 10, 1, 0.9]] },
    { name: 'a gap of 5 intervals merges', hits: { 10: 0.95, 11: 0.92, 16: 0.99 }, events: [[10, 16, 3, 0.99]] },
    { name: 'a gap of 6 intervals splits', hits: { 10: 0.95, 16: 0.99 }, events: [[10, 10, 1, 0.95], [16, 16, 1, 0.99]] },
    { name: 'learning points never alert', hits: { 0: 1, 1: 1, 2: 1, 3: 1 }, events: [[3, 3, 1, 1]] },
    { name: 'an event open at the end is closed', hits: { 199: 0.93 }, events: [[199, 199, 1, 0.93]] },
  ];
  for (const c of cases) {
    await t2.test(c.name, () => {
      const r = replaySeries(valueAsScore, series('s', c.hits), opts);
      assert.deepEqual(
        r.events.map((e) => [(e.start - T0) / MIN, (e.end - T0) / MIN, e.points, e.peak]),
        c.events,
      );
    });
  }
  const r = replaySeries(valueAsScore, series('s', { 10: 0.95, 11: 0.99, 12: 0.97 }), opts);
  assert.deepEqual(r.events[0]!.reasons, ['spike', 'level_shift_up']);
  assert.equal(r.events[0]!.peakAt, t(11));
  assert.equal(r.spanMs, 200 * MIN);
  assert.equal(r.intervalMs, MIN);
});

test('scoring events against labels and expected changes', () => {
  const opts = { threshold: 0.9, mergeGap: 5, tolerance: 10 };
  const run = replayAll(valueAsScore, [
    // a: spike label at 10 caught at 12; spike label at 40-41 missed; FP at 55 (past 41 + 10);
    //    alert at 70 on a deploy -> expected.
    series('a', { 12: 0.99, 55: 0.99, 70: 0.95 }),
    // b: level shift 15-29 caught from 18 (delay 3 min) and again at 28 (second event, same label).
    series('b', { 18: 0.95, 19: 0.95, 20: 0.95, 21: 0.95, 28: 0.95 }),
    // c: clean; one FP at 100, and a learning-time value that must not count.
    series('c', { 1: 1, 100: 0.99 }),
  ], opts);
  const labels: ReplayLabel[] = [
    { series: 'a', kind: 'spike', start: t(10), end: t(10) },
    { series: 'a', kind: 'spike', start: t(40), end: t(41) },
    { series: 'b', kind: 'level_shift', start: t(15), end: t(29) },
  ];
  const expected: ReplayLabel[] = [{ series: 'a', kind: 'deploy', start: t(68), end: t(75) }];
  const s = scoreReplay(run.replays, labels, expected, opts);

  assert.deepEqual(
    s.events.map((e) => [e.series, (e.start - T0) / MIN, e.verdict, e.kind]),
    [
      ['a', 12, 'true', 'spike'],
      ['a', 55, 'false', null],
      ['a', 70, 'expected', 'deploy'],
      ['b', 18, 'true', 'level_shift'],
      ['b', 28, 'true', 'level_shift'],
      ['c', 100, 'false', null],
    ],
  );
  assert.deepEqual([s.trueAlerts, s.falseAlerts, s.expectedAlerts], [3, 2, 1]);
  assert.deepEqual(s.labels.map((l) => [l.detected, l.delayMs]), [[true, 2 * MIN], [false, NaN], [true, 3 * MIN]]);

  const o = s.overall;
  assert.equal(o.precision, 3 / 5);
  assert.equal(o.recall, 2 / 3);
  assert.ok(Math.abs(o.f1 - (2 * 0.6 * (2 / 3)) / (0.6 + 2 / 3)) < 1e-12);
  assert.equal(o.meanDelayMs, 2.5 * MIN);
  assert.ok(Math.abs(o.falseAlertsPerDay - 2 / (600 / 1440)) < 1e-9);

  const spike = s.byKind.find((k) => k.kind === 'spike')!;
  assert.deepEqual([spike.labels, spike.detected, spike.recall, spike.precision, spike.f1, spike.meanDelayMs, spike.falseAlerts], [2, 1, 0.5, 0.5, 0.5, 2 * MIN, 1]);
  const shift = s.byKind.find((k) => k.kind === 'level_shift')!;
  assert.deepEqual([shift.labels, shift.detected, shift.recall, shift.precision, shift.f1, shift.meanDelayMs, shift.falseAlerts], [1, 1, 1, 1, 1, 3 * MIN, 0]);

  // One clean series of 200 minutes with one false alert: 1 / (200 / 10080) per series-week.
  assert.equal(s.clean.series, 1);
  assert.equal(s.clean.falseAlerts, 1);
  assert.ok(Math.abs(s.clean.perSeriesWeek - 10080 / 200) < 1e-9);
});

test('tolerance 0 and a label long past: the late event is false', () => {
  const opts = { threshold: 0.9, mergeGap: 5, tolerance: 0 };
  const run = replayAll(valueAsScore, [series('a', { 11: 0.99 })], opts);
  const s = scoreReplay(run.replays, [{ series: 'a', kind: 'spike', start: t(10), end: t(10) }], [], opts);
  assert.deepEqual([s.trueAlerts, s.falseAlerts, s.overall.recall, s.overall.f1], [0, 1, 0, 0]);
});

test('no events and no labels: precision and F1 are undefined, not 0 or 1', () => {
  const opts = { threshold: 0.9, mergeGap: 5, tolerance: 10 };
  const s = scoreReplay(replayAll(valueAsScore, [series('a', {})], opts).replays, [], [], opts);
  assert.ok(Number.isNaN(s.overall.precision) && Number.isNaN(s.overall.recall) && Number.isNaN(s.overall.f1));
  assert.equal(s.clean.perSeriesWeek, 0);
});
