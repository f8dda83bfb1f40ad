/**
 * Alert stage throughput, 10,000 firing alerts: verdicts through `AlertStage.observe` per second
 * on one thread (= one core), with 10,000 series whose alerts are all firing (90% of points
 * anomalous, 10% normal inside keep_firing_for), effects drained every round; the median of
 * several rounds. The end-to-end latency (ingest -> notification arriving) is measured by
 * src/engine/alerting.bench.ts, which runs both: `npm run bench -- alert`.
 * Run alone: node --import tsx src/alert/alert.bench.ts
 */
import { loadConfigOrThrow } from '../config/index.ts';
import { resolvePolicy } from './policy.ts';
import { AlertStage } from './stage.ts';
import type { VerdictView } from './types.ts';

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

if (import.meta.url === `file://${process.argv[1]}`) {
  const tp = throughput();
  console.log(`BENCH ${JSON.stringify({ name: 'alert.throughput', verdicts_per_s: tp.verdictsPerS })}`);
}
