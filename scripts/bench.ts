/**
 * `npm run bench`: every benchmark, one after another in this process, each printing its
 * figures and ending with a `BENCH {...}` line. Filter by name: `npm run bench -- detect`.
 */
type BenchResult = object;

// Each benchmark's module is imported only when it runs: a run of one benchmark does not load the
// HTTP, database and cluster code of the others. Loading them first moved the detector
// benchmark's figure by 7-10% (fastify, pg, or pg-protocol's parser.js alone, imported before
// it and never called: a code-layout effect, not work; docs/research/detect-throughput.md).
const benches: Record<string, () => Promise<BenchResult | BenchResult[]>> = {
  detect: async () => (await import('../src/detect/detect.bench.ts')).runDetectBench(),
  localize: async () => (await import('../src/explain/localize.bench.ts')).runLocalizeBench(),
  ingest: async () => (await import('../src/api/ingest.bench.ts')).runIngestBench(),
  'store-samples': async () => (await import('../src/store/sample-log.bench.ts')).runSampleStoreBench(),
  alert: async () => (await import('../src/engine/alerting.bench.ts')).runAlertBench(),
  'store-pg': async () => (await import('../src/store/postgres.bench.ts')).runPostgresStoreBench(),
  aggregate: async () => (await import('../src/engine/aggregate.bench.ts')).runAggregateBench(),
  iforest: async () => (await import('../src/ml/iforest.bench.ts')).runIforestBench(),
  'list-10k': async () => (await import('../src/api/alerts.bench.ts')).runAlertsListBench(),
  cluster: async () => (await import('../src/cluster/cluster.bench.ts')).runClusterBench(),
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
