import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANOMALY_KINDS, SYNTH_DEFAULTS, generateSuite, type AnomalyKind, type SynthSeries } from './synth.ts';

const DAY = 86_400_000;
const WEEK = 7 * DAY;
const STEP = 300_000; // 5 minutes keeps the tests small
const base = { ...SYNTH_DEFAULTS, days: 14, intervalMs: STEP };

/** Mean of the values with times in [a, b]. */
function mean(s: SynthSeries, a: number, b: number): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < s.times.length; i++) {
    if (s.times[i]! >= a && s.times[i]! <= b) {
      sum += s.values[i]!;
      n++;
    }
  }
  return sum / n;
}

/** Inside-label mean over the mean of the same hours one week earlier. */
function weekRatio(s: SynthSeries, start: number, end: number): number {
  return mean(s, start, end) / mean(s, start - WEEK, end - WEEK);
}

function suiteOf(kind: AnomalyKind, series = 5, seed = 11): SynthSeries[] {
  return generateSuite({ ...base, kinds: [kind], series, cleanFraction: 0, seed });
}

test('the same options give the same series; another seed gives others', () => {
  const a = generateSuite({ ...base, series: 6 });
  const b = generateSuite({ ...base, series: 6 });
  const c = generateSuite({ ...base, series: 6, seed: 2 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a[0]!.values, c[0]!.values);
});

test('series layout: anomalous first with kinds round-robin, then clean', () => {
  const s = generateSuite({ ...base, series: 12, cleanFraction: 0.25 });
  assert.equal(s.length, 12);
  assert.deepEqual(s.map((x) => x.anomaly), [...ANOMALY_KINDS, null, null, null]);
  for (const x of s) {
    assert.equal(x.labels.length === 0, x.anomaly === null, x.name);
    assert.match(x.name, new RegExp(`^\\d{2}-${x.metric}-${x.anomaly ?? 'clean'}$`));
  }
  assert.ok(generateSuite({ ...base, series: 5, cleanFraction: 1 }).every((x) => x.labels.length === 0));
});

test('labels sit after the warm-up half, in order, apart from each other and from expected changes', () => {
  for (const s of generateSuite({ ...base, series: 27, cleanFraction: 0 })) {
    const start = s.times[0]!;
    assert.ok(s.labels.length >= 1, `${s.name} has labels`);
    let prevEnd = -Infinity;
    for (const l of s.labels) {
      assert.equal(l.series, s.name);
      assert.equal(l.kind, s.anomaly);
      assert.ok(l.start >= start + 7 * DAY && l.end <= start + 14 * DAY, `${s.name} label inside the second half`);
      assert.ok(l.start > prevEnd, `${s.name} labels do not overlap`);
      prevEnd = l.end;
      for (const e of s.expected) assert.ok(l.end < e.start || l.start > e.end, `${s.name} ${l.kind} clear of ${e.kind}`);
    }
  }
});

test('each anomaly kind shows in the data', async (t) => {
  await t.test('spike: far above the same time a week earlier', () => {
    for (const s of suiteOf('spike')) {
      for (const l of s.labels) {
        const ratio = weekRatio(s, l.start, l.end);
        const jump = mean(s, l.start, l.end) - mean(s, l.start - WEEK, l.end - WEEK);
        assert.ok(s.metric === 'errors' ? jump >= 20 : s.metric === 'cpu' ? jump >= 20 : ratio >= 2.5, `${s.name}: ratio ${ratio}, jump ${jump}`);
      }
    }
  });
  await t.test('drop to zero: zeros inside, never zero outside (qps)', () => {
    for (const s of suiteOf('drop_to_zero')) {
      for (let i = 0; i < s.times.length; i++) {
        const inside = s.labels.some((l) => s.times[i]! >= l.start && s.times[i]! <= l.end);
        if (inside) assert.equal(s.values[i], 0, s.name);
        else if (s.metric === 'qps') assert.ok(s.values[i]! > 0, s.name);
      }
    }
  });
  await t.test('level shift: x1.5-2.2 or x0.35-0.6 (errors: x4-8)', () => {
    for (const s of suiteOf('level_shift')) {
      for (const l of s.labels) {
        const r = weekRatio(s, l.start, l.end);
        assert.ok(s.metric === 'errors' ? r >= 2 : r >= 1.35 || r <= 0.7, `${s.name}: ${r}`);
      }
    }
  });
  await t.test('drift: rising through the window, +45% or more by its end', () => {
    for (const s of suiteOf('drift')) {
      for (const l of s.labels) {
        const tail = l.end - (l.end - l.start) / 10;
        const early = l.start + (l.end - l.start) / 10;
        assert.ok(weekRatio(s, tail, l.end) >= 1.45, s.name);
        assert.ok(weekRatio(s, l.start, early) < weekRatio(s, tail, l.end), s.name);
      }
    }
  });
  await t.test('sustained small shift: about +5%', () => {
    for (const s of suiteOf('small_shift')) {
      for (const l of s.labels) {
        // Against a week earlier, relative to the two hours either side (cancels trend and level).
        const H2 = 2 * 3_600_000;
        const around = (d: number) => mean(s, l.start - H2 + d, l.start - STEP + d) + mean(s, l.end + STEP + d, l.end + H2 + d);
        const r = weekRatio(s, l.start, l.end) / (around(0) / around(-WEEK));
        // Deploy steps (up to 3%) between the windows and the AR wander blur it a little.
        assert.ok(r > 1.01 && r < 1.11, `${s.name}: ${r}`);
      }
    }
  });
  await t.test('gap: no points inside, data back exactly at the label end', () => {
    for (const s of suiteOf('gap')) {
      for (const l of s.labels) {
        const inside = [...s.times].filter((x) => x >= l.start && x < l.end);
        assert.deepEqual(inside, [], s.name);
        assert.ok([...s.times].includes(l.end), `${s.name}: data back at ${l.end}`);
        assert.ok([...s.times].includes(l.start - STEP), `${s.name}: data until the gap`);
      }
    }
  });
  await t.test('counter reset: the counter only goes down at labelled resets or expected restarts', () => {
    const suite = [...suiteOf('counter_reset', 3), ...generateSuite({ ...base, series: 6, cleanFraction: 1, seed: 5 })];
    const counters = suite.filter((s) => s.metric === 'counter');
    assert.ok(counters.length >= 4);
    for (const s of counters) {
      const resets = new Set([...s.labels.filter((l) => l.kind === 'counter_reset'), ...s.expected.filter((e) => e.kind === 'restart')].map((l) => l.start));
      assert.ok(resets.size >= 1, s.name);
      for (let i = 1; i < s.times.length; i++) {
        if (s.values[i]! < s.values[i - 1]!) assert.ok(resets.has(s.times[i]!), `${s.name} goes down at ${i}`);
      }
      for (const r of resets) {
        const i = [...s.times].indexOf(r);
        assert.ok(s.values[i]! < s.values[i - 1]!, `${s.name} resets at ${r}`);
      }
    }
  });
  await t.test('unit change: x1000', () => {
    for (const s of suiteOf('unit_change')) {
      for (const l of s.labels) {
        const r = weekRatio(s, l.start, l.end);
        assert.ok(r > 600 && r < 1600, `${s.name}: ${r}`);
      }
    }
  });
  await t.test('seasonal break: the day-time peak does not happen, values stay in range', () => {
    for (const s of suiteOf('seasonal_break')) {
      const lo = Math.min(...s.values);
      const hi = Math.max(...s.values);
      for (const l of s.labels) {
        assert.ok(weekRatio(s, l.start, l.end) < 0.75, s.name);
        assert.ok(mean(s, l.start, l.end) > lo && mean(s, l.start, l.end) < hi, s.name);
      }
    }
  });
});

test('metric shapes: bounds, integers, seasonality, expected changes', () => {
  const suite = generateSuite({ ...base, series: 12, cleanFraction: 1, seed: 3 });
  for (const s of suite) {
    const v = [...s.values];
    if (s.metric === 'cpu') assert.ok(v.every((x) => x >= 0 && x <= 100), s.name);
    if (s.metric === 'errors') {
      assert.ok(v.every((x) => Number.isInteger(x) && x >= 0), s.name);
      assert.ok(v.filter((x) => x === 0).length / v.length > 0.1, `${s.name} often zero`);
      assert.ok(Math.max(...v) < 30, `${s.name} small counts`);
    }
    if (s.metric === 'qps') {
      // Weekend dip: Saturday 2024-01-06 vs Wednesday 2024-01-03; afternoon above night.
      const sat = mean(s, Date.UTC(2024, 0, 6), Date.UTC(2024, 0, 7) - 1);
      const wed = mean(s, Date.UTC(2024, 0, 3), Date.UTC(2024, 0, 4) - 1);
      assert.ok(sat < 0.9 * wed, `${s.name} weekend dip`);
      const afternoon = mean(s, Date.UTC(2024, 0, 3, 13), Date.UTC(2024, 0, 3, 16));
      const night = mean(s, Date.UTC(2024, 0, 3, 1), Date.UTC(2024, 0, 3, 4));
      assert.ok(afternoon > 1.8 * night, `${s.name} daily cycle`);
      // The holiday (Wednesday 2024-01-10) looks like a weekend day.
      assert.ok(mean(s, Date.UTC(2024, 0, 10), Date.UTC(2024, 0, 11) - 1) < 0.9 * wed, `${s.name} holiday`);
    }
    assert.ok(s.expected.some((e) => e.kind === 'holiday'), `${s.name} holiday labelled`);
    if (['qps', 'latency_p50', 'latency_p99', 'cpu'].includes(s.metric)) assert.ok(s.expected.some((e) => e.kind === 'deploy'), `${s.name} deploys`);
    if (s.metric === 'counter') assert.ok(s.expected.some((e) => e.kind === 'restart'), `${s.name} restarts`);
  }
  const p50 = suite.filter((s) => s.metric === 'latency_p50');
  const p99 = suite.filter((s) => s.metric === 'latency_p99');
  const cv = (s: SynthSeries) => {
    const m = mean(s, -Infinity, Infinity);
    const sd = Math.sqrt([...s.values].reduce((a, x) => a + (x - m) ** 2, 0) / s.values.length);
    return sd / m;
  };
  // p99 is noisier than p50 relative to its level.
  assert.ok(Math.min(...p99.map(cv)) > Math.max(...p50.map(cv)) * 0.9);
});

test('bad options are RangeErrors', () => {
  const cases: [string, object][] = [
    ['no series', { series: 0 }],
    ['too short', { days: 1 }],
    ['interval too small', { intervalMs: 10 }],
    ['clean fraction', { cleanFraction: 1.5 }],
    ['no kinds', { kinds: [] }],
  ];
  for (const [name, o] of cases) assert.throws(() => generateSuite({ ...base, ...o }), RangeError, name);
});
