/**
 * Alert stage benchmark, 10,000 firing alerts.
 *
 * Throughput: verdicts through `AlertStage.observe` per second on one thread (= one core), with
 * 10,000 series whose alerts are all firing (90% of points anomalous, 10% normal inside
 * keep_firing_for), effects drained every round; the median of several rounds.
 *
 * Latency: from the crossing sample's verdict entering the stage to its notification leaving
 * (the HTTP request to a local webhook receiver starting), minus the rule's group_wait. The full
 * wiring runs: stage, the engine's alerting runner (timers, store writes to a real SQLite store,
 * notification log) and the notifier, with 10,000 alerts firing; see `latency`.
 * Run: node --import tsx src/alert/alert.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigOrThrow } from '../config/index.ts';
import { Alerting } from '../engine/alerting.ts';
import { startReceiver } from '../notify/testkit.ts';
import { openSqliteStore } from '../store/index.ts';
import { resolvePolicy } from './policy.ts';
import { AlertStage } from './stage.ts';
import type { VerdictView } from './types.ts';

export interface AlertBenchResult {
  readonly name: string;
  readonly [k: string]: number | string;
}

function yaml(url: string, groupWait: string): string {
  return `
tenant: bench
metrics:
  - { name: latency, type: gauge, unit: s, help: x, labels: [shard, series] }
receivers:
  - name: hook
    webhook: { url: '${url}/hook' }
rules:
  - name: lat
    selector: latency
    aggregation: { function: avg, window: 1m }
    severity: S1
    owner: team-bench
    receiver: hook
    group_by: [shard]
    timing: { for: 0s, keep_firing_for: 10m, group_wait: ${groupWait}, group_interval: 5m, repeat_interval: 4h }
`;
}

const HOT: VerdictView = { score: 0.99, expected: 10, lower: 5, upper: 15, learning: false, reasons: ['above_band'], sources: ['robust_z'] };
const COLD: VerdictView = { score: 0.1, expected: 10, lower: 5, upper: 15, learning: false, reasons: ['normal'], sources: ['seasonal_baseline'] };
const POLICY = { tenantBudget: { pagesPerHour: 1_000_000, notificationsPerHour: 1_000_000 }, receiverBudget: { pagesPerHour: 1_000_000, notificationsPerHour: 1_000_000 } };

function labelsOf(n: number, groups: number): Record<string, string>[] {
  return Array.from({ length: n }, (_, i) => Object.freeze({ shard: `s${i % groups}`, series: `x${i}` }));
}

/** Verdicts per second through the stage alone (no I/O). */
export function throughput(series = 10_000, rounds = 30): { verdictsPerS: number; firing: number } {
  const config = loadConfigOrThrow(yaml('http://127.0.0.1:1', '30s'), 'bench.yaml');
  let now = Date.UTC(2025, 0, 1);
  const policy = resolvePolicy(POLICY);
  const stage = new AlertStage({ clock: () => now, config: () => ({ config, version: 1 }), policy: () => policy });
  const labels = labelsOf(series, 100);
  for (let i = 0; i < series; i++) stage.classify('bench', i + 1, 'latency', labels[i], 'lat', 1);
  // Open every alert first (pending -> firing with for: 0s).
  for (let i = 0; i < series; i++) stage.observe('bench', i + 1, 'latency', labels[i], 'lat', 0.9, now, 50, HOT, 1);
  stage.drain();
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    now += 15_000;
    const t0 = performance.now();
    for (let i = 0; i < series; i++) stage.observe('bench', i + 1, 'latency', labels[i], 'lat', 0.9, now, 50, (i + r) % 10 === 0 ? COLD : HOT, 1);
    stage.tick();
    stage.drain();
    rates.push(series / ((performance.now() - t0) / 1000));
  }
  rates.sort((a, b) => a - b);
  const firing = [...stage.openAlerts().values()].reduce((a, b) => a + b, 0);
  return { verdictsPerS: Math.round(rates[rates.length >> 1]), firing };
}

/**
 * Crossing verdict -> notification leaving, minus group_wait, through the full alerting wiring.
 * First `series` alerts go firing in 100 groups and are notified (the standing load); then, while
 * those keep receiving verdicts (all of them once a second), `probes` new series cross over
 * `spreadMs`, each starting a group of its own (an alert joining a group that already notified
 * waits for group_interval by design, as in Alertmanager), and each one's delay is measured.
 */
export async function latency(series = 10_000, probes = 2_000, groupWaitMs = 1_000, spreadMs = 5_000): Promise<{ p50: number; p99: number; max: number; notified: number; standing: number }> {
  const rx = await startReceiver({ status: 200, body: 'ok' });
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-alert-bench-'));
  const store = await openSqliteStore({ dataDir: dir });
  await store.tenants.create({ id: 'bench', name: 'bench' });
  const config = loadConfigOrThrow(yaml(rx.url, `${groupWaitMs}ms`), 'bench.yaml');
  const crossed = new Map<string, number>();
  const lat: number[] = [];
  let standing = 0;
  const alerting = new Alerting(store, Date.now, () => ({ config, version: 1 }), {
    policy: POLICY,
    onDelivery: (o) => {
      for (const a of o.dispatch.alerts) {
        const c = crossed.get(a.labels.series);
        if (c === undefined) standing++;
        else lat.push(o.sentAt - c - groupWaitMs);
      }
    },
  });
  await alerting.init(['bench']);
  const stage = alerting.stage;
  const labels = labelsOf(series, 100);
  const probe = Array.from({ length: probes }, (_, i) => Object.freeze({ shard: `p${i}`, series: `p${i}` }));
  for (let i = 0; i < series; i++) stage.classify('bench', i + 1, 'latency', labels[i], 'lat', 1);
  for (let i = 0; i < probes; i++) stage.classify('bench', series + i + 1, 'latency', probe[i], 'lat', 1);
  // The standing load: every alert firing and notified.
  for (let i = 0; i < series; i++) stage.observe('bench', i + 1, 'latency', labels[i], 'lat', 0.9, Date.now(), 50, HOT, 1);
  alerting.kick();
  const warm = Date.now() + groupWaitMs + 30_000;
  while (standing < series && Date.now() < warm) await new Promise((r) => setTimeout(r, 20));
  await alerting.settled();
  const ticks = 50;
  const per = Math.ceil(probes / ticks);
  const bg = Math.ceil((series * (spreadMs / ticks)) / 1000); // standing verdicts per tick: each alert once a second
  const start = Date.now();
  let b = 0;
  for (let k = 0; k < ticks; k++) {
    const due = start + (k * spreadMs) / ticks;
    while (Date.now() < due) await new Promise((r) => setTimeout(r, Math.max(1, due - Date.now())));
    for (let j = 0; j < bg; j++, b = (b + 1) % series) stage.observe('bench', b + 1, 'latency', labels[b], 'lat', 0.9, Date.now(), 50, HOT, 1);
    for (let i = k * per; i < Math.min(probes, (k + 1) * per); i++) {
      crossed.set(probe[i].series, Date.now());
      stage.observe('bench', series + i + 1, 'latency', probe[i], 'lat', 0.9, Date.now(), 50, HOT, 1);
    }
    alerting.kick();
  }
  const deadline = Date.now() + groupWaitMs + 30_000;
  while (lat.length < probes && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await alerting.close();
  await store.close();
  await rx.close();
  rmSync(dir, { recursive: true, force: true });
  if (lat.length < probes) throw new Error(`only ${lat.length} of ${probes} crossings were notified`);
  lat.sort((a, c) => a - c);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  return { p50: q(0.5), p99: q(0.99), max: lat[lat.length - 1], notified: lat.length, standing };
}

/**
 * Both figures, as `scripts/bench.ts` prints them: `{name: 'alert.latency', p99_ms}` (crossing
 * verdict -> notification leaving, minus group_wait: the target is <= 1000) and
 * `{name: 'alert.throughput', verdicts_per_s}` (target >= 50,000 per core). Details go to stdout.
 */
export async function runAlertBench(o: { series?: number; groupWaitMs?: number } = {}): Promise<AlertBenchResult[]> {
  const series = o.series ?? 10_000;
  const groupWaitMs = o.groupWaitMs ?? 1_000;
  const tp = throughput(series);
  console.log(`alert.throughput: ${tp.verdictsPerS} verdicts/s on one thread, ${tp.firing} alerts firing`);
  const l = await latency(series, 2_000, groupWaitMs);
  console.log(`alert.latency: ${l.standing} standing alerts firing in 100 groups; ${l.notified} new crossings, group_wait ${groupWaitMs} ms; beyond group_wait p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms, max ${l.max.toFixed(1)} ms (p99 crossing -> leaving ${(l.p99 + groupWaitMs).toFixed(1)} ms)`);
  return [
    { name: 'alert.latency', p99_ms: Math.round(l.p99) },
    { name: 'alert.throughput', verdicts_per_s: tp.verdictsPerS },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await runAlertBench()) console.log(`BENCH ${JSON.stringify(r)}`);
}
