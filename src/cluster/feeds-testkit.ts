/**
 * A workload for rule aggregates in a cluster: per region a handful of instances, each with a
 * load gauge (summed by region) and request and error counts (a ratio rule by region), one point
 * every 20 s. Planted: every eu instance's load doubles for three minutes (the eu sum
 * breaks while no single instance stands out much), and us errors jump fivefold for three
 * minutes (the us error ratio breaks), and ap-1's CPU doubles at flat requests for three
 * minutes (its multivariate entity breaks while neither series alone moves much).
 */
import { createEngine, type Anomaly } from '../engine/index.ts';
import { IngestBatch } from '../ingest/index.ts';
import type { Store } from '../store/index.ts';

/** The derived series' metrics of AGG_CONFIG. */
export const DERIVED = ['region_load:sum', 'region_errors:ratio'];

export const REGIONS = ['eu', 'us', 'ap'] as const;
export const INSTANCES = 4;
export const STEP_MS = 20_000;
const MIN = 60_000;

export const AGG_CONFIG = `tenant: default
metrics:
  - { name: req_load, type: gauge, unit: "1", labels: [region, instance] }
  - { name: req_count, type: gauge, unit: "1", labels: [region, instance] }
  - { name: err_count, type: gauge, unit: "1", labels: [region, instance] }
  - { name: cpu, type: gauge, unit: "1", labels: [region, instance] }
rules:
  - name: region-load
    selector: req_load
    aggregation: { function: sum, window: 1m }
    group_by: [region]
    detect_on: aggregate
    detectors: [{ name: robust_z, config: { window: 60, minPoints: 20 } }]
    sensitivity: medium
    severity: S0
    owner: team-a
    timing: { group_wait: 0s, group_interval: 1m, trigger: { m: 1, n: 1 }, recovery: { points: 1000 } }
  - name: region-errors
    selector: err_count
    denominator: req_count
    aggregation: { function: sum, window: 1m }
    group_by: [region]
    detectors: [{ name: robust_z, config: { window: 60, minPoints: 20 } }]
    sensitivity: medium
    severity: S0
    owner: team-a
    timing: { group_wait: 0s, group_interval: 1m, trigger: { m: 1, n: 1 }, recovery: { points: 1000 } }
multivariate:
  - name: instance-health
    features: [cpu, req_count]
    join_on: [instance]
    step: 1m
    threshold: 0.9
    owner: team-a
    severity: S0
    cascade: { level: 0.5, every: 1 }
    forest: { trees: 20, sample_size: 64, reservoir: 256, min_fit: 60, refit_every: 64 }
`;

export interface AggWorkload {
  readonly t0: number;
  readonly steps: number;
  /** Steps per batch (each batch holds every series for these steps). */
  readonly stepsPerBatch: number;
}

/** Deterministic noise in [-1, 1]. */
function noise(a: number, b: number): number {
  return ((((a + 1) * 7919 + b * 104729) % 201) - 100) / 100;
}

export function minuteOf(w: AggWorkload, step: number): number {
  return (step * STEP_MS) / MIN;
}

/** Every series of the workload at one step: metric, labels, value. */
export function pointsAt(w: AggWorkload, step: number): { metric: string; labels: Record<string, string>; value: number }[] {
  const m = minuteOf(w, step);
  const out: { metric: string; labels: Record<string, string>; value: number }[] = [];
  REGIONS.forEach((region, r) => {
    for (let i = 0; i < INSTANCES; i++) {
      const labels = { region, instance: `${region}-${i}` };
      const k = r * INSTANCES + i;
      const wave = 1 + 0.03 * Math.sin((m + k) / 40);
      const surge = region === 'eu' && m >= w.steps * STEP_MS / MIN - 30 && m < w.steps * STEP_MS / MIN - 27 ? 2 : 1;
      const load = (100 + 10 * k) * wave * surge * (1 + 0.01 * noise(step, k));
      const reqs = (200 + 5 * k) * wave * (1 + 0.01 * noise(step, k + 50));
      const errBurst = region === 'us' && m >= w.steps * STEP_MS / MIN - 50 && m < w.steps * STEP_MS / MIN - 47 ? 5 : 1;
      const errs = reqs * 0.02 * errBurst * (1 + 0.05 * noise(step, k + 90));
      out.push({ metric: 'req_load', labels, value: load });
      out.push({ metric: 'req_count', labels, value: reqs });
      out.push({ metric: 'err_count', labels, value: errs });
      // CPU follows requests; for ap-1 it doubles at flat requests for three minutes.
      const cpuBurst = region === 'ap' && i === 1 && m >= w.steps * STEP_MS / MIN - 70 && m < w.steps * STEP_MS / MIN - 67 ? 2 : 1;
      const cycle = 1 + 0.2 * Math.sin((m + 3 * k) / 5); // a 30 min cycle, so the forest has seen its whole range early
      out.push({ metric: 'cpu', labels, value: (reqs / 4) * cpuBurst * cycle * cycle });
    }
  });
  return out;
}

export function aggBatchCount(w: AggWorkload): number {
  return Math.ceil(w.steps / w.stepsPerBatch);
}

/** Fills `b` (reset first) with batch `k`, time-major (every series' point of a step, then the next step). */
export function fillAggBatch(w: AggWorkload, k: number, b: IngestBatch): IngestBatch {
  b.reset();
  const from = k * w.stepsPerBatch;
  const to = Math.min(w.steps, from + w.stepsPerBatch);
  const rows = new Map<string, number>();
  for (let step = from; step < to; step++) {
    for (const p of pointsAt(w, step)) {
      const key = `${p.metric}${JSON.stringify(p.labels)}`;
      let row = rows.get(key);
      if (row === undefined) {
        const flat = Object.entries(p.labels).sort(([a], [c]) => (a < c ? -1 : 1)).flat();
        rows.set(key, (row = b.openSeries(p.metric, flat, flat.length, 'gauge', to - from)));
      }
      b.addSample(row, w.t0 + step * STEP_MS, p.value);
    }
  }
  return b;
}

/** The JSON body of batch `k` for POST /api/v1/samples. */
export function jsonAggBatch(w: AggWorkload, k: number): string {
  const samples: unknown[] = [];
  const from = k * w.stepsPerBatch;
  const to = Math.min(w.steps, from + w.stepsPerBatch);
  for (let step = from; step < to; step++) for (const p of pointsAt(w, step)) samples.push({ metric: p.metric, labels: p.labels, t: w.t0 + step * STEP_MS, value: p.value });
  return JSON.stringify({ samples });
}

/** Per derived series (metric + labels): its stored points and bands, as one comparable text per point. */
export async function derivedSeries(store: Store): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const metric of DERIVED) {
    for (const s of await store.series.find('default', [{ name: '__name__', op: '=', value: metric }])) {
      const pts = await store.samples.range('default', s.id, 0, Date.now() + 1);
      const bands = await store.samples.bands('default', s.id, 0, Date.now() + 1);
      const band = new Map<number, string>();
      for (let i = 0; i < bands.t.length; i++) band.set(bands.t[i], `${bands.expected[i]} [${bands.lower[i]}, ${bands.upper[i]}] score ${bands.score[i]}`);
      const rows: string[] = [];
      for (let i = 0; i < pts.t.length; i++) rows.push(`${new Date(pts.t[i]).toISOString()} ${pts.v[i]} ${band.get(pts.t[i]) ?? 'learning'}`);
      out.set(`${metric}${JSON.stringify(s.labels, Object.keys(s.labels).sort())}`, rows);
    }
  }
  return out;
}

/** One process over the workload (on an empty store with tenant `default`, closed after): the derived series and the anomalies on them and on entities. */
export async function singleProcessAggregates(w: AggWorkload, store: Store): Promise<{ series: Map<string, string[]>; anomalies: Anomaly[] }> {
  const engine = await createEngine({ store, clock: Date.now, checkpointIntervalMs: 0, alerting: false });
  await engine.putConfig(AGG_CONFIG, 'test', null);
  const anomalies: Anomaly[] = [];
  engine.onAnomaly = (a) => {
    if (DERIVED.includes(a.metric) || a.metric.startsWith('multivariate:')) anomalies.push(a);
  };
  const b = new IngestBatch({ maxFutureMs: Number.MAX_SAFE_INTEGER });
  for (let k = 0; k < aggBatchCount(w); k++) await engine.ingest('default', fillAggBatch(w, k, b), 'live');
  await engine.close();
  const series = await derivedSeries(store);
  await store.close();
  return { series, anomalies };
}

