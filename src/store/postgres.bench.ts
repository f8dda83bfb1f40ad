// The PostgreSQL store against the embedded SQLite store, the same operations in the same run:
// interning, sample appends ("scrapes" of one sample per series in batches), 1,000-point range
// reads, rollup reads, a matcher lookup, alert upserts, notification records, checkpoint
// writes and a retention sweep. Ratios are PostgreSQL over SQLite (throughput) or SQLite over
// PostgreSQL (latency), so above 1 means PostgreSQL is faster.
//   npm run bench -- store-pg          (TIDEMARK_BENCH_PG_SERIES, _ROUNDS to resize)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_POSTGRES_URL, dropSchemas, postgresAvailable, uniqueSchema } from './pg-testkit.ts';
import { openPostgresStore } from './postgres.ts';
import { openSqliteStore } from './sqlite.ts';
import type { Store } from './types.ts';

const T0 = 1_700_000_040_000;
const STEP = 15_000;
const BATCH = 2000;

interface Figures {
  internPerS: number;
  appendPerS: number;
  rangeP50Ms: number;
  rangeP99Ms: number;
  rollupP50Ms: number;
  findMs: number;
  alertUpsertP50Ms: number;
  notificationP50Ms: number;
  checkpointsPerS: number;
  sweepMs: number;
}

function p(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))];
}

async function measure(store: Store, series: number, rounds: number): Promise<Figures> {
  await store.tenants.create({ id: 'bench', name: 'Bench' });
  const key = (i: number) => ({ tenant: 'bench', metric: `m${i % 50}`, labels: { host: `h${i % 1000}`, shard: String(Math.floor(i / 1000)) } });
  let t = performance.now();
  const ids = new Float64Array(series);
  for (let lo = 0; lo < series; lo += 1000) {
    const keys = [];
    for (let i = lo; i < Math.min(series, lo + 1000); i++) keys.push(key(i));
    ids.set(await store.series.intern(keys), lo);
  }
  const internPerS = series / ((performance.now() - t) / 1000);

  // A few batches in flight at once, as the ingest path produces them.
  const sid = new Float64Array(BATCH);
  const ts = new Float64Array(BATCH);
  const vs = new Float64Array(BATCH);
  t = performance.now();
  for (let r = 0; r < rounds; r++) {
    const pending: Promise<unknown>[] = [];
    for (let lo = 0; lo < series; lo += BATCH) {
      const n = Math.min(BATCH, series - lo);
      for (let k = 0; k < n; k++) {
        sid[k] = ids[lo + k];
        ts[k] = T0 + r * STEP;
        vs[k] = Math.sin(lo + k + r);
      }
      pending.push(store.samples.append({ seriesId: sid.subarray(0, n), t: ts.subarray(0, n), v: vs.subarray(0, n) }));
      if (pending.length >= 4) await pending.shift();
    }
    await Promise.all(pending);
  }
  const appendPerS = (series * rounds) / ((performance.now() - t) / 1000);

  // 1,000 points of one series for the range reads.
  const one = ids[0];
  await store.samples.append({ seriesId: new Float64Array(1000).fill(one), t: Float64Array.from({ length: 1000 }, (_, i) => T0 - (i + 1) * 1000), v: new Float64Array(1000).fill(1) });
  const range: number[] = [];
  const rollup: number[] = [];
  for (let i = 0; i < 50; i++) {
    t = performance.now();
    const got = await store.samples.range('bench', one, T0 - 1_000_000, T0);
    range.push(performance.now() - t);
    if (got.t.length !== 1000) throw new Error(`range read ${got.t.length} points, expected 1000`);
    t = performance.now();
    await store.samples.rollups('bench', one, T0 - 1_000_000, T0 + rounds * STEP);
    rollup.push(performance.now() - t);
  }
  t = performance.now();
  const found = await store.series.find('bench', [{ name: '__name__', op: '=', value: 'm7' }, { name: 'host', op: '=~', value: 'h1.*' }]);
  const findMs = performance.now() - t;
  if (found.length === 0) throw new Error('the matcher lookup found nothing');

  const upserts: number[] = [];
  const notes: number[] = [];
  for (let i = 0; i < 200; i++) {
    t = performance.now();
    await store.alerts.upsert({ tenant: 'bench', fingerprint: `fp${i % 20}`, metric: 'm1', labels: { host: 'h1' }, state: i < 100 ? 'pending' : 'firing', severity: 'S2', startsAt: T0, at: T0 + i, score: 0.9, reasons: ['spike'] });
    upserts.push(performance.now() - t);
    t = performance.now();
    await store.notifications.record({ tenant: 'bench', fingerprint: `fp${i % 20}`, channel: 'slack', alertState: 'firing', status: 'sent', attempt: 1, at: T0 + i, idempotencyKey: `k${i}` });
    notes.push(performance.now() - t);
  }

  const blob = new Uint8Array(512).fill(7);
  t = performance.now();
  const cps = Math.min(series, 10_000);
  for (let lo = 0; lo < cps; lo += 1000) {
    await store.checkpoints.put(Array.from({ length: Math.min(1000, cps - lo) }, (_, k) => ({ seriesId: ids[lo + k], seq: 1, blob, at: T0 })));
  }
  const checkpointsPerS = cps / ((performance.now() - t) / 1000);

  t = performance.now();
  await store.samples.sweep(T0 + rounds * STEP + 10 * 60_000);
  const sweepMs = performance.now() - t;
  return { internPerS, appendPerS, rangeP50Ms: p(range, 0.5), rangeP99Ms: p(range, 0.99), rollupP50Ms: p(rollup, 0.5), findMs, alertUpsertP50Ms: p(upserts, 0.5), notificationP50Ms: p(notes, 0.5), checkpointsPerS, sweepMs };
}

export async function runPostgresStoreBench(): Promise<object> {
  const series = Number(process.env.TIDEMARK_BENCH_PG_SERIES ?? 20_000);
  const rounds = Number(process.env.TIDEMARK_BENCH_PG_ROUNDS ?? 10);
  if (!(await postgresAvailable('the PostgreSQL store bench'))) return { name: 'store-pg', skipped: 'PostgreSQL unreachable' };
  const retention = { rawMs: 10 * 60_000, rollupMs: 60 * 60_000, lateMs: 60_000 };
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-pgbench-'));
  const schema = uniqueSchema('tm_bench_');
  let lite: Figures;
  let pgf: Figures;
  try {
    const s = await openSqliteStore({ dataDir: dir, retention });
    try {
      lite = await measure(s, series, rounds);
    } finally {
      await s.close();
    }
    const pgs = await openPostgresStore({ url: TEST_POSTGRES_URL, schema, retention });
    try {
      pgf = await measure(pgs, series, rounds);
    } finally {
      await pgs.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await dropSchemas([schema]);
  }
  const r = (x: number) => Math.round(x);
  const f = (x: number) => Number(x.toFixed(3));
  const ratio = (x: number) => Number(x.toFixed(2));
  console.log(`store-pg: ${series} series x ${rounds} rounds, ${BATCH}-sample batches; PostgreSQL (${TEST_POSTGRES_URL}) vs SQLite (file, WAL)`);
  console.log('                      postgres      sqlite   pg/sqlite');
  const rows: [string, number, number, boolean][] = [
    ['intern series/s', pgf.internPerS, lite.internPerS, true],
    ['append samples/s', pgf.appendPerS, lite.appendPerS, true],
    ['range 1k p50 ms', pgf.rangeP50Ms, lite.rangeP50Ms, false],
    ['range 1k p99 ms', pgf.rangeP99Ms, lite.rangeP99Ms, false],
    ['rollups p50 ms', pgf.rollupP50Ms, lite.rollupP50Ms, false],
    ['find ms', pgf.findMs, lite.findMs, false],
    ['alert upsert p50 ms', pgf.alertUpsertP50Ms, lite.alertUpsertP50Ms, false],
    ['notification p50 ms', pgf.notificationP50Ms, lite.notificationP50Ms, false],
    ['checkpoints/s', pgf.checkpointsPerS, lite.checkpointsPerS, true],
    ['sweep ms', pgf.sweepMs, lite.sweepMs, false],
  ];
  for (const [name, a, b, more] of rows) {
    const speed = more ? a / b : b / a;
    console.log(`${name.padEnd(20)} ${a.toFixed(a < 100 ? 3 : 0).padStart(10)} ${b.toFixed(b < 100 ? 3 : 0).padStart(11)}   ${speed.toFixed(2)}x ${more ? '' : '(speed)'}`);
  }
  return {
    name: 'store-pg',
    series,
    rounds,
    pgAppendPerS: r(pgf.appendPerS),
    sqliteAppendPerS: r(lite.appendPerS),
    appendRatio: ratio(pgf.appendPerS / lite.appendPerS),
    pgInternPerS: r(pgf.internPerS),
    sqliteInternPerS: r(lite.internPerS),
    pgRangeP50Ms: f(pgf.rangeP50Ms),
    sqliteRangeP50Ms: f(lite.rangeP50Ms),
    pgRollupP50Ms: f(pgf.rollupP50Ms),
    sqliteRollupP50Ms: f(lite.rollupP50Ms),
    pgFindMs: f(pgf.findMs),
    sqliteFindMs: f(lite.findMs),
    pgAlertUpsertP50Ms: f(pgf.alertUpsertP50Ms),
    sqliteAlertUpsertP50Ms: f(lite.alertUpsertP50Ms),
    pgNotificationP50Ms: f(pgf.notificationP50Ms),
    sqliteNotificationP50Ms: f(lite.notificationP50Ms),
    pgCheckpointsPerS: r(pgf.checkpointsPerS),
    sqliteCheckpointsPerS: r(lite.checkpointsPerS),
    pgSweepMs: r(pgf.sweepMs),
    sqliteSweepMs: r(lite.sweepMs),
  };
}
