/**
 * A deterministic labelled workload for cluster tests and the benchmark: `series` gauges with a
 * smooth wave and small noise, one point every `stepMs`, and planted spikes (each a single
 * point far outside the band) that every run of the same detectors must flag.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { serviceSkip, TEST_NATS_URL } from '../bus/testkit.ts';
import { IngestBatch } from '../ingest/index.ts';
import { postgresAvailable } from '../store/pg-testkit.ts';

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

const BIN = join(import.meta.dirname, '../../bin/tidemark.js');

/** A `tidemark` command as a child process, its output kept for assertions and failure logs. */
export class CliProc {
  readonly out: string[] = [];
  readonly child: ChildProcess;
  constructor(args: readonly string[], o: { env?: Record<string, string>; nodeArgs?: readonly string[] } = {}) {
    this.child = spawn(process.execPath, [...(o.nodeArgs ?? []), BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } });
    this.child.stdout!.on('data', (b: Buffer) => this.out.push(b.toString()));
    this.child.stderr!.on('data', (b: Buffer) => this.out.push(b.toString()));
  }
  get text(): string {
    return this.out.join('');
  }
  /** Signals the process and resolves once it has exited (at once if it already has). */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill(signal);
    await exited;
  }
  /** Partitions worker `id` holds, from its log. */
  owned(id: string): Set<number> {
    const held = new Set<number>();
    const re = new RegExp(`worker ${id}: (took|released|lost) partition (\\d+)`);
    for (const line of this.text.split('\n')) {
      const m = re.exec(line);
      if (m) m[1] === 'took' ? held.add(Number(m[2])) : held.delete(Number(m[2]));
    }
    return held;
  }
}

/** Polls `ok` every `everyMs` until it holds; past `ms`, throws naming `what` with the logs. */
export async function waitFor(what: string, ok: () => boolean | Promise<boolean>, logs: () => string, ms = 60_000, everyMs = 100): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${logs()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * POSTs a JSON sample batch to an ingest node until it is acknowledged (200), retrying a
 * 503 (the bus or store briefly down) up to 20 times; anything else fails the test.
 */
export async function postSamples(url: string, token: string, body: string, what: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${url}/api/v1/samples`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (res.status === 200) return;
    assert.ok(res.status === 503 && attempt < 20, `${what}: ${res.status} ${text}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Why a cluster test that needs NATS JetStream and PostgreSQL is skipped (false: both are up).
 * `what` names the test in PostgreSQL's skip notice. In CI a missing service fails instead
 * (serviceSkip and postgresAvailable follow TIDEMARK_REQUIRE_SERVICES).
 */
export async function clusterSkip(what: string): Promise<string | false> {
  const natsSkip = await serviceSkip('NATS JetStream', TEST_NATS_URL);
  if (natsSkip) return natsSkip;
  return (await postgresAvailable(what)) ? false : 'PostgreSQL is not reachable';
}

/**
 * The failover tests' tenant config: the workload's gauge, one webhook receiver `chat` at
 * `url`/chat, and rule `latency-spike` over its 1-minute average with `detectors` (YAML flow
 * list items), grouped by instance, paging on the first anomalous window.
 */
export function latencyRuleConfig(url: string, detectors: string): string {
  return `tenant: default
metrics:
  - { name: ${WORKLOAD_METRIC}, type: gauge, unit: ms, labels: [service, instance] }
receivers:
  - name: chat
    webhook: { url: '${url}/chat' }
rules:
  - name: latency-spike
    selector: ${WORKLOAD_METRIC}
    aggregation: { function: avg, window: 1m }
    detectors: [${detectors}]
    severity: S1
    owner: team-a
    receiver: chat
    group_by: [instance]
    timing: { group_wait: 0s, group_interval: 1m, trigger: { m: 1, n: 1 }, recovery: { points: 200 } }
`;
}
