/**
 * `npm run bench`: every benchmark, one after another in this process, each printing its
 * figures and ending with a `BENCH {...}` line. Filter by name: `npm run bench -- detect`.
 */
import { runDetectBench } from '../src/detect/detect.bench.ts';
import { runLocalizeBench } from '../src/explain/localize.bench.ts';
import { runIngestBench } from '../src/api/ingest.bench.ts';
import { runSampleStoreBench } from '../src/store/sample-log.bench.ts';
import { runAlertBench } from '../src/engine/alerting.bench.ts';
import { runPostgresStoreBench } from '../src/store/postgres.bench.ts';
import { runAggregateBench } from '../src/engine/aggregate.bench.ts';
import { runIforestBench } from '../src/ml/iforest.bench.ts';
import { runAlertsListBench } from '../src/api/alerts.bench.ts';
import { runClusterBench } from '../src/cluster/cluster.bench.ts';

type BenchResult = object;

const benches: Record<string, () => Promise<BenchResult | BenchResult[]> | BenchResult | BenchResult[]> = {
  detect: () => runDetectBench(),
  localize: () => runLocalizeBench(),
  ingest: () => runIngestBench(),
  'store-samples': () => runSampleStoreBench(),
  alert: () => runAlertBench(),
  'store-pg': () => runPostgresStoreBench(),
  aggregate: () => runAggregateBench(),
  iforest: () => runIforestBench(),
  'list-10k': () => runAlertsListBench(),
  cluster: () => runClusterBench(),
};

const filter = process.argv.slice(2);
for (const [name, run] of Object.entries(benches)) {
  if (filter.length && !filter.some((f) => name.includes(f))) continue;
  const started = Date.now();
  const out = await run();
  const results = Array.isArray(out) ? out : [out];
  for (const result of results) {
    for (const [k, v] of Object.entries(result)) if (k !== 'name') console.log(`${(result as { name?: unknown }).name}: ${k} = ${typeof v === 'object' && v !== null ? JSON.stringify(v) : v}`);
  }
  console.log(`${name}: took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const result of results) console.log(`BENCH ${JSON.stringify(result)}`);
}
