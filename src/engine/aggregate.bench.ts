/**
 * Hierarchical detection's cost: engine ingest of one rule's 1,200 counters (region x
 * app_version x device x host) with `detect_on: series` (the baseline: every series judged),
 * `aggregate` (one derived series judged per window, the series only stored and aggregated) and
 * `both`; plus the aggregator alone, nanoseconds per sample. Same data, same run, same store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigOrThrow } from '../config/index.ts';
import { IngestBatch } from '../ingest/index.ts';
import { mulberry32 } from '../series/prng.ts';
import { openSqliteStore } from '../store/index.ts';
import { RuleAggregator } from './aggregate.ts';
import { createEngine } from './index.ts';

const T0 = Date.UTC(2026, 0, 5);
const STEP = 15_000;
const POINTS = 240; // an hour of 15 s scrapes
const SERIES = ['eu', 'us', 'ap', 'sa', 'af', 'me'].flatMap((region) =>
  ['v1', 'v2', 'v3', 'v4'].flatMap((app_version) => ['ios', 'android', 'web', 'tv', 'car'].flatMap((device) =>
    Array.from({ length: 10 }, (_, h) => ({ region, app_version, device, host: `h${h}` })))));

function config(detectOn: string): string {
  return `
tenant: default
metrics:
  - { name: req_total, type: counter, unit: "1", labels: [region, app_version, device, host] }
rules:
  - name: req
    selector: req_total
    aggregation: { function: rate, window: 1m }
    detectors: [{ name: robust_z }, { name: ewma }]
    group_by: [region]
    severity: S0
    owner: bench
    detect_on: ${detectOn}
`;
}

async function engineRun(detectOn: string): Promise<{ samplesPerS: number; judged: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-aggbench-'));
  let now = T0;
  const clock = () => now;
  const store = await openSqliteStore({ dataDir: dir, now: clock });
  try {
    await store.tenants.create({ id: 'default', name: 'default' });
    const engine = await createEngine({ store, clock, checkpointIntervalMs: 0, alerting: false });
    await engine.putConfig(config(detectOn), 'bench', null);
    const rnd = mulberry32(1);
    const counters = new Float64Array(SERIES.length);
    const flat = SERIES.map((s) => Object.entries(s).flat());
    let judged = 0;
    let elapsed = 0;
    for (let p = 0; p < POINTS; p++) {
      const t = T0 + p * STEP;
      now = t + 500;
      const b = new IngestBatch({ now: clock, maxFutureMs: 60_000 });
      for (let i = 0; i < SERIES.length; i++) {
        counters[i] += Math.round(50 + 50 * rnd());
        b.addSample(b.openSeries('req_total', flat[i], flat[i].length, 'counter', 1), t, counters[i]);
      }
      const t0 = performance.now();
      const o = await engine.ingest('default', b);
      elapsed += performance.now() - t0;
      judged += o.judged;
    }
    await engine.close();
    return { samplesPerS: (POINTS * SERIES.length) / (elapsed / 1000), judged };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function aggregatorOnly(): number {
  const rule = loadConfigOrThrow(config('aggregate')).rules[0];
  const agg = new RuleAggregator(rule, { toleranceMs: 300_000 });
  const feeds = SERIES.map((s) => agg.feedsFor('req_total', s)[0]);
  const counters = new Float64Array(SERIES.length);
  const t0 = process.hrtime.bigint();
  const rounds = 4 * POINTS;
  for (let p = 0; p < rounds; p++) {
    const t = T0 + p * STEP;
    for (let i = 0; i < feeds.length; i++) agg.add(feeds[i], t, (counters[i] += 75));
    agg.closed.length = 0;
  }
  return Number(process.hrtime.bigint() - t0) / (rounds * feeds.length);
}

export async function runAggregateBench(): Promise<object> {
  const ns = [aggregatorOnly(), aggregatorOnly(), aggregatorOnly()].sort((a, b) => a - b)[1];
  const runs: Record<string, { samplesPerS: number; judged: number }[]> = { series: [], aggregate: [], both: [] };
  // Interleaved, three rounds: the machine is shared, so medians of alternating runs.
  for (let r = 0; r < 3; r++) for (const mode of Object.keys(runs)) runs[mode].push(await engineRun(mode));
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
  const rate = (m: string) => median(runs[m].map((x) => x.samplesPerS));
  const series = rate('series');
  const aggregate = rate('aggregate');
  const both = rate('both');
  const result = {
    name: 'engine.aggregate',
    series: SERIES.length,
    samples: SERIES.length * POINTS,
    aggregator_ns_per_sample: Math.round(ns),
    series_samples_per_s: Math.round(series),
    aggregate_samples_per_s: Math.round(aggregate),
    both_samples_per_s: Math.round(both),
    ratio_aggregate_vs_series: +(aggregate / series).toFixed(2),
    ratio_both_vs_series: +(both / series).toFixed(2),
    judged_series_mode: runs.series[0].judged,
    judged_aggregate_mode: runs.aggregate[0].judged,
  };
  console.log(`aggregate: ${SERIES.length} counters x ${POINTS} points; detect_on series ${result.series_samples_per_s}/s, aggregate ${result.aggregate_samples_per_s}/s (x${result.ratio_aggregate_vs_series}), both ${result.both_samples_per_s}/s (x${result.ratio_both_vs_series}); aggregator alone ${result.aggregator_ns_per_sample} ns/sample`);
  return result;
}
