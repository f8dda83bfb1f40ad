/**
 * A deterministic labelled workload for cluster tests and the benchmark: `series` gauges with a
 * smooth wave and small noise, one point every `stepMs`, and planted spikes (each a single
 * point far outside the band) that every run of the same detectors must flag.
 */
import { IngestBatch } from '../ingest/index.ts';

export interface Workload {
  readonly series: number;
  readonly steps: number;
  readonly stepMs: number;
  readonly t0: number;
  /** Steps per batch: one batch carries every series for this many steps. */
  readonly stepsPerBatch: number;
  /** Planted anomalies: series index and step. */
  readonly planted: readonly { series: number; step: number }[];
}

export function makeWorkload(o: { series: number; steps: number; stepMs?: number; t0: number; stepsPerBatch?: number; plantEvery?: number; warmup?: number }): Workload {
  const planted: { series: number; step: number }[] = [];
  const warmup = o.warmup ?? 120;
  if (o.plantEvery && o.plantEvery > 0) {
    let k = 0;
    for (let step = warmup; step < o.steps - 10; step += o.plantEvery) planted.push({ series: (k++ * 7) % o.series, step });
  }
  return { series: o.series, steps: o.steps, stepMs: o.stepMs ?? 60_000, t0: o.t0, stepsPerBatch: o.stepsPerBatch ?? 10, planted };
}

export function seriesLabels(i: number): Record<string, string> {
  return { service: `svc${i % 5}`, instance: `i${i}` };
}

export const WORKLOAD_METRIC = 'cluster_latency_ms';

export function valueAt(w: Workload, s: number, step: number): number {
  const base = 100 + 10 * s + 5 * Math.sin((step + s) / 30) + ((((step + 1) * 7919 + s * 104729) % 11) - 5) * 0.2;
  for (const p of w.planted) if (p.series === s && p.step === step) return base * 8 + 500;
  return base;
}

/** Number of batches of the workload. */
export function batchCount(w: Workload): number {
  return Math.ceil(w.steps / w.stepsPerBatch);
}

/** Fills `b` (reset first) with batch `k` of the workload. */
export function fillBatch(w: Workload, k: number, b: IngestBatch): IngestBatch {
  b.reset();
  const from = k * w.stepsPerBatch;
  const to = Math.min(w.steps, from + w.stepsPerBatch);
  for (let s = 0; s < w.series; s++) {
    const flat = Object.entries(seriesLabels(s)).flat();
    const row = b.openSeries(WORKLOAD_METRIC, flat, flat.length, 'gauge', to - from);
    for (let step = from; step < to; step++) b.addSample(row, w.t0 + step * w.stepMs, valueAt(w, s, step));
  }
  return b;
}

/** The JSON body of batch `k` for POST /api/v1/samples. */
export function jsonBatch(w: Workload, k: number): string {
  const samples: unknown[] = [];
  const from = k * w.stepsPerBatch;
  const to = Math.min(w.steps, from + w.stepsPerBatch);
  for (let s = 0; s < w.series; s++) {
    for (let step = from; step < to; step++) samples.push({ metric: WORKLOAD_METRIC, labels: seriesLabels(s), t: w.t0 + step * w.stepMs, value: valueAt(w, s, step) });
  }
  return JSON.stringify({ samples });
}
